"""Reconciliation's durable records, in the run's state file (its own tables, its own connection):

- `reconcile_ops`: every operation of a plan, written before it is sent, with its status
  (pending -> sent -> done), so a crash between PUTs never applies anything twice;
- `reconciled`: conversations automatic mode has finished (with how many segments), so re-runs skip them;
- `voice_samples`: the identity directory — per person, one embedding (never audio) of each member decided or
  answered as them, with the conversation it came from. A conversation is planned against the samples of the
  others only, so its own decisions never vote in it again. `forget(email)` deletes a person from it. (Rows of
  the older `identities` table, one mean per person, are still read, as samples of no conversation.)
- `answers`: the review answers given, per member, so "new" and "skip" are not asked again.
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
from typing import Any

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
CREATE TABLE IF NOT EXISTS voice_samples (
    person TEXT NOT NULL, name TEXT NOT NULL, conversation_id TEXT NOT NULL, member_id TEXT NOT NULL,
    source TEXT NOT NULL, vector TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (person, conversation_id, member_id));
CREATE TABLE IF NOT EXISTS answers (
    conversation_id TEXT NOT NULL, member_id TEXT NOT NULL, identity TEXT NOT NULL, name TEXT, email TEXT,
    at REAL NOT NULL, PRIMARY KEY (conversation_id, member_id));
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

    def reconciled_at(self, conversation_id: str, segments: int) -> float | None:
        """When automatic mode finished this conversation with this many segments (None: not yet)."""
        row = self._db.execute(
            "SELECT at FROM reconciled WHERE conversation_id=? AND segments=?", (conversation_id, segments)
        ).fetchone()
        return float(row[0]) if row else None

    def profiles(self, *, excluding: str | None = None, before: float | None = None) -> dict[str, list[list[float]]]:
        """Person key -> the voice samples on file, leaving out those taken from conversation `excluding` and
        those learned at or after `before` (so a conversation is planned again on what it was planned on)."""
        found: dict[str, list[list[float]]] = {}
        for email, profile in self._db.execute("SELECT email, profile FROM identities"):
            found.setdefault(email, []).append(json.loads(profile))
        rows = self._db.execute(
            "SELECT person, vector FROM voice_samples WHERE conversation_id != ? AND at < ? ORDER BY person, at",
            (excluding or "", before if before is not None else float("inf")),
        )
        for person, vector in rows:
            found.setdefault(person, []).append(json.loads(vector))
        return found

    def learn(
        self, person: str, name: str, vector: np.ndarray, *, conversation_id: str, member_id: str, source: str
    ) -> None:
        """Keep one decided member's voice as a sample of `person` (replacing an earlier one of that member)."""
        self._db.execute(
            "INSERT OR REPLACE INTO voice_samples VALUES (?,?,?,?,?,?,?)",
            (
                person,
                name,
                conversation_id,
                member_id,
                source,
                json.dumps([round(float(x), 6) for x in vector]),
                time.time(),
            ),
        )

    def remember(
        self, conversation_id: str, member_id: str, identity: str, name: str | None, email: str | None
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO answers VALUES (?,?,?,?,?,?)",
            (conversation_id, member_id, identity, name, email, time.time()),
        )

    def answers(self, conversation_id: str) -> dict[str, tuple[str, str | None, str | None]]:
        """Member id -> (identity, name, email) of the answers given for this conversation."""
        rows = self._db.execute(
            "SELECT member_id, identity, name, email FROM answers WHERE conversation_id=? AND identity != 'asked'",
            (conversation_id,),
        )
        return {m: (i, n, e) for m, i, n, e in rows}

    def ask(self, conversation_id: str, member_id: str, voice: str, reason: str) -> None:
        """Record that this member was put to review as part of `voice` (kept until it is answered)."""
        self._db.execute(
            "INSERT OR IGNORE INTO answers VALUES (?,?,?,?,?,?)",
            (conversation_id, member_id, "asked", voice, reason, time.time()),
        )

    def asked(self, conversation_id: str) -> dict[str, tuple[str, str]]:
        """Member id -> (voice key, reason) of the questions still open in this conversation."""
        rows = self._db.execute(
            "SELECT member_id, name, email FROM answers WHERE conversation_id=? AND identity = 'asked'",
            (conversation_id,),
        )
        return {m: (str(v), str(r)) for m, v, r in rows}

    def forget(self, email: str) -> bool:
        """Delete a person's voice samples; True when there were any."""
        key = email.lower()
        old = self._db.execute("DELETE FROM identities WHERE email=?", (key,)).rowcount
        return old + self._db.execute("DELETE FROM voice_samples WHERE person=?", (key,)).rowcount > 0

    def people(self) -> list[tuple[str, str, int]]:
        """(person, name, samples) of everyone in the identity directory."""
        counts: dict[str, list[Any]] = {}
        for email, name, samples in self._db.execute("SELECT email, name, samples FROM identities"):
            counts[email] = [name, int(samples)]
        for person, name, samples in self._db.execute(
            "SELECT person, MAX(name), COUNT(*) FROM voice_samples GROUP BY person"
        ):
            entry = counts.setdefault(person, [name, 0])
            entry[1] += int(samples)
        return [(p, str(n), int(c)) for p, (n, c) in sorted(counts.items())]
