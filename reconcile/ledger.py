"""Reconciliation's durable records, in the run's state file (its own tables, its own connection):

- `reconcile_ops`: every operation of a plan, written before it is sent, with its status
  (pending -> sent -> done), so a crash between PUTs never applies anything twice;
- `reconciled`: conversations automatic mode has finished (with how many segments), so re-runs skip them;
- `identities`: the identity directory — per confirmed person, a voice profile (the mean embedding, never
  audio) and how many samples built it. `forget(email)` deletes a person from it.
The caller holds the run lock (batch.Store) while it writes here.
Rule: the state holds voice profiles, so a state file first created here is created owner-only (0600; SQLite
gives its -wal and -shm files the database file's mode).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import numpy as np

from reconcile.errors import LedgerError
from reconcile.models import Operation

SCHEMA = """
CREATE TABLE IF NOT EXISTS reconcile_ops (
    conversation_id TEXT NOT NULL, member_id TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
    email TEXT NOT NULL, survivor_id TEXT NOT NULL, status TEXT NOT NULL, updated_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, member_id, kind));
CREATE TABLE IF NOT EXISTS reconciled (
    conversation_id TEXT NOT NULL, segments INTEGER NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (conversation_id, segments));
CREATE TABLE IF NOT EXISTS identities (
    email TEXT PRIMARY KEY, name TEXT NOT NULL, profile TEXT NOT NULL, samples INTEGER NOT NULL,
    updated_at REAL NOT NULL);
"""


class Ledger:
    def __init__(self, state: Path) -> None:
        try:
            os.close(os.open(state, os.O_RDWR | os.O_CREAT, 0o600))  # an existing file keeps its mode
            self._db = sqlite3.connect(state, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a done operation must survive a power loss
            self._db.executescript(SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(reconcile_ops)")}
            if "attempts" not in columns:  # a state file written before attempts were counted
                self._db.execute("ALTER TABLE reconcile_ops ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"{state}: cannot open the reconciliation ledger in the state file ({exc})") from None

    def close(self) -> None:
        self._db.close()

    def status(self, op: Operation) -> str | None:
        row = self._db.execute(
            "SELECT status FROM reconcile_ops WHERE conversation_id=? AND member_id=? AND kind=?",
            (op.conversation_id, op.member_id, op.kind),
        ).fetchone()
        return str(row[0]) if row else None

    def mark(self, op: Operation, status: str) -> None:
        """Record the operation's status; each `sent` counts one attempt (see `attempts`)."""
        sent = int(status == "sent")
        self._db.execute(
            "INSERT INTO reconcile_ops VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (conversation_id, member_id, kind) "
            "DO UPDATE SET status=excluded.status, updated_at=excluded.updated_at, "
            "attempts=reconcile_ops.attempts + excluded.attempts",
            (op.conversation_id, op.member_id, op.kind, op.name, op.email, op.survivor_id, status, time.time(), sent),
        )

    def attempts(self, op: Operation) -> int:
        """How many times this operation was sent."""
        row = self._db.execute(
            "SELECT attempts FROM reconcile_ops WHERE conversation_id=? AND member_id=? AND kind=?",
            (op.conversation_id, op.member_id, op.kind),
        ).fetchone()
        return int(row[0]) if row else 0

    def reconciled(self, conversation_id: str, segments: int) -> bool:
        """True once automatic mode finished this conversation with this many segments."""
        return (
            self._db.execute(
                "SELECT 1 FROM reconciled WHERE conversation_id=? AND segments=?", (conversation_id, segments)
            ).fetchone()
            is not None
        )

    def mark_reconciled(self, conversation_id: str, segments: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO reconciled VALUES (?,?,?)", (conversation_id, segments, time.time()))

    def profiles(self) -> dict[str, list[float]]:
        return {
            email: json.loads(profile) for email, profile in self._db.execute("SELECT email, profile FROM identities")
        }

    def learn(self, email: str, name: str, vector: np.ndarray) -> None:
        """Fold one confirmed sample into the person's profile (a running mean of unit vectors)."""
        row = self._db.execute("SELECT profile, samples FROM identities WHERE email=?", (email,)).fetchone()
        samples = int(row[1]) if row else 0
        mean = (np.asarray(json.loads(row[0])) * samples + vector) / (samples + 1) if row else vector
        self._db.execute(
            "INSERT OR REPLACE INTO identities VALUES (?,?,?,?,?)",
            (email, name, json.dumps([round(float(x), 6) for x in mean]), samples + 1, time.time()),
        )

    def forget(self, email: str) -> bool:
        """Delete a person's voice profile; True when there was one."""
        return self._db.execute("DELETE FROM identities WHERE email=?", (email.lower(),)).rowcount > 0

    def people(self) -> list[tuple[str, str, int]]:
        return [(e, n, s) for e, n, s in self._db.execute("SELECT email, name, samples FROM identities ORDER BY email")]
