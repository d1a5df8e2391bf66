"""Reading a JSONL manifest row by row, so that a nightly export of a million rows is never one big table.

A line is one of
    {"api": {...}}   {"defaults": {...}}   {"person": {"name": ..., "email": ..., "enrolment": ...}}
    {"conversation": "standup", "name"?: ..., "participants"?: [...], "file" | "url": ..., params...}
A segment line belongs to its `conversation`, which may have lines anywhere in the file: its segments are in
the order of its lines, and the conversation is placed where its first line is.

Rules:
- two passes, each a stream of lines (`decode.jsonl_objects`): first the header lines (api, defaults, people:
  few, validated together), then each segment line validated alone, as a one-segment conversation, and built
  at once into its compact record (`assemble.Segments`); nothing of a row but its record is kept;
- a conversation's own problems (its id, name, participants) are reported once, on the line that gives them;
- as for TOML, problems of the schema (types, keys, ranges) are reported alone; the checks of files, the roster
  and parts are reported when the schema is met;
- the file must not change between the passes (size and modification time): one still being written is refused.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from batch import decode
from batch.assemble import Problems, Segments, api_config, conversation, explain, person, roster_problems
from batch.decode import Where
from batch.errors import InputError
from batch.models import Manifest, Segment
from batch.schema import ConversationIn, HeaderIn, ReconcileIn
from batch.spill import Spill

HEADER_KEYS = frozenset({"api", "defaults"})
CONVERSATION_KEYS = frozenset({"conversation", "name", "participants"})


class _Open:
    """A conversation whose lines are being read."""

    __slots__ = ("count", "id", "index", "line", "name", "participants", "parts", "reported")

    def __init__(self, index: int, conv_id: Any, line: int) -> None:
        self.index, self.id, self.line = index, conv_id, line
        self.name: str | None = None
        self.participants: list[str] = []
        self.parts: list[int | None] | None = None  # only once a line gives a part
        self.count = 0  # lines read, valid or not: a line's position is its segment index
        self.reported: set[tuple[Where, str]] | None = None

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)


class _Opened:
    """Conversation key -> its `_Open`, the most recent `KEPT` in memory and the others in a private temporary
    SQLite file: a million one-row conversations are not a million objects. Pickled there by this process, for
    this process only. A key never seen before (most of them) is known by a Bloom filter, without a lookup."""

    KEPT = 4096
    BLOOM_BITS = 1 << 23  # 1 MiB: about 3 % false positives (a needless lookup) at a million conversations

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None)  # "": private, temporary, deleted when closed
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;"
            "CREATE TABLE opened (n INTEGER PRIMARY KEY, state BLOB NOT NULL);"
            "CREATE TABLE keys (key TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;"
        )
        self._kept: dict[str, _Open] = {}
        self._count = 0
        self._bloom = bytearray(self.BLOOM_BITS // 8)

    def __len__(self) -> int:
        return self._count

    def _bits(self, key: str) -> tuple[int, ...]:
        h = hash(key)
        return tuple((h >> shift) % self.BLOOM_BITS for shift in (0, 21, 42))

    def get(self, key: str) -> _Open | None:
        found = self._kept.pop(key, None)
        if found is None:
            if not all(self._bloom[bit >> 3] & (1 << (bit & 7)) for bit in self._bits(key)):
                return None  # certainly never seen
            row = self._db.execute(
                "SELECT state FROM opened WHERE n = (SELECT n FROM keys WHERE key = ?)", (key,)
            ).fetchone()
            if row is None:
                return None
            found = pickle.loads(row[0])  # noqa: S301 - written just now by this process
        self._keep(key, found)
        return found

    def add(self, key: str, line: int, conv_id: Any) -> _Open:
        found = _Open(self._count, conv_id, line)
        self._count += 1
        for bit in self._bits(key):
            self._bloom[bit >> 3] |= 1 << (bit & 7)
        self._db.execute("INSERT INTO keys VALUES (?, ?)", (key, found.index))
        self._keep(key, found)
        return found

    def _keep(self, key: str, found: _Open) -> None:
        self._kept[key] = found
        if len(self._kept) > self.KEPT:
            oldest = next(iter(self._kept))
            self._put(self._kept.pop(oldest))

    def _put(self, found: _Open) -> None:
        self._db.execute("INSERT OR REPLACE INTO opened VALUES (?, ?)", (found.index, pickle.dumps(found)))

    def in_order(self) -> Iterator[_Open]:
        """Every conversation, in the order of its first line (read a page at a time)."""
        for found in self._kept.values():
            self._put(found)
        self._kept.clear()
        after = -1
        while page := self._db.execute(
            "SELECT n, state FROM opened WHERE n > ? ORDER BY n LIMIT 2000", (after,)
        ).fetchall():
            for n, state in page:
                after = n
                yield pickle.loads(state)  # noqa: S301 - written by this process

    def close(self) -> None:
        self._db.close()


def load(path: Path, environ: dict[str, str]) -> Manifest:
    before = _version(path)
    raw, lines = _header(path)
    problems = Problems(path, lambda where: _line(lines, where))
    try:
        header: HeaderIn | None = HeaderIn.model_validate(raw)
    except ValidationError as exc:
        problems.add_invalid(exc)
        header = None
    del raw
    root = path.parent
    schema = Problems(path, problems.locate)  # the rows' schema problems, reported alone when there are any
    checks = Problems(path, problems.locate)
    if header is None:  # the rows' schema problems are still worth reporting; nothing can be built
        opened = _rows(path, schema, None, None)
        opened.close()
        if not opened:
            schema.add(("conversations",), "needs at least one conversation")
        problems.items += schema.items
        problems.raise_any()
        raise AssertionError("unreachable")
    api = api_config(root, header.api, checks, environ)
    people = tuple(person(root, i, p, checks) for i, p in enumerate(header.people))
    roster = roster_problems(people, checks)
    spill = Spill()
    try:
        opened = _rows(path, schema, Segments(root, header.defaults, api, checks, by_row=True), spill)
        try:
            if before != _version(path):
                raise InputError(f"{path}: changed while it was being read; run again once it is complete")
            if not opened:
                schema.add(("conversations",), "needs at least one conversation")
            problems.items += schema.items or checks.items
            problems.raise_any()
            for o in opened.in_order():
                _closed(o, roster, problems, spill)
        finally:
            opened.close()
        problems.raise_any()
    except BaseException:
        spill.close()
        raise
    return Manifest(path, api, people, spill.conversations(), ReconcileIn().model_dump())


def _version(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_size, found.st_mtime_ns


def _header(path: Path) -> tuple[dict[str, Any], dict[Where, int]]:
    raw: dict[str, Any] = {"people": []}
    lines: dict[Where, int] = {}
    for number, item in decode.jsonl_objects(path):
        if not _is_header(item):
            continue
        if "person" in item:
            lines[("people", len(raw["people"]))] = number
            raw["people"].append(item["person"])
            continue
        for key in item:
            if key in raw:  # a second one would silently replace the first
                raise InputError(
                    f"{path}, line {number}: a second {key!r} object (the first is on line "
                    f"{lines[(key,)]}); give {key} once"
                )
            raw[key], lines[(key,)] = item[key], number
    return raw, lines


def _is_header(item: dict[str, Any]) -> bool:
    """An api and/or defaults line, or a person line (anything else is a segment row)."""
    return (bool(item) and set(item) <= HEADER_KEYS) or set(item) == {"person"}


def _line(lines: dict[Where, int], where: Where) -> int | None:
    """The line of the longest known prefix of a header position."""
    for length in range(len(where), 0, -1):
        if where[:length] in lines:
            return lines[where[:length]]
    return None


def _rows(path: Path, schema: Problems, segments: Segments | None, spill: Spill | None) -> _Opened:
    """Pass 2: every segment line, validated alone and (with `segments`) built into `spill`."""
    opened = _Opened()
    try:
        for number, item in decode.jsonl_objects(path):
            if _is_header(item):
                continue
            conv_id = item.get("conversation")
            key = conv_id if isinstance(conv_id, str) else f"<line {number}>"
            found = opened.get(key) or opened.add(key, number, conv_id)
            built = _row(found, number, item, schema, segments)
            if built is not None and spill is not None:
                spill.segment(found.index, built)
    except BaseException:
        opened.close()
        raise
    return opened


def _row(o: _Open, number: int, item: dict[str, Any], schema: Problems, segments: Segments | None) -> Segment | None:
    j, o.count = o.count, o.count + 1
    table = {k: v for k, v in item.items() if k in ("name", "participants")}
    table |= {"id": o.id, "segments": [{k: v for k, v in item.items() if k not in CONVERSATION_KEYS}]}
    where: Where = ("conversations", o.index)
    try:
        conv = ConversationIn.model_validate(table)
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            if loc[:2] == ("segments", 0):
                schema.add((*where, "segments", j, *loc[2:]), explain(error), line=number)
                continue
            once = (loc, str(error["msg"]))
            if o.reported is None:
                o.reported = set()
            if once not in o.reported:
                o.reported.add(once)
                schema.add((*where, *loc), explain(error), line=number)
        return None
    if "name" in item:
        o.name = conv.name
    if "participants" in item:
        o.participants = conv.participants
    (seg,) = conv.segments
    if seg.part is not None and o.parts is None:
        o.parts = [None] * j
    if o.parts is not None:
        o.parts.append(seg.part)
    return None if segments is None else segments.build((*where, "segments", j), conv, j, seg, number)


def _closed(o: _Open, roster: set[str], problems: Problems, spill: Spill) -> None:
    """Check the conversation as a whole; spill what the manifest keeps of it."""
    parts: list[int | None] = o.parts if o.parts is not None else [None] * o.count
    given = (o.id, o.name, o.participants)
    built = spill.segments(o.index, o.id)
    found = conversation(
        ("conversations", o.index), given, built, parts=parts, roster=roster, problems=problems, line=o.line
    )
    spill.conversation(o.index, found.id, found.name, found.participants)
