"""A JSONL manifest's conversations kept in a private temporary SQLite file instead of in memory, so that a
nightly export of a million rows costs the same memory as one of ten.

Rules:
- `Spill` is written once, while the manifest is read: each segment as it is built, then each conversation
  once it is checked as a whole; `conversations()` then gives a read-only sequence of them;
- a conversation is built again when it is asked for (by position, by id, or a page at a time when iterated);
  the few most recently asked for are kept;
- equal parameter tables are stored once and shared again when read;
- `SpilledList` keeps any list of plain tuples the same way (the run report's facts, one per segment);
- the file is SQLite's own private temporary database: nobody else can open it, and it is deleted when the
  manifest is no longer used (or the process ends).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, overload

import orjson

from batch.models import Conversation, Segment

SCHEMA = """
CREATE TABLE params (id INTEGER PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE segments (n INTEGER NOT NULL, j INTEGER NOT NULL, record BLOB NOT NULL, PRIMARY KEY (n, j))
    WITHOUT ROWID;
CREATE TABLE conversations (n INTEGER PRIMARY KEY, id TEXT NOT NULL, name TEXT NOT NULL, participants BLOB);
"""
LIST_SCHEMA = "CREATE TABLE items (n INTEGER PRIMARY KEY, item BLOB NOT NULL);"
PAGE = 2000  # conversations built (or list items read) per query when iterating
KEPT = 256  # conversations kept once built (the planner asks for the same few again and again)


class Spill:
    """The writer: segments and conversations go in as they are read; `conversations()` ends the writing."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)  # "": private, temporary
        self._db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
        self._db.execute("BEGIN")
        self._params: dict[int, int] = {}  # id() of a shared parameter table -> its row
        self._tables: list[dict[str, Any]] = []  # keeps those tables alive (so their id() stays theirs)

    def segment(self, n: int, segment: Segment) -> None:
        """Conversation `n`'s segment (its position is `segment.index`)."""
        table = self._params.get(id(segment.params))
        if table is None:
            table = self._params[id(segment.params)] = len(self._tables)
            self._tables.append(segment.params)
            self._db.execute("INSERT INTO params VALUES (?, ?)", (table, orjson.dumps(segment.params)))
        record = (segment.key, segment.kind, segment.path, segment.url, table, segment.line, segment.size,
                  segment.duration)  # fmt: skip
        self._db.execute("INSERT INTO segments VALUES (?, ?, ?)", (n, segment.index, orjson.dumps(record)))

    def segments(self, n: int, conversation: str) -> list[Segment]:
        """Conversation `n`'s segments as written so far, in order (for checking it as a whole)."""
        return _segments(self._db, n, conversation, self._tables)

    def conversation(self, n: int, conversation_id: str, name: str, participants: tuple[str, ...]) -> None:
        self._db.execute(
            "INSERT INTO conversations VALUES (?, ?, ?, ?)", (n, conversation_id, name, orjson.dumps(participants))
        )

    def conversations(self) -> Conversations:
        self._db.execute("COMMIT")
        self._db.execute("CREATE UNIQUE INDEX conversations_by_id ON conversations (id)")
        return Conversations(self._db, self._tables)

    def close(self) -> None:
        self._db.close()


def _segments(db: sqlite3.Connection, n: int, conversation: str, tables: list[dict[str, Any]]) -> list[Segment]:
    found = db.execute("SELECT j, record FROM segments WHERE n = ? ORDER BY j", (n,)).fetchall()
    return [_segment(conversation, j, orjson.loads(record), tables) for j, record in found]


def _segment(conversation: str, j: int, record: list[Any], tables: list[dict[str, Any]]) -> Segment:
    key, kind, path, url, table, line, size, duration = record
    return Segment(key, conversation, j, kind, path, url, tables[table], line, size, duration)


class Conversations(Sequence[Conversation]):
    """The spilled conversations, in manifest order, read when asked for."""

    def __init__(self, db: sqlite3.Connection, tables: list[dict[str, Any]]) -> None:
        self._db, self._tables = db, tables
        self._lock = threading.Lock()  # one connection: a display's thread may read while the run does
        (self._count,) = db.execute("SELECT COUNT(*) FROM conversations").fetchone()
        self.positions: Mapping[str, int] = _Index(self)  # conversation id -> its position
        self._kept: dict[int, Conversation] = {}
        self._positions: dict[str, int | None] = {}

    def __len__(self) -> int:
        return int(self._count)

    @overload
    def __getitem__(self, position: int) -> Conversation: ...
    @overload
    def __getitem__(self, position: slice) -> Sequence[Conversation]: ...
    def __getitem__(self, position: int | slice) -> Conversation | Sequence[Conversation]:
        if isinstance(position, slice):
            return [self._at(n) for n in range(*position.indices(len(self)))]
        return self._at(range(len(self))[position])

    def _at(self, n: int) -> Conversation:
        found = self._kept.get(n)
        if found is not None:
            return found
        with self._lock:
            conversation_id, name, participants = self._db.execute(
                "SELECT id, name, participants FROM conversations WHERE n = ?", (n,)
            ).fetchone()
            segments = _segments(self._db, n, conversation_id, self._tables)
        found = Conversation(conversation_id, name, tuple(orjson.loads(participants)), tuple(segments))
        if len(self._kept) >= KEPT:
            del self._kept[next(iter(self._kept))]  # the oldest (dicts keep insertion order)
        self._kept[n] = found
        return found

    def __iter__(self) -> Iterator[Conversation]:
        for start in range(0, len(self), PAGE):
            with self._lock:
                heads = self._db.execute(
                    "SELECT n, id, name, participants FROM conversations WHERE n >= ? AND n < ? ORDER BY n",
                    (start, start + PAGE),
                ).fetchall()
                records = self._db.execute(
                    "SELECT n, j, record FROM segments WHERE n >= ? AND n < ? ORDER BY n, j", (start, start + PAGE)
                ).fetchall()
            by_conversation: dict[int, list[Segment]] = {}
            names = {n: conversation_id for n, conversation_id, _, _ in heads}
            for n, j, record in records:
                by_conversation.setdefault(n, []).append(_segment(names[n], j, orjson.loads(record), self._tables))
            for n, conversation_id, name, participants in heads:
                segments = tuple(by_conversation.get(n, ()))
                yield Conversation(conversation_id, name, tuple(orjson.loads(participants)), segments)

    def position(self, conversation_id: str) -> int | None:
        """Where the conversation is (the last KEPT answers are kept: a run asks about the same few often)."""
        if conversation_id in self._positions:
            return self._positions[conversation_id]
        with self._lock:
            found = self._db.execute("SELECT n FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        position = None if found is None else int(found[0])
        if len(self._positions) >= KEPT:
            del self._positions[next(iter(self._positions))]  # the oldest
        self._positions[conversation_id] = position
        return position

    def ids(self) -> Iterator[str]:
        for start in range(0, len(self), PAGE):
            with self._lock:
                page = self._db.execute(
                    "SELECT id FROM conversations WHERE n >= ? AND n < ? ORDER BY n", (start, start + PAGE)
                ).fetchall()
            yield from (conversation_id for (conversation_id,) in page)


class _Index(Mapping[str, int]):
    """Conversation id -> position, looked up in the file."""

    __slots__ = ("_conversations",)

    def __init__(self, conversations: Conversations) -> None:
        self._conversations = conversations

    def __getitem__(self, conversation_id: str) -> int:
        found = self._conversations.position(conversation_id)
        if found is None:
            raise KeyError(conversation_id)
        return found

    def __iter__(self) -> Iterator[str]:
        return self._conversations.ids()

    def __len__(self) -> int:
        return len(self._conversations)


class SpilledList(Sequence[tuple[Any, ...]]):
    """A list of tuples of plain values (text, numbers, None), appended to and then read, kept in a private
    temporary SQLite file (the report's facts of a million segments are not a million tuples in memory)."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + LIST_SCHEMA)
        self._lock = threading.Lock()
        self._count, self._writing = 0, False

    def append(self, item: tuple[Any, ...]) -> None:
        with self._lock:
            if not self._writing:
                self._db.execute("BEGIN")
                self._writing = True
            self._db.execute("INSERT INTO items VALUES (?, ?)", (self._count, orjson.dumps(item)))
            self._count += 1

    def _read(self, query: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._writing:
                self._db.execute("COMMIT")
                self._writing = False
            return [tuple(orjson.loads(item)) for (item,) in self._db.execute(query, args)]

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, position: int) -> tuple[Any, ...]: ...
    @overload
    def __getitem__(self, position: slice) -> Sequence[tuple[Any, ...]]: ...
    def __getitem__(self, position: int | slice) -> tuple[Any, ...] | Sequence[tuple[Any, ...]]:
        if isinstance(position, slice):
            return [self[n] for n in range(*position.indices(len(self)))]
        (found,) = self._read("SELECT item FROM items WHERE n = ?", (range(len(self))[position],))
        return found

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for start in range(0, len(self), PAGE):
            yield from self._read("SELECT item FROM items WHERE n >= ? AND n < ? ORDER BY n", (start, start + PAGE))
