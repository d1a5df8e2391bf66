"""A manifest file's text into plain data (TOML: one table; JSONL: one object per line), or one InputError naming
the file and line. Nothing here knows the schema (`schema.py`) or the media (`media.py`).

Rules:
- a UTF-8 byte-order mark at the start is dropped (some Windows editors write one); CRLF line ends read as LF;
- JSON is strict: NaN and Infinity are not JSON, and a key given twice in one object is refused (Python's json
  would keep the last one silently, and TOML refuses it too);
- a value nested more than MAX_DEPTH levels deep is refused, and so is a number longer than the interpreter
  reads: a hostile file gets a sentence, never a RecursionError or ValueError (and orjson, which writes the
  parameters to the API, refuses depths above 255).
"""

from __future__ import annotations

import errno
import json
import re
import stat
import sys
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from batch.errors import InputError
from batch.locate import toml_line

Where = tuple[str | int, ...]
MAX_DEPTH = 32  # levels of tables and lists: a manifest needs five or six (conversation, segment, tracker)
DEEP = f"nested more than {MAX_DEPTH} levels deep; a manifest needs only a few levels"
MISSING = (errno.ENOENT, errno.ENOTDIR)


class _NotJson(ValueError):
    """A line that Python's json would accept but JSON does not (raised from its hooks)."""


def field_name(where: Where) -> str:
    """("conversations", 0, "file") -> "conversations[0].file"."""
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in where).replace(".[", "[")


def too_deep(value: Any, limit: int = MAX_DEPTH) -> Where | None:
    """The place of the first table or list nested deeper than `limit` levels, or None (iterative: no recursion)."""
    stack: list[tuple[Any, Where]] = [(value, ())]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            children: Iterable[tuple[str | int, Any]] = item.items()
        elif isinstance(item, list):
            children = enumerate(item)
        else:
            continue
        if len(where) >= limit:
            return where
        stack.extend((child, (*where, key)) for key, child in children)
    return None


def shown(where: Where) -> Where:
    """The part of a deep place worth printing: its first five steps, without trailing list indexes."""
    cut = where[:5]
    while cut and isinstance(cut[-1], int):
        cut = cut[:-1]
    return cut


def check_file(path: Path) -> None:
    """A manifest that is missing or is a directory is named as such (reading it would say less)."""
    try:
        info = path.stat()
    except OSError as exc:
        if exc.errno in MISSING:
            raise InputError(f"{path}: no such file; give the path of a TOML or JSONL manifest") from None
        raise InputError(f"{path}: cannot read the manifest ({exc.strerror}); check the path and its rights") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{path} is a directory; give the path of a TOML or JSONL manifest")


def _unreadable(path: Path, exc: OSError | UnicodeDecodeError) -> InputError:
    return InputError(f"{path}: cannot read the manifest ({exc}); give a readable UTF-8 TOML or JSONL file")


def _long_number(limit: int) -> str:
    return f"a number of more than {limit} digits cannot be read; give a number within the setting's range"


def toml_text(path: Path) -> str:
    check_file(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, exc) from None


def toml_table(path: Path, text: str) -> dict[str, Any]:
    """The document, checked for depth; `text` is what `toml_text` read (kept for line numbers)."""
    limit = sys.get_int_max_str_digits()
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise InputError(f"{path}: {DEEP}") from None
    except ValueError:  # only int() of a too-long literal raises a plain ValueError in tomllib
        found = re.search(rf"\d(?:_?\d){{{limit},}}", text)
        line = f", line {text.count(chr(10), 0, found.start()) + 1}" if found else ""
        raise InputError(f"{path}{line}: {_long_number(limit)}") from None
    deep = too_deep(table)
    if deep is not None:
        where = shown(deep)
        number = toml_line(text, where)
        raise InputError(f"{path}" + (f", line {number}" if number else "") + f", {field_name(where)}: {DEEP}")
    return table


def jsonl_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """The file's objects with their line numbers, read line by line (never the whole file at once)."""
    check_file(path)
    try:
        with path.open(encoding="utf-8-sig") as handle:
            yield from _objects(path, handle)
    except (OSError, UnicodeDecodeError) as exc:
        raise _unreadable(path, exc) from None


def _objects(path: Path, lines: Iterator[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        item = _json(path, number, line)
        if not isinstance(item, dict):
            got = "null" if item is None else type(item).__name__
            raise InputError(f"{path}, line {number}: expected a JSON object, got {got}")
        deep = too_deep(item)
        if deep is not None:
            raise InputError(f"{path}, line {number}, {field_name(shown(deep))}: {DEEP}")
        yield number, item


def _json(path: Path, number: int, line: str) -> Any:
    place = f"{path}, line {number}"
    try:
        return json.loads(line, object_pairs_hook=_unique, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{place}: not valid JSON ({exc.msg}); write one JSON object per line") from None
    except _NotJson as exc:
        raise InputError(f"{place}: {exc}") from None
    except RecursionError:
        raise InputError(f"{place}: {DEEP}") from None
    except ValueError:  # int() of a too-long number
        raise InputError(f"{place}: {_long_number(sys.get_int_max_str_digits())}") from None


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    table = dict(pairs)
    if len(table) < len(pairs):
        keys = [key for key, _ in pairs]
        twice = next(key for i, key in enumerate(keys) if key in keys[:i])
        raise _NotJson(f"key {twice!r} appears twice in one object; give each key once")
    return table


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not valid JSON; give a finite number")
