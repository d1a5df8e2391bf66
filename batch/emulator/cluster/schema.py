"""The shared service's tables, versioned: each step applied once, in order, in one transaction with its record.

Rules:
- `schema_migrations` lists the steps applied; `migrate` applies the missing ones inside one transaction that
  first takes the migration lock (PostgreSQL: an advisory lock; SQLite: the write lock), so any number of servers
  and workers starting at once migrate exactly once, and a step cut by a crash is rolled back whole;
- every statement is idempotent (`IF NOT EXISTS`), so a database migrated by hand is accepted too;
- a database migrated by a newer version is refused, never guessed at;
- `{serial}`, `{real}` and `{blob}` are the two databases' words for an identity key, a float and bytes.
"""

from __future__ import annotations

from batch.emulator.cluster.database import Database, DatabaseError, Tx

TYPES = {
    "sqlite": {"serial": "INTEGER PRIMARY KEY", "real": "REAL", "blob": "BLOB", "bigint": "INTEGER"},
    "postgresql": {"serial": "BIGSERIAL PRIMARY KEY", "real": "DOUBLE PRECISION", "blob": "BYTEA", "bigint": "BIGINT"},
}
MIGRATION_LOCK = 7_413_262_001  # the advisory lock id of `migrate` on PostgreSQL

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: the account, conversations and their results, jobs with leases, media, webhooks, workers
        "CREATE TABLE IF NOT EXISTS account (id INTEGER PRIMARY KEY, concurrency_limit INTEGER NOT NULL,"
        " peak_active INTEGER NOT NULL, submitted {bigint} NOT NULL, rejected {bigint} NOT NULL,"
        " signing_key {blob} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS conversations (seq {serial}, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
        " created_at {real} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS conversations_by_name ON conversations (name, seq)",
        "CREATE TABLE IF NOT EXISTS jobs (seq {serial}, id TEXT NOT NULL UNIQUE, conversation_id TEXT NOT NULL,"
        " status TEXT NOT NULL, submitted_at {real} NOT NULL, started_at {real}, ended_at {real},"
        " reported_at {real}, status_requests INTEGER NOT NULL DEFAULT 0, will_fail INTEGER NOT NULL,"
        " media_kind TEXT NOT NULL, media_sha256 TEXT NOT NULL, media_size {bigint} NOT NULL,"
        " media_duration {real} NOT NULL, params {blob} NOT NULL, utterances {blob} NOT NULL,"
        " topics {blob} NOT NULL, message_ids {blob}, failure TEXT, lease_owner TEXT, lease_expires {real},"
        " attempts INTEGER NOT NULL DEFAULT 0, completed_by TEXT)",
        "CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, seq)",
        "CREATE INDEX IF NOT EXISTS jobs_by_conversation ON jobs (conversation_id, seq)",
        "CREATE TABLE IF NOT EXISTS members (seq {serial}, conversation_id TEXT NOT NULL, id TEXT NOT NULL,"
        " name TEXT NOT NULL, email TEXT, UNIQUE (conversation_id, id))",
        "CREATE TABLE IF NOT EXISTS messages (seq {serial}, conversation_id TEXT NOT NULL, id TEXT NOT NULL,"
        ' job_id TEXT NOT NULL, member_id TEXT, text TEXT NOT NULL, start {real} NOT NULL, "end" {real} NOT NULL,'
        " words {blob} NOT NULL, phrases {blob} NOT NULL, polarity {real} NOT NULL, UNIQUE (conversation_id, id))",
        "CREATE TABLE IF NOT EXISTS insights (seq {serial}, conversation_id TEXT NOT NULL, id TEXT NOT NULL,"
        " type TEXT NOT NULL, text TEXT NOT NULL, score {real} NOT NULL, message_ids {blob} NOT NULL,"
        " member_id TEXT, assignee_id TEXT, UNIQUE (conversation_id, id))",
        "CREATE TABLE IF NOT EXISTS topics (seq {serial}, conversation_id TEXT NOT NULL, text TEXT NOT NULL,"
        " id TEXT NOT NULL, UNIQUE (conversation_id, text))",
        "CREATE TABLE IF NOT EXISTS media (sha256 TEXT PRIMARY KEY, size {bigint} NOT NULL,"
        " touched_at {real} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS media_chunks (sha256 TEXT NOT NULL, n INTEGER NOT NULL, data {blob} NOT NULL,"
        " PRIMARY KEY (sha256, n))",
        "CREATE TABLE IF NOT EXISTS outbox (seq {serial}, job_id TEXT NOT NULL, status TEXT NOT NULL,"
        " url TEXT NOT NULL, created_at {real} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS workers (id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,"
        " started_at {real} NOT NULL, seen_at {real} NOT NULL, jobs_done INTEGER NOT NULL DEFAULT 0,"
        " current_job TEXT)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def _applied(tx: Tx) -> int:
    rows = tx.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
    return int(rows[0][0])


def migrate(db: Database) -> int:
    """Bring the database to `SCHEMA_VERSION` (idempotent, safe from many processes at once); return the
    version found. DatabaseError when a newer version of the service migrated it."""
    types = TYPES[db.kind]

    def work(tx: Tx) -> int:
        if db.kind == "postgresql":
            tx.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at {real})".replace(
                "{real}", types["real"]
            )
        )
        found = _applied(tx)
        if found > SCHEMA_VERSION:
            raise DatabaseError(
                f"the database is at schema {found}, newer than this version knows ({SCHEMA_VERSION}); upgrade"
                " symbl-batch on this machine"
            )
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version - 1]:
                tx.execute(_typed(statement, types))
            tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (%s, {now})", (version,))
        return found

    return db.run(work)


def _typed(statement: str, types: dict[str, str]) -> str:
    for word, value in types.items():
        statement = statement.replace("{" + word + "}", value)
    return statement
