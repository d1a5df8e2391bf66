"""The job queue in the shared database: claims with leases, heartbeats, results written exactly once.

Rules (each one statement or one transaction):
- a worker claims the oldest job that is `scheduled`, or `in_progress` with an expired lease (its worker died or
  was cut off), and whose conversation has no earlier unfinished job (appends run in order, whichever worker
  takes them); rows other workers are claiming are skipped (`FOR UPDATE SKIP LOCKED`), never waited on;
- the claim sets the lease (`lease_owner`, `lease_expires` on the database's clock) and counts the attempt; a job
  already attempted `max_attempts` times is failed instead (a medium that kills every worker must not kill them
  all, forever);
- the worker renews its lease while it works (`renew`); when renewal finds the lease gone it stops caring: its
  results will be refused;
- results are written in the transaction that completes the job, and only if the job is still `in_progress`
  under this worker's lease (`finish`): however many workers touched a job, one set of members and messages;
- every transition queues its webhook in `outbox`, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from batch.emulator import production
from batch.emulator.cluster import records
from batch.emulator.cluster.database import Database, Tx
from batch.emulator.models import Job
from speech.models import Transcript

CLAIM = (
    "SELECT j.id, j.attempts FROM jobs j"
    " WHERE (j.status = 'scheduled' OR (j.status = 'in_progress' AND j.lease_expires < {now}))"
    " AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.conversation_id = j.conversation_id AND p.seq < j.seq"
    " AND p.status IN ('scheduled', 'in_progress')) ORDER BY j.seq LIMIT 1 {skip}"
)


@dataclass(frozen=True, slots=True)
class Claimed:
    job: Job
    attempt: int  # 1 for the first worker to take it


def _outbox(tx: Tx, job: Job, status: str) -> None:
    if job.params.webhook_url is not None:
        tx.execute(
            "INSERT INTO outbox (job_id, status, url, created_at) VALUES (%s, %s, %s, {now})",
            (job.id, status, job.params.webhook_url),
        )


def claim(db: Database, owner: str, *, lease_seconds: float, max_attempts: int) -> Claimed | None:
    """The next job for `owner`, leased to it; None when none is ready."""

    def work(tx: Tx) -> Claimed | None:
        while True:
            found = tx.execute(CLAIM)
            if not found:
                return None
            job = records.load_job(tx, found[0][0])
            assert job is not None
            attempts = int(found[0][1])
            if attempts >= max_attempts:
                reason = f"the job was abandoned by {attempts} workers in turn (each stopped while processing it)"
                _end(tx, job, "failed", failure=reason)
                continue
            (started,) = tx.execute(
                "UPDATE jobs SET status = 'in_progress', lease_owner = %s, lease_expires = {now} + %s,"
                " started_at = {now}, attempts = attempts + 1 WHERE id = %s RETURNING started_at",
                (owner, lease_seconds, job.id),
            )[0]
            if attempts == 0:
                _outbox(tx, job, "in_progress")
            tx.execute("UPDATE workers SET current_job = %s, seen_at = {now} WHERE id = %s", (job.id, owner))
            job.started_at = float(started)
            return Claimed(job, attempts + 1)

    return db.run(work)


def renew(db: Database, job_id: str, owner: str, *, lease_seconds: float) -> bool:
    """Extend `owner`'s lease on the job; False when the lease is no longer its own."""

    def work(tx: Tx) -> bool:
        tx.execute(
            "UPDATE jobs SET lease_expires = {now} + %s WHERE id = %s AND lease_owner = %s AND status = 'in_progress'",
            (lease_seconds, job_id, owner),
        )
        held = tx.rowcount() == 1
        tx.execute("UPDATE workers SET seen_at = {now} WHERE id = %s", (owner,))
        return held

    return db.run(work)


def _end(tx: Tx, job: Job, status: str, *, failure: str | None = None, owner: str | None = None) -> None:
    tx.execute(
        "UPDATE jobs SET status = %s, ended_at = {now}, failure = %s, message_ids = %s, completed_by = %s,"
        " lease_owner = NULL, lease_expires = NULL WHERE id = %s",
        (status, failure, orjson.dumps(job.message_ids), owner, job.id),
    )
    _outbox(tx, job, status)


def finish(
    db: Database, claimed: Claimed, owner: str, *, heard: Transcript | None, error: str | None, seed: int
) -> bool:
    """Complete (or fail, with `error`) the claimed job with its results, if `owner` still holds its lease;
    False when it does not (another worker took the job over): nothing is written then."""
    job = claimed.job

    def work(tx: Tx) -> bool:
        held = tx.execute("SELECT status, lease_owner FROM jobs WHERE id = %s {lock}", (job.id,))
        if not held or tuple(held[0]) != ("in_progress", owner):
            return False
        job.message_ids = []
        if error is not None:
            _end(tx, job, "failed", failure=error, owner=owner)
        else:
            conv = records.load_conversation(tx, job.conversation_id, lock=True)
            if conv is not None:  # a deleted conversation's job still completes, producing nothing
                members, topics = set(conv.members), set(conv.topics)
                assert job.started_at is not None
                if heard is None:
                    production.produce(conv, job, start_wall=job.started_at, seed=seed)
                else:
                    production.produce_recognised(conv, job, heard, start_wall=job.started_at)
                records.put_produced(tx, conv, job, members, topics)
            _end(tx, job, "completed", owner=owner)
        tx.execute(
            "UPDATE workers SET jobs_done = jobs_done + 1, current_job = NULL, seen_at = {now} WHERE id = %s",
            (owner,),
        )
        return True

    return db.run(work)


def release(db: Database, job_id: str, owner: str) -> None:
    """Give a claimed job back at once (the worker is stopping): scheduled again, for the next worker."""
    db.run(
        lambda tx: tx.execute(
            "UPDATE jobs SET status = 'scheduled', lease_owner = NULL, lease_expires = NULL,"
            " attempts = attempts - 1 WHERE id = %s AND lease_owner = %s AND status = 'in_progress'",
            (job_id, owner),
        )
    )


def sweep_media(db: Database, *, grace_seconds: float) -> int:
    """Delete media no unfinished job needs, untouched for `grace_seconds` (a submit may be about to need one)."""

    def work(tx: Tx) -> int:
        gone = tx.execute(
            "SELECT sha256 FROM media m WHERE m.touched_at < {now} - %s AND NOT EXISTS (SELECT 1 FROM jobs j"
            " WHERE j.media_sha256 = m.sha256 AND j.status IN ('scheduled', 'in_progress'))",
            (grace_seconds,),
        )
        for (digest,) in gone:
            tx.execute("DELETE FROM media_chunks WHERE sha256 = %s", (digest,))
            tx.execute("DELETE FROM media WHERE sha256 = %s", (digest,))
        return len(gone)

    return db.run(work)
