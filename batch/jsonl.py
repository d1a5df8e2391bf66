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
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from batch import decode
from batch.assemble import Problems, Segments, api_config, conversation, explain, person, roster_problems
from batch.decode import Where
from batch.errors import InputError
from batch.models import Conversation, Manifest, Segment
from batch.schema import ConversationIn, HeaderIn, ReconcileIn

HEADER_KEYS = frozenset({"api", "defaults"})
CONVERSATION_KEYS = frozenset({"conversation", "name", "participants"})


class _Open:
    """A conversation whose lines are being read."""

    __slots__ = ("count", "id", "index", "line", "name", "participants", "parts", "reported", "segments")

    def __init__(self, index: int, conv_id: Any, line: int) -> None:
        self.index, self.id, self.line = index, conv_id, line
        self.name: str | None = None
        self.participants: list[str] = []
        self.segments: list[Segment] = []
        self.parts: list[int | None] | None = None  # only once a line gives a part
        self.count = 0  # lines read, valid or not: a line's position is its segment index
        self.reported: set[tuple[Where, str]] | None = None


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
        if not _rows(path, schema, None):
            schema.add(("conversations",), "needs at least one conversation")
        problems.items += schema.items
        problems.raise_any()
        raise AssertionError("unreachable")
    api = api_config(root, header.api, checks, environ)
    people = tuple(person(root, i, p, checks) for i, p in enumerate(header.people))
    roster = roster_problems(people, checks)
    opened = _rows(path, schema, Segments(root, header.defaults, api, checks, by_row=True))
    if before != _version(path):
        raise InputError(f"{path}: changed while it was being read; run again once it is complete")
    if not opened:
        schema.add(("conversations",), "needs at least one conversation")
    problems.items += schema.items or checks.items
    problems.raise_any()
    conversations = tuple(_closed(o, roster, problems) for o in opened.values())
    opened.clear()
    problems.raise_any()
    return Manifest(path, api, people, conversations, ReconcileIn().model_dump())


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


def _rows(path: Path, schema: Problems, segments: Segments | None) -> dict[str, _Open]:
    """Pass 2: every segment line, validated alone and (with `segments`) built. Conversation key -> _Open."""
    opened: dict[str, _Open] = {}
    for number, item in decode.jsonl_objects(path):
        if _is_header(item):
            continue
        conv_id = item.get("conversation")
        key = conv_id if isinstance(conv_id, str) else f"<line {number}>"
        found = opened.get(key)
        if found is None:
            found = opened[key] = _Open(len(opened), conv_id, number)
        _row(found, number, item, schema, segments)
    return opened


def _row(o: _Open, number: int, item: dict[str, Any], schema: Problems, segments: Segments | None) -> None:
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
        return
    if "name" in item:
        o.name = conv.name
    if "participants" in item:
        o.participants = conv.participants
    (seg,) = conv.segments
    if seg.part is not None and o.parts is None:
        o.parts = [None] * j
    if o.parts is not None:
        o.parts.append(seg.part)
    if segments is not None:
        o.segments.append(segments.build((*where, "segments", j), conv, j, seg, number))


def _closed(o: _Open, roster: set[str], problems: Problems) -> Conversation:
    parts: list[int | None] = o.parts if o.parts is not None else [None] * o.count
    given = (o.id, o.name, o.participants)
    return conversation(
        ("conversations", o.index), given, o.segments, parts=parts, roster=roster, problems=problems, line=o.line
    )
