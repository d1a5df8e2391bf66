"""The emulated account on disk: one SQLite file under a data directory, so a restarted server remembers.

Layout: `<data_dir>/backend.sqlite` (WAL, `synchronous=FULL`), `<data_dir>/backend.lock` (held while a server
runs), `<data_dir>/media/<sha256>` (mediastore.py). The directory is 0700 and every file 0600: the store holds
the token signing key and everything that was said.

Rules:
- the schema is versioned by `PRAGMA user_version`; `migrate` applies each missing step in its own transaction,
  and every step is idempotent (`IF NOT EXISTS`), so a step interrupted by a crash is simply run again; a store
  written by a newer emulator is refused, never guessed at;
- one server per directory: it holds an exclusive lock for its whole life, and a second gets `StoreLocked`;
- every change is one transaction (`Storage.transaction()`), committed before the answer that reports it;
- times are wall-clock epoch seconds: the backend's clock starts again with each process, the wall clock does not.
Rows are built and read back by rows.py; this module knows SQL, files and locks, not the records.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DB_NAME, LOCK_NAME = "backend.sqlite", "backend.lock"
Row = tuple[Any, ...]

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: the first schema
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)",
        "CREATE TABLE IF NOT EXISTS conversations (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
        " name TEXT NOT NULL, created_at REAL NOT NULL)",
        "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, ord INTEGER NOT NULL, conversation_id TEXT NOT NULL,"
        " status TEXT NOT NULL, submitted_at REAL NOT NULL, scheduled_at REAL NOT NULL, started_at REAL,"
        " ends_at REAL, reported_at REAL, status_requests INTEGER NOT NULL, will_fail INTEGER NOT NULL,"
        " media_kind TEXT NOT NULL, media_sha256 TEXT NOT NULL, media_size INTEGER NOT NULL,"
        " media_duration REAL NOT NULL, params BLOB NOT NULL, utterances BLOB NOT NULL, topics BLOB NOT NULL,"
        " message_ids BLOB NOT NULL, failure TEXT)",
        "CREATE TABLE IF NOT EXISTS members (seq INTEGER PRIMARY KEY, conversation_id TEXT NOT NULL,"
        " id TEXT NOT NULL, name TEXT NOT NULL, email TEXT, UNIQUE (conversation_id, id))",
        "CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, conversation_id TEXT NOT NULL,"
        " id TEXT NOT NULL, job_id TEXT NOT NULL, member_id TEXT, text TEXT NOT NULL, start REAL NOT NULL,"
        ' "end" REAL NOT NULL, words BLOB NOT NULL, phrases BLOB NOT NULL, polarity REAL NOT NULL,'
        " UNIQUE (conversation_id, id))",
        "CREATE TABLE IF NOT EXISTS insights (seq INTEGER PRIMARY KEY, conversation_id TEXT NOT NULL,"
        " id TEXT NOT NULL, type TEXT NOT NULL, text TEXT NOT NULL, score REAL NOT NULL, message_ids BLOB NOT NULL,"
        " member_id TEXT, assignee_id TEXT, UNIQUE (conversation_id, id))",
        "CREATE TABLE IF NOT EXISTS topics (seq INTEGER PRIMARY KEY, conversation_id TEXT NOT NULL,"
        " text TEXT NOT NULL, id TEXT NOT NULL, UNIQUE (conversation_id, text))",
        "CREATE TABLE IF NOT EXISTS tokens (value TEXT PRIMARY KEY, app_id TEXT NOT NULL, expires_at REAL NOT NULL)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
PER_CONVERSATION = ("members", "messages", "insights", "topics")  # ordered by seq: creation order
UPSERT = {
    "conversations": ("id", "name", "created_at"),
    "jobs": (
        *("id", "ord", "conversation_id", "status", "submitted_at", "scheduled_at", "started_at", "ends_at"),
        *("reported_at", "status_requests", "will_fail", "media_kind", "media_sha256", "media_size"),
        *("media_duration", "params", "utterances", "topics", "message_ids", "failure"),
    ),
    "members": ("conversation_id", "id", "name", "email"),
    "messages": (
        *("conversation_id", "id", "job_id", "member_id", "text", "start", "end", "words", "phrases", "polarity"),
    ),
    "insights": ("conversation_id", "id", "type", "text", "score", "message_ids", "member_id", "assignee_id"),
    "topics": ("conversation_id", "text", "id"),
    "tokens": ("value", "app_id", "expires_at"),
    "meta": ("key", "value"),
}
KEYS = {
    "conversations": ("id",),
    "jobs": ("id",),
    "tokens": ("value",),
    "meta": ("key",),
    "topics": ("conversation_id", "text"),
}
KEPT = {"jobs": ("submitted_at",)}  # columns an update never changes: when the job was first submitted


class StorageError(Exception):
    """The data directory cannot be used as it is; the message names it and what to do."""


class StoreLocked(StorageError):
    """Another server is using this data directory."""


@dataclass(slots=True)
class Saved:
    """Everything a store holds, as rows in creation order (column order as in `UPSERT`)."""

    meta: dict[str, bytes] = field(default_factory=dict)
    conversations: list[Row] = field(default_factory=list)
    jobs: list[Row] = field(default_factory=list)  # by submission order
    members: list[Row] = field(default_factory=list)
    messages: list[Row] = field(default_factory=list)
    insights: list[Row] = field(default_factory=list)
    topics: list[Row] = field(default_factory=list)
    tokens: list[Row] = field(default_factory=list)


def _statement(table: str) -> str:
    columns = UPSERT[table]
    keys = KEYS.get(table, ("conversation_id", "id"))
    quoted = ", ".join(f'"{c}"' for c in columns)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in keys and c not in KEPT.get(table, ()))
    marks, conflict = ", ".join("?" * len(columns)), ", ".join(keys)
    insert = f"INSERT INTO {table} ({quoted}) VALUES ({marks})"  # noqa: S608 - names are this module's constants
    return f"{insert} ON CONFLICT ({conflict}) DO UPDATE SET {updates}"


def migrate(db: sqlite3.Connection) -> int:
    """Bring the schema to `SCHEMA_VERSION`; return the version found."""
    found = int(db.execute("PRAGMA user_version").fetchone()[0])
    if found > SCHEMA_VERSION:
        raise StorageError(f"written by a newer emulator (schema {found}; this one knows up to {SCHEMA_VERSION})")
    for version in range(found + 1, SCHEMA_VERSION + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version - 1]:
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return found


def _configure(db: sqlite3.Connection) -> None:
    if db.execute("PRAGMA journal_mode = WAL").fetchone()[0] != "wal":
        raise StorageError("its file system does not support SQLite's WAL mode")
    db.execute("PRAGMA synchronous = FULL")
    migrate(db)


def _private_file(path: Path) -> None:
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    path.chmod(0o600)  # SQLite gives its -wal and -shm files the database file's mode


def _take_lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreLocked(f"{path.parent}: another emulator is using this data directory") from None
    return fd


class Storage:
    """A data directory opened by one server: its lock, its SQLite connection, its media folder."""

    def __init__(self, root: Path, db: sqlite3.Connection, lock_fd: int) -> None:
        self.root, self._db, self._lock_fd = root, db, lock_fd
        self._statements = {table: _statement(table) for table in UPSERT}

    @classmethod
    def open(cls, root: Path) -> Storage:
        try:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            root.chmod(0o700)
        except OSError as exc:
            raise StorageError(f"{root}: cannot use as the emulator's data directory ({exc.strerror})") from None
        lock_fd = _take_lock(root / LOCK_NAME)
        path = root / DB_NAME
        try:
            _private_file(path)
            db = sqlite3.connect(path, isolation_level=None)
            try:
                _configure(db)
            except BaseException:
                db.close()
                raise
        except (sqlite3.Error, OSError, StorageError) as exc:
            os.close(lock_fd)
            raise StorageError(f"{path}: not a usable emulator store ({exc}); move it away to start afresh") from None
        return cls(root, db, lock_fd)

    def close(self) -> None:
        self._db.close()
        os.close(self._lock_fd)

    @property
    def media_dir(self) -> Path:
        return self.root / "media"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic, durable change (`synchronous=FULL`: on disk when this block ends)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def put(self, table: str, rows: Iterable[Row]) -> None:
        """Insert or update rows (column order as in `UPSERT[table]`); updates keep a row's creation order."""
        self._db.executemany(self._statements[table], rows)

    def update_refs(
        self, table: str, conversation_id: str, column: str, changes: Sequence[tuple[str | None, str]]
    ) -> None:
        """Set `column` (a member reference) of the given (value, id) pairs of one conversation's rows."""
        statement = f"UPDATE {table} SET {column} = ? WHERE conversation_id = ? AND id = ?"  # noqa: S608 - names are this module's constants
        self._db.executemany(statement, [(value, conversation_id, row_id) for value, row_id in changes])

    def keep_only_members(self, conversation_id: str, member_ids: Sequence[str]) -> None:
        """Delete the conversation's members that are not listed (a merge removed them)."""
        kept = set(member_ids)
        rows = self._db.execute("SELECT id FROM members WHERE conversation_id = ?", (conversation_id,)).fetchall()
        gone = [(conversation_id, member_id) for (member_id,) in rows if member_id not in kept]
        self._db.executemany("DELETE FROM members WHERE conversation_id = ? AND id = ?", gone)

    def delete_conversation(self, conversation_id: str) -> None:
        """The conversation and what it produced; its jobs stay (a deleted conversation's job still ends)."""
        for table in PER_CONVERSATION:
            self._db.execute(f"DELETE FROM {table} WHERE conversation_id = ?", (conversation_id,))  # noqa: S608 - names are this module's constants
        self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def clear(self, *, keep_meta: Sequence[str]) -> None:
        """Forget every record (the control plane's reset); meta entries listed in `keep_meta` stay."""
        for table in ("conversations", "jobs", "tokens", *PER_CONVERSATION):
            self._db.execute(f"DELETE FROM {table}")  # noqa: S608 - names are this module's constants
        marks = ", ".join("?" * len(keep_meta))
        self._db.execute(f"DELETE FROM meta WHERE key NOT IN ({marks})", tuple(keep_meta))  # noqa: S608 - names are this module's constants

    def load(self) -> Saved:
        saved = Saved(meta={key: bytes(value) for key, value in self._db.execute("SELECT key, value FROM meta")})
        order = {"jobs": "ord", "tokens": "value"}
        for table in ("conversations", "jobs", "tokens", *PER_CONVERSATION):
            columns = ", ".join(f'"{c}"' for c in UPSERT[table])
            query = f"SELECT {columns} FROM {table} ORDER BY {order.get(table, 'seq')}"  # noqa: S608 - names are this module's constants
            rows = self._db.execute(query).fetchall()
            setattr(saved, table, rows)
        return saved
