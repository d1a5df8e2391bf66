"""Line numbers for positions in a TOML manifest (tomllib keeps none): found from the table headers.

A position is a path such as ("conversations", 2, "segments", 0, "file"). The answer is the line of the key
inside the right `[[...]]` table when it can be found, else the table's header line, else None.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\s]+?)\s*\]\]?\s*(#.*)?$")


def _headers(lines: Sequence[str]) -> list[tuple[int, str]]:
    found = []
    for number, text in enumerate(lines, 1):
        match = HEADER.match(text)
        if match:
            found.append((number, match.group(1).replace(" ", "")))
    return found


def _key_line(lines: Sequence[str], start: int, end: int, key: str) -> int | None:
    pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
    for number in range(start, min(end, len(lines) + 1)):
        if pattern.match(lines[number - 1]):
            return number
    return None


def toml_line(text: str, path: Sequence[str | int]) -> int | None:
    lines = text.splitlines()
    headers = _headers(lines)
    table, start, end = "", 1, len(lines) + 1
    best: int | None = None
    items = list(path)
    while items:
        head = items.pop(0)
        if isinstance(head, int):
            continue
        name = f"{table}.{head}" if table else head
        following = items[0] if items else None
        index = following if isinstance(following, int) else None
        if index is not None:
            items.pop(0)
        matches = [n for n, h in headers if h == name and start <= n < end]
        if index is not None and index < len(matches):
            start = matches[index]
            later = [n for n, h in headers if n > start and not h.startswith(name + ".")]
            end, table, best = (later[0] if later else len(lines) + 1), name, start
        elif index is None and matches:
            start, table, best = matches[0], name, matches[0]
        else:
            return _key_line(lines, start, end, str(head)) or best
    return best
