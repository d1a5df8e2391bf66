"""The shape a conversation's messages and members must have before they are evidence, written or handed on.
Pure: a list in, `Broken` out (naming the endpoint, the item and the field) when an answer breaks the contract.
The client applies these inside its read retries, so one malformed answer is read again, and if it stays
malformed it is an error of that recording only, reported and retried by the next run.

Checked: every message has an `id` (string or integer) and a string `text`; `from`, when present, is an object;
`timeOffset`/`duration`, when present, are finite numbers; every member has an `id`; `name`/`email` are strings
or absent. Other fields pass through untouched (the conversation itself must be an object: `SymblClient`).
"""

from __future__ import annotations

import math
from typing import Any

from batch.errors import Broken


def _fail(where: str, index: int, field: str, problem: str) -> Broken:
    return Broken(f"GET {where}: item {index} {problem} ({field}); the answer breaks the API contract")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _identifier(value: Any) -> bool:
    return (isinstance(value, str) and value != "") or (isinstance(value, int) and not isinstance(value, bool))


def check_messages(where: str, messages: list[dict[str, Any]]) -> None:
    for index, message in enumerate(messages):
        if not _identifier(message.get("id")):
            raise _fail(where, index, "id", "has no usable id")
        if not isinstance(message.get("text", ""), str):
            raise _fail(where, index, "text", "has text that is not a string")
        sender = message.get("from")
        if sender is not None and not isinstance(sender, dict):
            raise _fail(where, index, "from", "names its speaker with something other than an object")
        if isinstance(sender, dict) and not isinstance(sender.get("name", ""), str | None):
            raise _fail(where, index, "from.name", "has a speaker name that is not a string")
        for field in ("timeOffset", "duration"):
            if field in message and message[field] is not None and not _number(message[field]):
                raise _fail(where, index, field, "has a time that is not a finite number")


def check_members(where: str, members: list[dict[str, Any]]) -> None:
    for index, member in enumerate(members):
        if not _identifier(member.get("id")):
            raise _fail(where, index, "id", "has no usable id")
        for field in ("name", "email"):
            if not isinstance(member.get(field), str | None):
                raise _fail(where, index, field, "is not a string")
