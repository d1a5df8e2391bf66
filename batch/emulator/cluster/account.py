"""The API servers' backend when the account lives in a shared database (`serve --database URL`).

Every operation is one transaction on the database; nothing is remembered between requests, so any number of
servers on any number of machines answer alike, and one that restarts has lost nothing. Rules:
- the account's concurrency limit is one row (`account`): a submit locks it, counts the unfinished jobs of the
  whole account and refuses with 429 at the limit; the peak is recorded in the same row, so it is measured
  across all servers, never per process;
- jobs are not advanced here: speech workers (worker.py) claim them from the queue (queue.py) and write their
  results; this backend reads what the database holds now;
- access tokens are signed with the account's key, kept in the database: a token from one server is good on all;
- statements run on the server's event loop (short, indexed; the upload is stored in a worker thread).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import orjson

from batch.emulator import members, production, rows, tokens
from batch.emulator.backend import Backend, Settings, Transition
from batch.emulator.clock import Clock
from batch.emulator.cluster import media as kept_media
from batch.emulator.cluster import records
from batch.emulator.cluster.database import Database, Tx, open_database
from batch.emulator.cluster.schema import migrate
from batch.emulator.corpus import Utterance
from batch.emulator.errors import CONVERSATION_MISSING, NotFound, TooManyJobs, Unauthorized
from batch.emulator.media import MediaInfo
from batch.emulator.models import Conversation, Job, JobStatus
from batch.emulator.params import AsyncParams

ACCOUNT = 1


class SharedBackend(Backend):
    __slots__ = ("_revoked", "db", "url")

    def __init__(self, settings: Settings, clock: Clock, wall_epoch: float, *, db: Database, url: str) -> None:
        super().__init__(settings, clock, wall_epoch)
        self.db, self.url = db, url
        self._revoked: set[str] = set()

    def _seed(self) -> int:
        return secrets.randbits(64)  # ids must never agree between servers, whatever the seed

    def open_account(self) -> None:
        """Create the account row on first use; take its signing key; set its limit to this server's."""

        def work(tx: Tx) -> bytes:
            found = tx.execute("SELECT signing_key FROM account WHERE id = %s {lock}", (ACCOUNT,))
            if not found:
                tx.execute(
                    "INSERT INTO account (id, concurrency_limit, peak_active, submitted, rejected, signing_key)"
                    " VALUES (%s, %s, 0, 0, 0, %s)",
                    (ACCOUNT, self.settings.concurrency_limit, secrets.token_bytes(32)),
                )
                found = tx.execute("SELECT signing_key FROM account WHERE id = %s", (ACCOUNT,))
            tx.execute(
                "UPDATE account SET concurrency_limit = %s WHERE id = %s", (self.settings.concurrency_limit, ACCOUNT)
            )
            return bytes(found[0][0])

        self._signing_key = self.db.run(work)

    def close(self) -> None:
        self.db.close()

    def hears_media(self) -> bool:
        return self.settings.mode == "real"

    # --- tokens: signed with the account's key, so valid on every server ---------------------------------
    def authenticate(self, value: str | None) -> None:
        expires = tokens.verify(self._signing_key, self.settings.app_id, value or "")
        if expires is None or expires <= self.wall(self.clock.now()) or value in self._revoked:
            raise Unauthorized()

    def expire_tokens(self) -> None:
        """The token_expiry fault: the tokens this server issued stop working here."""
        self._revoked.update(self.tokens)
        super().expire_tokens()

    # --- submissions ----------------------------------------------------------------------------------
    def keep_media(self, data: bytes, sha256: str) -> Path | None:
        """Store the upload in the database (media.py), from a worker thread with its own connection."""
        db = open_database(self.url)
        try:
            kept_media.put(db, sha256, data)
        finally:
            db.close()
        return None

    def submit(
        self,
        *,
        media: MediaInfo,
        utterances: tuple[Utterance, ...],
        topics: tuple[str, ...],
        params: AsyncParams,
        conversation_id: str | None = None,
        will_fail: bool = False,
        media_path: Path | None = None,
    ) -> dict[str, str]:
        fails = will_fail or (media.kind == "unknown" and not self.hears_media())
        script = orjson.dumps([(u.speaker, u.start, u.end, u.text) for u in utterances])
        new_conversation, job_id = production.numeric_id(self.rng), production.uuid_id(self.rng)

        def work(tx: Tx) -> tuple[str, int] | int:
            (limit, peak) = tx.execute(
                "SELECT concurrency_limit, peak_active FROM account WHERE id = %s {lock}", (ACCOUNT,)
            )[0]
            if conversation_id is not None and not tx.execute(
                "SELECT 1 FROM conversations WHERE id = %s", (conversation_id,)
            ):
                raise NotFound(CONVERSATION_MISSING)
            active = int(tx.execute("SELECT COUNT(*) FROM jobs WHERE status IN ('scheduled', 'in_progress')")[0][0])
            if active >= limit:
                tx.execute("UPDATE account SET rejected = rejected + 1 WHERE id = %s", (ACCOUNT,))
                return int(limit)
            target = conversation_id
            if target is None:
                target = new_conversation
                tx.execute(
                    "INSERT INTO conversations (id, name, created_at) VALUES (%s, %s, {now})",
                    (target, params.name or target),
                )
            tx.execute(
                "INSERT INTO jobs (id, conversation_id, status, submitted_at, will_fail, media_kind, media_sha256,"
                " media_size, media_duration, params, utterances, topics) VALUES"
                " (%s, %s, 'scheduled', {now}, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    *(job_id, target, int(fails), media.kind, media.sha256, media.size, media.duration),
                    *(rows.params_out(params), script, orjson.dumps(list(topics))),
                ),
            )
            tx.execute("UPDATE media SET touched_at = {now} WHERE sha256 = %s", (media.sha256,))
            tx.execute(
                "UPDATE account SET submitted = submitted + 1, peak_active = %s WHERE id = %s",
                (max(int(peak), active + 1), ACCOUNT),
            )
            if params.webhook_url is not None:
                tx.execute(
                    "INSERT INTO outbox (job_id, status, url, created_at) VALUES (%s, 'scheduled', %s, {now})",
                    (job_id, params.webhook_url),
                )
            return target, active + 1

        done = self.db.run(work)
        if isinstance(done, int):
            self.stats["rejected_429"] += 1
            raise TooManyJobs(done)
        target, active = done
        self.stats["jobs_submitted"] += 1
        self.stats["appends" if conversation_id is not None else "conversations_created"] += 1
        self.stats["peak_concurrent_jobs"] = max(self.stats["peak_concurrent_jobs"], active)
        return {"conversationId": target, "jobId": job_id}

    def active_jobs(self) -> int:
        query = "SELECT COUNT(*) FROM jobs WHERE status IN ('scheduled', 'in_progress')"
        return int(self.db.run(lambda tx: tx.execute(query))[0][0])

    def advance(self) -> list[Transition]:
        return []  # the workers move jobs; the database is always current

    def get_job(self, job_id: str) -> dict[str, str]:
        found = self.db.run(
            lambda tx: tx.execute(
                "UPDATE jobs SET status_requests = status_requests + 1, reported_at = CASE WHEN reported_at IS NULL"
                " AND status IN ('completed', 'failed') THEN {now} ELSE reported_at END WHERE id = %s"
                " RETURNING id, status",
                (job_id,),
            )
        )
        if not found:
            raise NotFound(f"Job with id {job_id} was not found.")
        return {"id": found[0][0], "status": JobStatus(found[0][1]).value}

    # --- conversations ---------------------------------------------------------------------------------
    def conversation(self, conversation_id: str) -> Conversation:
        conv = self.db.run(lambda tx: records.load_conversation(tx, conversation_id))
        if conv is None:
            raise NotFound(CONVERSATION_MISSING)
        return conv

    def list_conversations(self, *, limit: int, offset: int, descending: bool, name: str | None) -> list[Conversation]:
        order = "DESC" if descending else "ASC"
        where, args = ("WHERE name = %s ", (name,)) if name is not None else ("", ())

        def work(tx: Tx) -> list[Conversation]:
            ids = tx.execute(
                f"SELECT id FROM conversations {where}ORDER BY seq {order} LIMIT %s OFFSET %s",  # noqa: S608 - constants
                (*args, limit, offset),
            )
            found = (records.load_conversation(tx, cid) for (cid,) in ids)
            return [c for c in found if c is not None]

        return self.db.run(work)

    def delete_conversation(self, conversation_id: str) -> None:
        def work(tx: Tx) -> None:
            if not tx.execute("SELECT 1 FROM conversations WHERE id = %s {lock}", (conversation_id,)):
                raise NotFound(CONVERSATION_MISSING)
            for table in ("members", "messages", "insights", "topics"):
                tx.execute(f"DELETE FROM {table} WHERE conversation_id = %s", (conversation_id,))  # noqa: S608
            tx.execute("DELETE FROM conversations WHERE id = %s", (conversation_id,))

        self.db.run(work)

    def put_member(self, conversation_id: str, member_id: str, body: Any) -> str:
        """Rename, or merge into the member that already has the body's email (§13 #11), in one transaction with
        the conversation locked (two servers merging at once take turns)."""
        name, email = members.parse_body(member_id, body)

        def work(tx: Tx) -> bool:
            conv = records.load_conversation(tx, conversation_id, lock=True)
            if conv is None:
                raise NotFound(CONVERSATION_MISSING)
            if member_id not in conv.members:
                raise NotFound(f"Member with id: {member_id} for conversationId: {conversation_id} was not found.")
            survivor = next(
                (
                    m
                    for m in conv.members.values()
                    if m.id != member_id and m.email is not None and email is not None and m.email.strip() == email
                ),
                None,
            )
            key = (conversation_id,)
            if survivor is None:
                tx.execute(
                    "UPDATE members SET name = %s, email = COALESCE(%s, email) WHERE conversation_id = %s AND id = %s",
                    (name, email, *key, member_id),
                )
                return False
            moves = (
                ("messages", "member_id"),
                ("insights", "member_id"),
                ("insights", "assignee_id"),
            )
            for table, column in moves:
                tx.execute(
                    f"UPDATE {table} SET {column} = %s WHERE conversation_id = %s AND {column} = %s",  # noqa: S608
                    (survivor.id, *key, member_id),
                )
            tx.execute("UPDATE members SET name = %s WHERE conversation_id = %s AND id = %s", (name, *key, survivor.id))
            tx.execute("DELETE FROM members WHERE conversation_id = %s AND id = %s", (*key, member_id))
            return True

        merged = self.db.run(work)
        self.stats["member_updates"] += 1
        self.stats["merges"] += int(merged)
        return members.updated(conversation_id, member_id)

    def reset(self) -> None:
        """The control plane's reset: every conversation, job, medium and webhook of the account forgotten."""

        def work(tx: Tx) -> None:
            for table in ("conversations", "jobs", "members", "messages", "insights", "topics", "outbox"):
                tx.execute(f"DELETE FROM {table}")  # noqa: S608 - constants
            tx.execute("DELETE FROM media_chunks")
            tx.execute("DELETE FROM media")
            tx.execute("UPDATE account SET peak_active = 0, submitted = 0, rejected = 0 WHERE id = %s", (ACCOUNT,))

        self.db.run(work)
        self.tokens.clear()
        self.stats.clear()

    # --- the control plane's views, from the database ----------------------------------------------------
    def counters(self) -> dict[str, int]:
        """This server's counters, and the account's from the database (`account_*`: all servers together)."""
        row = self.db.run(
            lambda tx: tx.execute("SELECT peak_active, submitted, rejected FROM account WHERE id = %s", (ACCOUNT,))
        )[0]
        account = {"account_peak_active": int(row[0]), "account_submitted": int(row[1])}
        return dict(self.stats) | account | {"account_rejected": int(row[2]), "active_jobs": self.active_jobs()}

    def records(self) -> tuple[list[Conversation], dict[str, Job]]:
        def work(tx: Tx) -> tuple[list[Conversation], dict[str, Job]]:
            every = [records.job_from(r) for r in tx.execute(f"SELECT {records.JOB_COLUMNS} FROM jobs ORDER BY seq")]  # noqa: S608
            ids = [cid for (cid,) in tx.execute("SELECT id FROM conversations ORDER BY seq")]
            convs = [c for c in (records.load_conversation(tx, cid) for cid in ids) if c is not None]
            return convs, {j.id: j for j in every}

        return self.db.run(work)

    def take_webhooks(self, limit: int = 100) -> list[Transition]:
        """Queued webhooks, taken (each by one server, once), in the order their transitions happened."""
        taken = self.db.run(
            lambda tx: tx.execute(
                "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT %s {skip})"
                " RETURNING seq, job_id, status, url",
                (limit,),
            )
        )
        return [Transition(job_id, JobStatus(status), url) for _, job_id, status, url in sorted(taken)]


def open_shared(settings: Settings, clock: Clock, wall_epoch: float, url: str) -> SharedBackend:
    """A backend on the database at `url`, migrated and with its account row (DatabaseError if unusable)."""
    db = open_database(url)
    try:
        migrate(db)
        backend = SharedBackend(settings, clock, wall_epoch, db=db, url=url)
        backend.open_account()
    except BaseException:
        db.close()
        raise
    return backend
