"""One interface over the two databases the shared service runs on: a SQLite file and PostgreSQL.

Rules:
- SQL is written once, with `%s` placeholders and three dialect words: `{now}` (the database's clock, epoch
  seconds: every process and machine reads leases against one clock), `{lock}` (row locks for the rest of the
  transaction) and `{skip}` (the same, skipping rows another transaction holds: how workers claim jobs without
  waiting on each other). On SQLite a write transaction is exclusive (`BEGIN IMMEDIATE`), so both words are empty
  there and the same statements are correct, one transaction at a time;
- a transaction is a `with db.transaction() as tx:` block: committed when the block ends, rolled back when it
  raises; PostgreSQL's serialization failures and deadlocks are retried by `db.run(fn)` (a few times, then
  raised), which is how every change is made;
- PostgreSQL through psycopg 3: one synchronous API for the API server (short statements on its loop), the
  worker (a plain process) and the tests; its binary wheel brings libpq, so no system library is needed;
- a URL's password never appears in a message: `redacted(url)` is what logs and errors show.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

Row = tuple[Any, ...]
T = TypeVar("T")
RETRIES = 5
SQLITE_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
POSTGRES_NOW = "extract(epoch from clock_timestamp())::double precision"


class DatabaseError(Exception):
    """The database cannot be opened or used; the message names it (without its password) and what to do."""


class Tx(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def rowcount(self) -> int: ...


class Database(Protocol):
    kind: str  # "sqlite" or "postgresql"
    statements: int  # statements sent so far (the scale-out benchmark's round trips)

    def transaction(self) -> contextlib.AbstractContextManager[Tx]: ...

    def run(self, work: Callable[[Tx], T]) -> T: ...

    def close(self) -> None: ...


def redacted(url: str) -> str:
    """The URL without its password (`postgresql://user:***@host/db`)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class _Dialect:
    def __init__(self, now: str, lock: str, skip: str, *, question_marks: bool) -> None:
        self._words = {"now": now, "lock": lock, "skip": skip}
        self._question_marks = question_marks
        self._cache: dict[str, str] = {}

    def render(self, sql: str) -> str:
        done = self._cache.get(sql)
        if done is None:
            done = sql.format(**self._words)
            if self._question_marks:
                done = done.replace("%s", "?")
            self._cache[sql] = done
        return done


class _SQLiteTx:
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db, self._count = db, 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._db.statements += 1
        cursor = self._db.connection.execute(self._db.dialect.render(sql), tuple(params))
        self._count = cursor.rowcount
        return [tuple(r) for r in cursor.fetchall()]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.statements += 1
        self._db.connection.executemany(self._db.dialect.render(sql), [tuple(r) for r in rows])

    def rowcount(self) -> int:
        return self._count


class SQLiteDatabase:
    """A SQLite file shared by the processes of one machine (WAL, `synchronous=FULL`, writers one at a time)."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path, self.statements = path, 0
        self.dialect = _Dialect(SQLITE_NOW, "", "", question_marks=True)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.connection = sqlite3.connect(path, isolation_level=None, timeout=60.0, check_same_thread=False)
            self.connection.execute("PRAGMA journal_mode = WAL")
            self.connection.execute("PRAGMA synchronous = FULL")
        except (sqlite3.Error, OSError) as exc:
            raise DatabaseError(f"{path}: cannot open as the service's database ({exc})") from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield _SQLiteTx(self)
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def run(self, work: Callable[[Tx], T]) -> T:
        with self.transaction() as tx:
            return work(tx)

    def close(self) -> None:
        self.connection.close()


class _PostgresTx:
    def __init__(self, db: PostgresDatabase, cursor: Any) -> None:
        self._db, self._cursor = db, cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._db.statements += 1
        self._cursor.execute(self._db.dialect.render(sql), tuple(params))
        return [tuple(r) for r in self._cursor.fetchall()] if self._cursor.description is not None else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._db.statements += 1
            self._cursor.executemany(self._db.dialect.render(sql), [tuple(r) for r in rows])

    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


class PostgresDatabase:
    """A PostgreSQL database shared by every API server and worker, on any machine (psycopg 3, autocommit
    connection with explicit transactions, READ COMMITTED plus row locks)."""

    kind = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg  # noqa: PLC0415 - the `cluster` extra is optional; SQLite needs nothing

        self._psycopg, self.url, self.statements = psycopg, url, 0
        self.dialect = _Dialect(POSTGRES_NOW, "FOR UPDATE", "FOR UPDATE SKIP LOCKED", question_marks=False)
        try:
            self.connection = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DatabaseError(f"{redacted(url)}: cannot connect ({_without_password(message, url)})") from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self.connection.transaction(), self.connection.cursor() as cursor:
            yield _PostgresTx(self, cursor)

    def run(self, work: Callable[[Tx], T]) -> T:
        errors = self._psycopg.errors
        for attempt in range(RETRIES):
            try:
                with self.transaction() as tx:
                    return work(tx)
            except (errors.SerializationFailure, errors.DeadlockDetected):
                if attempt == RETRIES - 1:
                    raise
                time.sleep(0.01 * 2**attempt)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


def _without_password(message: str, url: str) -> str:
    password = urlsplit(url).password
    return message.replace(password, "***") if password else message


SQLITE_URL = re.compile(r"^sqlite:(?://)?(?P<path>.+)$")


def open_database(url: str) -> Database:
    """`postgresql://…` (or `postgres://…`) or `sqlite:///path/to/file.sqlite`; DatabaseError naming it otherwise."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url)
    match = SQLITE_URL.match(url)
    if match is not None:
        return SQLiteDatabase(Path(match["path"]))
    raise DatabaseError(
        f"{redacted(url)}: not a database URL; use postgresql://user@host/dbname or sqlite:///path/to/file.sqlite"
    )
