"""The review file: the members the planner could not settle, for a person to answer. TOML, one [[member]] each.

A person sets `identity` to a roster email, to "new" (with `name`, and `email` if known: the member is renamed,
never merged), or to "skip"; an empty identity is still open. `symbl-batch reconcile apply MANIFEST --review
FILE` carries the answers out.

Rule: a file a person edited may be anything; whatever is wrong with it (not TOML, too deep, an unknown key or
table, a value of the wrong type, an email not on the roster) is one ReviewError naming file, line and key.
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconcile.errors import ReviewError
from reconcile.models import ReviewItem

HEADER = """# symbl-batch review: who is each member below?
# Set identity to a roster email, to "new" (then give name, and email if known), or to "skip".
# Then run: symbl-batch reconcile apply MANIFEST --review THIS_FILE
"""
KEYS = frozenset(
    {
        "conversation",
        "conversation_id",
        "member_id",
        "name",
        "segment",
        "talk_seconds",
        "quotes",
        "candidates",
        "identity",
        "email",
        "new_name",
    }
)


@dataclass(frozen=True, slots=True)
class Answer:
    conversation_id: str
    member_id: str
    identity: str  # a roster email, "new" or "skip"
    name: str | None = None
    email: str | None = None


def _s(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def render(conversation: str, items: Sequence[ReviewItem]) -> str:
    out = [HEADER]
    for item in items:
        candidates = ", ".join(
            f"{{ email = {_s(c.email)}, score = {c.score}, reasons = [{', '.join(_s(r) for r in c.reasons)}] }}"
            for c in item.candidates
        )
        out += [
            "[[member]]",
            f"conversation = {_s(conversation)}",
            f"conversation_id = {_s(item.conversation_id)}",
            f"member_id = {_s(item.member_id)}",
            f"name = {_s(item.name)}",
            f"segment = {item.segment + 1}",
            f"talk_seconds = {item.talk_seconds}",
            f"quotes = [{', '.join(_s(q) for q in item.quotes)}]",
            f"candidates = [{candidates}]",
            'identity = ""',
            "",
        ]
    return "\n".join(out)


def _line(text: str, index: int) -> int:
    headers = [n for n, line in enumerate(text.splitlines(), 1) if line.strip() == "[[member]]"]
    return headers[index] if index < len(headers) else 1


def read(path: Path, roster: set[str]) -> list[Answer]:
    """The answered entries; every malformed one is a ReviewError naming file, line and key."""
    text = _text(path)
    answers = []
    for i, entry in enumerate(_entries(path, text)):
        answer = _answer(f"{path}, line {_line(text, i)}, member[{i}]", entry, roster)
        if answer is not None:
            answers.append(answer)
    return answers


def _text(path: Path) -> str:
    wanted = "give the review file (review.toml) that reconcile wrote"
    try:
        if path.is_dir():
            raise ReviewError(f"{path} is a directory; {wanted}")
        return path.read_text(encoding="utf-8-sig")  # "-sig": a byte-order mark an editor added is dropped
    except FileNotFoundError:
        raise ReviewError(f"{path}: no such file; {wanted}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReviewError(f"{path}: cannot read the review file ({exc}); {wanted}, in UTF-8") from None


def _entries(path: Path, text: str) -> list[dict[str, Any]]:
    """The [[member]] tables; anything else in the file is refused (a misspelt [[member]] would answer nothing)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ReviewError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ReviewError(f"{path}: nested too deeply; a review file holds flat [[member]] tables") from None
    except ValueError:  # int() of a literal longer than the interpreter reads
        limit = sys.get_int_max_str_digits()
        raise ReviewError(
            f"{path}: a number of more than {limit} digits cannot be read; keep the numbers written"
        ) from None
    unknown = sorted(set(document) - {"member"})
    if unknown:
        raise ReviewError(f"{path}, {unknown[0]}: unknown key; a review file holds only [[member]] tables")
    entries = document.get("member", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ReviewError(f"{path}, member: must be [[member]] tables, as reconcile wrote them")
    return entries


def _answer(where: str, entry: dict[str, Any], roster: set[str]) -> Answer | None:
    unknown = set(entry) - KEYS
    if unknown:
        raise ReviewError(f"{where}.{sorted(unknown)[0]}: unknown key; valid keys: {', '.join(sorted(KEYS))}")
    for key in ("identity", "new_name", "email", "conversation_id", "member_id"):
        if key in entry and not isinstance(entry[key], str):
            kind = type(entry[key]).__name__
            raise ReviewError(f"{where}.{key}: must be a string in quotes, not {kind}")
    identity = entry.get("identity", "").strip().lower()
    if not identity:
        return None
    if identity not in roster | {"new", "skip"}:
        raise ReviewError(f'{where}.identity: \'{identity}\' is not a roster email, "new" or "skip"')
    if identity == "new" and not entry.get("new_name", "").strip():
        raise ReviewError(f'{where}.new_name: required when identity = "new" (the person\'s name)')
    for key in ("conversation_id", "member_id"):
        if not entry.get(key):
            raise ReviewError(f"{where}.{key}: required key is missing; keep the value reconcile wrote")
    return Answer(
        entry["conversation_id"],
        entry["member_id"],
        identity,
        entry.get("new_name"),
        entry.get("email", "").lower() or None,
    )
