"""The review file: the voices the planner could not settle, for a person to answer. TOML, one [[voice]] each.

One [[voice]] per unresolved voice: all its members across segments, its quotes with times, a clip to listen to,
and every allowed participant as a candidate. A person sets `identity` to a roster email (all the voice's
members are named and merged), to "new" (with `new_name`, and `email` if known: its members are renamed to the
new person, and merged when an email is given), or to "skip"; an empty identity is still open.
`symbl-batch reconcile apply MANIFEST --review FILE` carries the answers out.

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

HEADER = """# symbl-batch review: who is each voice below? One entry per voice, with all its members.
# Listen to its clip (the WAV file named in `clip`, beside this file) and read its quotes (seconds in the file).
# Set identity to a roster email, to "new" (then set new_name, and email if you know it), or to "skip".
# "new" and "skip" are remembered: that voice is not asked about again.
# Then run: symbl-batch reconcile apply MANIFEST --review THIS_FILE
"""
KEYS = frozenset(
    {
        "conversation",
        "conversation_id",
        "voice",
        "members",
        "member_id",
        "names",
        "name",
        "segments",
        "segment",
        "talk_seconds",
        "reason",
        "clip",
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
    member_ids: tuple[str, ...]  # every member of the voice answered
    identity: str  # a roster email, "new" or "skip"
    name: str | None = None
    email: str | None = None


def _s(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _list(items: Sequence[str]) -> str:
    return "[" + ", ".join(_s(i) for i in items) + "]"


def render(conversation: str, items: Sequence[ReviewItem], clips: Sequence[str | None] = ()) -> str:
    """The review file: one [[voice]] per item; `clips` are the file names of each item's clip (or None)."""
    out = [HEADER]
    for index, item in enumerate(items):
        candidates = ",\n  ".join(
            f"{{ email = {_s(c.email)}, score = {c.score}, reasons = {_list(c.reasons)} }}" for c in item.candidates
        )
        quotes = ",\n  ".join(
            f"{{ segment = {m.segment + 1}, start = {q.start}, end = {q.end}, text = {_s(q.text)} }}"
            for m in item.members
            for q in sorted(m.quotes, key=lambda q: q.start - q.end)[:3]
        )
        clip = clips[index] if index < len(clips) else None
        out += [
            "[[voice]]",
            f"conversation = {_s(conversation)}",
            f"conversation_id = {_s(item.conversation_id)}",
            f"voice = {_s(item.voice)}",
            f"members = {_list([m.id for m in item.members])}",
            f"names = {_list([m.name for m in item.members])}",
            f"segments = [{', '.join(str(m.segment + 1) for m in item.members)}]",
            f"talk_seconds = {item.talk_seconds}",
            f"reason = {_s(item.reason)}",
            *([f"clip = {_s(clip)}"] if clip else []),
            f"quotes = [\n  {quotes}\n]" if quotes else "quotes = []",
            f"candidates = [\n  {candidates}\n]" if candidates else "candidates = []",
            'identity = ""',
            'new_name = ""',
            'email = ""',
            "",
        ]
    return "\n".join(out)


def _line(text: str, kind: str, index: int) -> int:
    """The line of the index-th [[kind]] header (tables of one kind keep their order in the file)."""
    headers = [n for n, line in enumerate(text.splitlines(), 1) if line.strip() == f"[[{kind}]]"]
    return headers[index] if index < len(headers) else 1


def read(path: Path, roster: set[str]) -> list[Answer]:
    """The answered entries; every malformed one, and a member answered twice, is a ReviewError naming file,
    line and key."""
    text = _text(path)
    answers = []
    seen: dict[str, str] = {}
    for kind, i, entry in _entries(path, text):
        where = f"{path}, line {_line(text, kind, i)}, {kind}[{i}]"
        answer = _answer(where, entry, roster)
        if answer is None:
            continue
        for member_id in answer.member_ids:
            if member_id in seen:
                raise ReviewError(
                    f"{where}.members: member {member_id} is answered twice (also at {seen[member_id]});"
                    " give each voice one answer"
                )
            seen[member_id] = f"line {_line(text, kind, i)}"
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


def _entries(path: Path, text: str) -> list[tuple[str, int, dict[str, Any]]]:
    """The [[voice]] tables ([[member]] in files of older versions); anything else in the file is refused (a
    misspelt [[voice]] would answer nothing)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ReviewError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ReviewError(f"{path}: nested too deeply; a review file holds flat [[voice]] tables") from None
    except ValueError:  # int() of a literal longer than the interpreter reads
        limit = sys.get_int_max_str_digits()
        raise ReviewError(
            f"{path}: a number of more than {limit} digits cannot be read; keep the numbers written"
        ) from None
    unknown = sorted(set(document) - {"voice", "member"})
    if unknown:
        raise ReviewError(f"{path}, {unknown[0]}: unknown key; a review file holds only [[voice]] tables")
    kinds = ("voice", "member")
    if not all(isinstance(document.get(k, []), list) for k in kinds):
        raise ReviewError(f"{path}, voice: must be [[voice]] tables, as reconcile wrote them")
    entries = [(kind, i, entry) for kind in kinds for i, entry in enumerate(document.get(kind, []))]
    if not all(isinstance(entry, dict) for _, _, entry in entries):
        raise ReviewError(f"{path}, voice: must be [[voice]] tables, as reconcile wrote them")
    return entries


def _answer(where: str, entry: dict[str, Any], roster: set[str]) -> Answer | None:
    unknown = set(entry) - KEYS
    if unknown:
        raise ReviewError(f"{where}.{sorted(unknown)[0]}: unknown key; valid keys: {', '.join(sorted(KEYS))}")
    for key in ("identity", "new_name", "email", "conversation_id", "member_id"):
        if key in entry and not isinstance(entry[key], str):
            kind = type(entry[key]).__name__
            raise ReviewError(f"{where}.{key}: must be a string in quotes, not {kind}")
    members = entry.get("members", [entry["member_id"]] if entry.get("member_id") else [])
    if not isinstance(members, list) or not all(isinstance(m, str) and m for m in members):
        raise ReviewError(f"{where}.members: must be the list of member ids reconcile wrote")
    identity = entry.get("identity", "").strip().lower()
    if not identity:
        return None
    if identity not in roster | {"new", "skip"}:
        raise ReviewError(f'{where}.identity: \'{identity}\' is not a roster email, "new" or "skip"')
    if identity == "new" and not entry.get("new_name", "").strip():
        raise ReviewError(f'{where}.new_name: required when identity = "new" (the person\'s name)')
    if not entry.get("conversation_id"):
        raise ReviewError(f"{where}.conversation_id: required key is missing; keep the value reconcile wrote")
    if not members:
        given = "is empty" if entry.get("members") == [] or "member_id" in entry else "is missing"
        raise ReviewError(f"{where}.members: {given}; keep the member ids reconcile wrote")
    email = entry.get("email", "").strip().lower() or None
    if email is not None and "@" not in email:
        raise ReviewError(f"{where}.email: '{email}' is not an email address; leave it empty if unknown")
    return Answer(
        entry["conversation_id"],
        tuple(members),
        identity,
        entry.get("new_name", "").strip() or None,
        email,
    )
