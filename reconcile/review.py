"""The review file: the members the planner could not settle, for a person to answer. TOML, one [[member]] each.

A person sets `identity` to a roster email, to "new" (with `name`, and `email` if known: the member is renamed,
never merged), or to "skip"; an empty identity is still open. `symbl-batch reconcile apply MANIFEST --review
FILE` carries the answers out.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
    try:
        text = path.read_text(encoding="utf-8")
        entries = tomllib.loads(text).get("member", [])
    except (OSError, UnicodeDecodeError) as exc:
        raise ReviewError(f"{path}: cannot read the review file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ReviewError(f"{path}: not valid TOML: {exc}") from None
    answers = []
    for i, entry in enumerate(entries):
        where = f"{path}, line {_line(text, i)}, member[{i}]"
        unknown = set(entry) - KEYS
        if unknown:
            raise ReviewError(f"{where}.{sorted(unknown)[0]}: unknown key; valid keys: {', '.join(sorted(KEYS))}")
        identity = str(entry.get("identity", "")).strip().lower()
        if not identity:
            continue
        if identity not in roster | {"new", "skip"}:
            raise ReviewError(f'{where}.identity: \'{identity}\' is not a roster email, "new" or "skip"')
        if identity == "new" and not str(entry.get("new_name", "")).strip():
            raise ReviewError(f'{where}.new_name: required when identity = "new" (the person\'s name)')
        answers.append(
            Answer(
                str(entry["conversation_id"]),
                str(entry["member_id"]),
                identity,
                entry.get("new_name"),
                (entry.get("email") or "").lower() or None,
            )
        )
    return answers
