"""Durable run state in SQLite (WAL, `synchronous=FULL`: a commit survives a power loss): every transition is
committed before it is acted on.

Invariants:
- one row per manifest segment, keyed "<conversation>/<segment>"; its `status` moves only through
  `lifecycle.TRANSITIONS` (checked here, the one place that writes it);
- a `submitting` row is written and committed before its request is sent (the intent);
- a run holds an exclusive `flock` on `<state>.lock` for its whole life; a second run gets `LockedError`;
- the file and its lock are created owner-only (0600); secrets are never written here.
The interface (`Store`) is small on purpose so a PostgreSQL backend can implement it later.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from batch.errors import LockedError, StateError, StateWriteError
from batch.lifecycle import FINAL_FOR_RUN, ConversationState, Row, Status, check

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (
    key TEXT PRIMARY KEY, conversation TEXT NOT NULL, idx INTEGER NOT NULL, fingerprint TEXT NOT NULL,
    status TEXT NOT NULL, conversation_id TEXT, job_id TEXT, evidence TEXT, message_ids TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, error TEXT, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL,
    detail TEXT);
CREATE TRIGGER IF NOT EXISTS history_insert AFTER INSERT ON segments BEGIN
    INSERT INTO history (at, key, status, detail) VALUES (NEW.updated_at, NEW.key, NEW.status, NEW.error); END;
CREATE TRIGGER IF NOT EXISTS history_update_v2 AFTER UPDATE ON segments BEGIN
    INSERT INTO history (at, key, status, detail) VALUES (NEW.updated_at, NEW.key, NEW.status,
        CASE WHEN NEW.error IS OLD.error THEN NULL ELSE NEW.error END); END;
DROP TRIGGER IF EXISTS history_update;
CREATE INDEX IF NOT EXISTS segments_by_conversation ON segments (conversation, idx);
"""  # the triggers keep the history in the same statement: one write per transition, atomic on its own


class StateStore(Protocol):
    """What the engine needs from durable state; `Store` (SQLite) implements it, a shared backend could too."""

    def rows(self) -> Mapping[str, Row]: ...
    def row(self, key: str) -> Row: ...
    def conversations(self) -> Iterator[ConversationState]: ...
    def rows_in(self, statuses: Collection[Status]) -> Iterator[Row]: ...
    def insert(self, key: str, conversation: str, idx: int, fingerprint: str) -> None: ...
    def replace(self, key: str, conversation: str, idx: int, fingerprint: str) -> None: ...
    def move(self, key: str, new: Status, **fields: Any) -> Row: ...
    def changes(self) -> set[str]: ...
    def pending_changes(self) -> frozenset[str]: ...
    def batched(self) -> contextlib.AbstractContextManager[None]: ...
    def cached_hash(self, path: str, size: int, mtime_ns: int) -> str | None: ...
    def remember_hash(self, path: str, size: int, mtime_ns: int, sha256: str) -> None: ...
    def write_meta(self, key: str, value: Any) -> None: ...
    def read_meta(self, key: str) -> Any: ...
    def measured_speed(self) -> float | None: ...


class Store:
    """SQLite implementation of `StateStore`, with the run lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_handle: Any = None
        self._db: sqlite3.Connection | None = None
        self._live: dict[str, Row] = {}  # rows being worked on (LIVE statuses): read often, few at a time
        self._changed: set[str] = set()
        self._depth = 0  # > 0 inside `batched()`: one transaction for many writes
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file this run opened

    def open_readonly(self) -> Store:
        """For `status` and `--dry-run`: no lock, no writes; a missing file is a StateError."""
        if not self.path.is_file():
            raise StateError(
                f"{self.path}: no state file here; give the state of a run (default <output>/state.sqlite)"
            )
        try:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
            self._check_version(readonly=True)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StateError(f"{self.path}: not a usable state file ({exc})") from None
        except BaseException:
            self.close()
            raise
        return self

    def open(self) -> Store:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            self._check_version()
            found = os.stat(self.path)
            self._identity = (found.st_dev, found.st_ino)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise StateError(f"{self.path}: not a usable state file ({exc}); move it away to start afresh") from None
        except BaseException:
            self.close()
            raise
        return self

    def _lock(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        handle = open(lock_path, "a+")  # noqa: SIM115 - held open for the life of the run
        os.chmod(lock_path, 0o600)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise LockedError(f"{self.path}: another run holds the lock ({lock_path}); wait for it to finish") from None
        self._lock_handle = handle

    def _check_version(self, *, readonly: bool = False) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None and readonly:
            raise StateError(f"{self.path}: not a symbl-batch state file (no schema version)")
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif not row[0].isdigit() or int(row[0]) > SCHEMA_VERSION:
            raise StateError(
                f"{self.path}: written by a newer symbl-batch (schema {row[0]}, this one reads {SCHEMA_VERSION}); "
                "upgrade symbl-batch or use another --state"
            )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    def __enter__(self) -> Store:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StateError("the state store is not open")
        return self._db

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        """One write statement; an SQLite failure (disk full, I/O error) is a `StateWriteError`: the run stops."""
        try:
            self.db.execute(sql, args)
        except sqlite3.Error as exc:
            raise StateWriteError(
                f"{self.path}: cannot write the state ({exc}); the run stops here, consistent; "
                "free some space (or fix the file) and run the same command again"
            ) from None

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        if self._depth:
            yield self.db
            return
        self._write("BEGIN IMMEDIATE")
        try:
            yield self.db
            self._write("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # a failed COMMIT may have rolled back already
                self.db.execute("ROLLBACK")
            self._live.clear()  # it may hold rolled-back rows: they are read again from the file
            raise

    @contextlib.contextmanager
    def batched(self) -> Iterator[None]:
        """Many writes in one transaction (e.g. inserting a 100,000-row manifest): committed together or not at
        all. Only for writes that need not be durable one by one (never around a submission's intent)."""
        with self._tx():
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1

    def changes(self) -> set[str]:
        """Keys written since the last call (the runner re-plans only their conversations)."""
        changed, self._changed = self._changed, set()
        return changed

    def pending_changes(self) -> frozenset[str]:
        """The keys `changes()` would give now, without taking them."""
        return frozenset(self._changed)

    # --- rows: read from the file when asked (this process holds the lock, so nobody else writes them); the
    # rows being worked on are kept in memory, the others (pending, saved, failed ...) are not: a big run's
    # memory does not grow with the manifest or with what is done -------------------------------------------
    def _select(self, where: str = "", args: tuple[Any, ...] = ()) -> Iterator[Row]:
        columns = "key, conversation, idx, fingerprint, status, conversation_id, job_id, evidence, message_ids"
        query = f"SELECT {columns}, attempts, error FROM segments {where}"  # noqa: S608 - `where` is a literal here
        cursor = self.db.execute(query, args)
        return (_row(self.path, r) for r in cursor)

    def _read(self, key: str) -> Row | None:
        """One row as `rows()` shows it (saved ones `settled`), kept in memory while it is worked on."""
        found = self._live.get(key)
        if found is not None:
            return found
        for row in self._select("WHERE key=?", (key,)):
            return self._kept(row)
        return None

    def _kept(self, row: Row) -> Row:
        if row.status in LIVE:
            self._live[row.key] = row
            return row
        self._live.pop(row.key, None)
        return row.compact() if row.status is Status.SAVED else row

    def _pages(self) -> Iterator[Row]:
        """Every row in the order they were inserted, read PAGE at a time (a write between two pages is fine)."""
        after = 0
        columns = "rowid, key, conversation, idx, fingerprint, status, conversation_id, job_id, evidence"
        query = f"SELECT {columns}, message_ids, attempts, error FROM segments WHERE rowid > ? ORDER BY rowid LIMIT ?"  # noqa: S608 - literals
        while True:
            page = self.db.execute(query, (after, PAGE)).fetchall()
            for found in page:
                after = found[0]
                row = _row(self.path, found[1:])
                yield self._live.get(row.key) or (row.compact() if row.status is Status.SAVED else row)
            if len(page) < PAGE:
                return

    def _fresh(self, key: str) -> None:
        """A row inserted or replaced (before a run, which looks at every row first: not one of `changes()`)."""
        self._live.pop(key, None)

    def rows_in(self, statuses: Collection[Status]) -> Iterator[Row]:
        """The rows in these statuses (e.g. those a new run adopts), as `rows()` shows them; read all at once, so
        for few rows only."""
        marks = ",".join("?" * len(statuses))
        found = list(self._select(f"WHERE status IN ({marks}) ORDER BY rowid", tuple(s.value for s in statuses)))
        return (self._kept(row) for row in found)

    def rows(self) -> Mapping[str, Row]:
        """Every segment's row, as a read-only live view of the state file (a lookup reads one row; iterating
        reads them a page at a time). Saved rows are `settled` (their message count, not their ids or evidence);
        `row(key)` reads one whole."""
        return RowView(self)

    def conversations(self) -> Iterator[ConversationState]:
        """Each conversation of the state, in the order of its id: its first segment's conversation id, how many
        of its segments are saved and how many it has. Read a page at a time."""
        after = ""
        while True:
            page = self.db.execute(
                "SELECT conversation, MAX(CASE WHEN idx = 0 THEN conversation_id END), "
                "SUM(status = 'saved'), COUNT(*) FROM segments WHERE conversation > ? "
                "GROUP BY conversation ORDER BY conversation LIMIT ?",
                (after, PAGE),
            ).fetchall()
            for conversation, conversation_id, saved, total in page:
                after = conversation
                yield ConversationState(conversation, conversation_id, saved, total)
            if len(page) < PAGE:
                return

    def insert(self, key: str, conversation: str, idx: int, fingerprint: str) -> None:
        self._write(
            "INSERT INTO segments (key, conversation, idx, fingerprint, status, updated_at) VALUES (?,?,?,?,?,?)",
            (key, conversation, idx, fingerprint, Status.PENDING.value, time.time()),
        )
        self._fresh(key)

    def replace(self, key: str, conversation: str, idx: int, fingerprint: str) -> None:
        """A changed segment (content or parameters): start it afresh as pending, keeping the old row in history."""
        self._write(
            "UPDATE segments SET fingerprint=?, status=?, conversation_id=NULL, job_id=NULL, evidence=NULL, "
            "message_ids=NULL, attempts=0, error=?, updated_at=? WHERE key=?",
            (fingerprint, Status.PENDING.value, "changed: resubmitted", time.time(), key),
        )
        self._fresh(key)

    def move(self, key: str, new: Status, **fields: Any) -> Row:
        """Apply one transition (checked against the table) and commit it, with the given column values: one
        UPDATE statement, atomic and committed by itself (or with its batch, inside `batched()`). A move that
        gives no `error` keeps the last reason, so a segment left unfinished still says why."""
        allowed = {"conversation_id", "job_id", "evidence", "message_ids", "error", "attempts"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unknown state fields {sorted(unknown)}")
        values = {k: json.dumps(v) if k in ("evidence", "message_ids") else v for k, v in fields.items()}
        current = self._read(key)
        if current is None:
            raise StateError(f"no state row for segment {key}")
        check(current.status, new)
        if new is Status.SUBMITTING:
            self._check_identity()
        sets = "".join(f", {k}=?" for k in values)
        self._write(
            f"UPDATE segments SET status=?, updated_at=?{sets} WHERE key=?",  # noqa: S608 - column names come from the allow-list above
            (new.value, time.time(), *values.values(), key),
        )
        row = dataclasses.replace(self.row(key) if current.settled else current, status=new, **fields)
        self._kept(row)
        self._changed.add(key)
        return row

    def row(self, key: str) -> Row:
        """One segment's whole row (a settled one read back from the state file)."""
        row = self._read(key)
        if row is None:
            raise KeyError(key)
        if not row.settled:
            return row
        (whole,) = self._select("WHERE key=?", (key,))
        return whole

    def _check_identity(self) -> None:
        """Before an intent: the state file is still the one this run opened. Were it deleted (say, with the
        output folder) or replaced, a later run could not know what was sent: stop before sending more."""
        if self._identity is None:
            return
        try:
            found = os.stat(self.path)
        except OSError:
            found = None
        if found is None or (found.st_dev, found.st_ino) != self._identity:
            raise StateWriteError(
                f"{self.path}: the state file was removed or replaced while the run was going; nothing more is "
                "sent (a run without it would submit everything again); restore it, or start afresh on purpose"
            )

    # --- run facts for `status` (never secrets) --------------------------------------------------------
    def write_meta(self, key: str, value: Any) -> None:
        with self._tx():
            self._write("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def read_meta(self, key: str) -> Any:
        found = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        try:
            return json.loads(found[0]) if found else None
        except (TypeError, ValueError):
            raise StateError(
                f"{self.path}: the run's {key} (meta key '{key}') is not JSON; "
                "run the manifest again to rewrite it, or move the state file away to start afresh"
            ) from None

    def measured_speed(self) -> float | None:
        """The processing speed an earlier run measured (seconds per media second), if it is a usable number
        (a damaged record is no measurement: the run rewrites it)."""
        try:
            progress = self.read_meta("progress")
        except StateError:
            return None
        speed = progress.get("speed") if isinstance(progress, dict) else None
        if isinstance(speed, int | float) and not isinstance(speed, bool) and 0 < speed < 1e6:
            return float(speed)
        return None

    # --- file fingerprints ----------------------------------------------------------------------------
    def cached_hash(self, path: str, size: int, mtime_ns: int) -> str | None:
        found = self.db.execute("SELECT size, mtime_ns, sha256 FROM files WHERE path=?", (path,)).fetchone()
        return found[2] if found and (found[0], found[1]) == (size, mtime_ns) else None

    def remember_hash(self, path: str, size: int, mtime_ns: int, sha256: str) -> None:
        with self._tx():
            self._write("INSERT OR REPLACE INTO files VALUES (?,?,?,?)", (path, size, mtime_ns, sha256))


PAGE = 2000  # rows read from the file per query when iterating
LIVE = frozenset(Status) - {Status.PENDING} - FINAL_FOR_RUN  # rows kept in memory: those being worked on


class RowView(Mapping[str, Row]):
    """`Store.rows()`: the state file's rows as a read-only mapping, read when asked."""

    __slots__ = ("_store",)

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getitem__(self, key: str) -> Row:
        found = self._store._read(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._store._read(key) is not None

    def __iter__(self) -> Iterator[str]:
        return (row.key for row in self._store._pages())

    def __len__(self) -> int:
        (count,) = self._store.db.execute("SELECT COUNT(*) FROM segments").fetchone()
        return int(count)

    def values(self) -> Iterator[Row]:  # type: ignore[override]  # a stream, not a view: read once
        return self._store._pages()

    def items(self) -> Iterator[tuple[str, Row]]:  # type: ignore[override]
        return ((row.key, row) for row in self._store._pages())


ROW_COLUMNS: tuple[tuple[str, type | tuple[type, ...], str], ...] = (  # name, type, that type in words; as selected
    ("key", str, "text"),
    ("conversation", str, "text"),
    ("idx", int, "an integer"),
    ("fingerprint", str, "text"),
    ("status", str, "text"),
    ("conversation_id", (str, type(None)), "text or NULL"),
    ("job_id", (str, type(None)), "text or NULL"),
    ("evidence", (str, type(None)), "a JSON object or NULL"),
    ("message_ids", (str, type(None)), "a JSON list of ids or NULL"),
    ("attempts", int, "an integer"),
    ("error", (str, type(None)), "text or NULL"),
)


def _row(path: Path, r: tuple[Any, ...]) -> Row:
    """One `segments` row as a Row. A value that a hand edit or a corruption left unreadable is a StateError
    naming the state file, the row's key and the column (never a ValueError from deep inside a run)."""

    def unreadable(column: str, value: Any, wanted: str) -> StateError:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        return StateError(
            f"{path}: row {r[0]!r}, column {column}: {shown} is not {wanted}; "
            "fix the row or move the state file away to start afresh"
        )

    for (column, kind, wanted), value in zip(ROW_COLUMNS, r, strict=True):
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise unreadable(column, value, wanted)
    if r[4] not in {status.value for status in Status}:
        raise unreadable("status", r[4], f"a known status ({', '.join(Status)})")
    evidence, message_ids = _json_column(r[7], {}), _json_column(r[8], [])
    if not isinstance(evidence, dict):
        raise unreadable("evidence", r[7], "a JSON object")
    if not isinstance(message_ids, list) or not all(isinstance(m, str) for m in message_ids):
        raise unreadable("message_ids", r[8], "a JSON list of ids")
    return Row(r[0], r[1], r[2], r[3], Status(r[4]), r[5], r[6], evidence, message_ids, r[9], r[10])


def _json_column(text: str | None, empty: Any) -> Any:
    """The column's JSON value (`empty` for NULL or ''), or None when it is not JSON (a caller refuses None)."""
    if not text:
        return empty
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError; so is an over-long number
        return None
