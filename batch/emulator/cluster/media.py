"""Uploaded media kept in the shared database, so a worker on any machine can read what any server received.

Why the database and not a shared folder: one thing to run and back up, no network file system to mount on
every machine, and the medium is committed before the job that needs it (so a crash never leaves a job without
its medium). Rules: a medium is stored once per SHA-256, in chunks of `CHUNK` bytes (PostgreSQL never holds one
huge value, and neither side holds more than a chunk beyond the medium itself); each submit that brings it
touches it; `queue.sweep_media` removes it once no unfinished job needs it and nobody touched it for a while.
"""

from __future__ import annotations

from pathlib import Path

from batch.emulator.cluster.database import Database, Tx

CHUNK = 1 << 20


def put(db: Database, sha256: str, data: bytes) -> None:
    """Store the medium (once; a second submit of the same bytes only touches it)."""

    def work(tx: Tx) -> None:
        known = tx.execute("SELECT size FROM media WHERE sha256 = %s", (sha256,))
        if known:
            tx.execute("UPDATE media SET touched_at = {now} WHERE sha256 = %s", (sha256,))
            return
        tx.execute(
            "INSERT INTO media (sha256, size, touched_at) VALUES (%s, %s, {now}) ON CONFLICT (sha256) DO NOTHING",
            (sha256, len(data)),
        )
        if tx.rowcount() == 0:  # another server stored it meanwhile
            return
        tx.executemany(
            "INSERT INTO media_chunks (sha256, n, data) VALUES (%s, %s, %s)",
            [(sha256, n, data[at : at + CHUNK]) for n, at in enumerate(range(0, max(len(data), 1), CHUNK))],
        )

    db.run(work)


def fetch(db: Database, sha256: str, path: Path) -> bool:
    """Write the medium to `path`, chunk by chunk; False when it is not (or no longer) kept."""

    def work(tx: Tx) -> bool:
        known = tx.execute("SELECT size FROM media WHERE sha256 = %s", (sha256,))
        if not known:
            return False
        count = tx.execute("SELECT COUNT(*) FROM media_chunks WHERE sha256 = %s", (sha256,))[0][0]
        with path.open("wb") as out:
            for n in range(int(count)):
                (data,) = tx.execute("SELECT data FROM media_chunks WHERE sha256 = %s AND n = %s", (sha256, n))[0]
                out.write(bytes(data))
        return path.stat().st_size == int(known[0][0])

    return db.run(work)
