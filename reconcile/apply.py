"""Carrying out a plan against the API, exactly once, confirming each effect, then checking the result.

Rules:
- every operation is recorded `sent` before its PUT; it is `done` only once the members list shows its effect
  (a rename: the member has the name and email; a merge: the duplicate is gone and the survivor has the email);
- a PUT answered 2xx whose effect the members list does not show is `unconfirmed`, not done: the next apply
  sends it again, at most MAX_SENDS times in all (the ledger counts them), then it is an ApplyError;
- an operation found `sent` or `unconfirmed` (a crash, a lost answer, a change shown late) is done if the members
  list shows its effect; otherwise it is sent again, which is safe because a rename or merge that never happened
  has no effect yet;
- a lost answer or a 404 is done when the members list shows the effect (a merge's duplicate is gone then);
- a merge is sent only after the rename of its survivor is done: merging is by email, so a merge sent while the
  survivor lacks the email would only give the duplicate the email, and the survivor's rename would then merge
  the survivor into the duplicate;
- verification: each planned person is exactly one member with the planned name and email, and no message or
  insight points at a member that no longer exists.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from batch import ApiError, NotFound, SymblClient, Transport
from reconcile.errors import ApplyError
from reconcile.ledger import Ledger
from reconcile.models import Operation

MAX_SENDS = 3  # PUTs of one operation answered success whose effect never showed, before giving up
OnDone = Callable[[Operation], None]


def applied(op: Operation, members: Sequence[dict[str, Any]]) -> bool:
    by_id = {m["id"]: m for m in members}
    if op.kind == "rename":
        member = by_id.get(op.member_id)
        return member is not None and (member.get("name"), (member.get("email") or "").lower()) == (op.name, op.email)
    survivor = by_id.get(op.survivor_id)
    return op.member_id not in by_id and survivor is not None and (survivor.get("email") or "").lower() == op.email


def _what(op: Operation) -> str:
    if op.kind == "rename":
        return f"rename of member {op.member_id} to {op.name} <{op.email}>"
    return f"merge of member {op.member_id} into {op.survivor_id} as <{op.email}>"


def never_shown(op: Operation, sends: int) -> str:
    """The one-sentence problem of an operation the server acknowledged but never carried out."""
    return (
        f"{_what(op)} in conversation {op.conversation_id}: the server answered success to {sends} PUTs "
        "but the members list never showed the change"
    )


async def _members(client: SymblClient, conversation_id: str) -> list[dict[str, Any]]:
    return await client.read(conversation_id, "members", "members")


def _done(ledger: Ledger, op: Operation, on_done: OnDone) -> None:
    ledger.mark(op, "done")
    on_done(op)


async def _settled(client: SymblClient, ledger: Ledger, op: Operation, on_done: OnDone) -> bool:
    """True when the operation needs no PUT: done before, or sent before and its effect is shown now."""
    status = ledger.status(op)
    if status == "done":
        return True
    if status not in ("sent", "unconfirmed"):
        return False
    if applied(op, await _members(client, op.conversation_id)):
        _done(ledger, op, on_done)
        return True
    if status == "unconfirmed" and ledger.attempts(op) >= MAX_SENDS:  # no fourth PUT, not even in a later run
        raise ApplyError(never_shown(op, ledger.attempts(op)))
    return False


async def _send(client: SymblClient, ledger: Ledger, op: Operation, on_done: OnDone) -> bool:
    """PUT the operation (recorded `sent` first). True: answered 2xx, its effect is still to be confirmed;
    False: the answer was lost (or 404) and the members list shows the effect, so it is done."""
    ledger.mark(op, "sent")
    try:
        await client.put_member(op.conversation_id, op.member_id, name=op.name, email=op.email or None)
    except (Transport, NotFound) as exc:
        if not applied(op, await _members(client, op.conversation_id)):
            raise ApplyError(f"{op.kind} of member {op.member_id}: {exc}") from exc
        _done(ledger, op, on_done)
        return False
    except ApiError as exc:
        raise ApplyError(f"{op.kind} of member {op.member_id}: {exc}") from exc
    return True


async def apply(
    client: SymblClient, ledger: Ledger, operations: Sequence[Operation], *, on_done: OnDone
) -> list[Operation]:
    """Send each operation not done yet; the ones the server answered 2xx, whose effect is still to be confirmed
    (`confirm`). Operations settled without an answer (crash, lost answer) are marked done here."""
    answered = []
    for op in operations:
        if not await _settled(client, ledger, op, on_done) and await _send(client, ledger, op, on_done):
            answered.append(op)
    return answered


def confirm(
    ledger: Ledger, answered: Sequence[Operation], members: Sequence[dict[str, Any]], *, on_done: OnDone
) -> list[Operation]:
    """Mark each answered operation done if `members` shows its effect, else `unconfirmed`; the unconfirmed ones.
    ApplyError when one of them has been sent MAX_SENDS times (after every other one is marked)."""
    unconfirmed = []
    for op in answered:
        if applied(op, members):
            _done(ledger, op, on_done)
        else:
            ledger.mark(op, "unconfirmed")
            unconfirmed.append(op)
    exhausted = [op for op in unconfirmed if ledger.attempts(op) >= MAX_SENDS]
    if exhausted:
        raise ApplyError(never_shown(exhausted[0], ledger.attempts(exhausted[0])))
    return unconfirmed


async def _apply_confirmed(
    client: SymblClient, ledger: Ledger, operations: Sequence[Operation], on_done: OnDone
) -> list[Operation]:
    """Send and confirm a set of operations with one members read; the ones not done."""
    answered = await apply(client, ledger, operations, on_done=on_done)
    if not answered:
        return []
    return confirm(ledger, answered, await _members(client, answered[0].conversation_id), on_done=on_done)


def _waiting(merges: Sequence[Operation], renames: Sequence[Operation], ledger: Ledger) -> set[Operation]:
    """The merges whose survivor's rename is planned but not done (they must not be sent yet)."""
    pending = {op.member_id for op in renames if ledger.status(op) != "done"}
    return {op for op in merges if op.survivor_id in pending}


async def apply_and_confirm(
    client: SymblClient, ledger: Ledger, operations: Sequence[Operation], *, on_done: OnDone
) -> list[Operation]:
    """Apply, confirm every effect in the members list, and return the operations not done: answered success
    but not shown (sent again by the next call, up to MAX_SENDS), and merges held back behind them.
    Renames go first and are confirmed before any merge is sent; so with merges the list is read twice."""
    left: list[Operation] = []
    for conversation_id in dict.fromkeys(op.conversation_id for op in operations):
        mine = [op for op in operations if op.conversation_id == conversation_id]
        renames = [op for op in mine if op.kind == "rename"]
        merges = [op for op in mine if op.kind != "rename"]
        left += await _apply_confirmed(client, ledger, renames, on_done)
        held = _waiting(merges, renames, ledger)
        left += await _apply_confirmed(client, ledger, [op for op in merges if op not in held], on_done)
        left += [op for op in merges if op in held]
    return left


def verify(operations: Sequence[Operation], parts: dict[str, Any], *, exclude: Collection[Operation] = ()) -> list[str]:
    """Problems found after applying (empty when the conversation looks exactly as planned); operations in
    `exclude` (not done: `apply_and_confirm`'s answer) are not expected to show."""
    members = parts.get("members", [])
    ids = {m["id"] for m in members}
    problems: list[str] = []
    expected = [op for op in operations if op not in exclude]
    by_id = {m["id"]: m for m in members}
    for op in expected:  # a person answered "new" without an email: renamed only, each member by itself
        if not op.email and by_id.get(op.member_id, {}).get("name") != op.name:
            problems.append(f"member {op.member_id}: expected the name {op.name}")
    for email in sorted({op.email for op in expected if op.email}):
        holders = [m for m in members if (m.get("email") or "").lower() == email]
        names = {op.name for op in expected if op.email == email}
        if len(holders) != 1 or holders[0].get("name") not in names:
            problems.append(f"{email}: expected one member named {sorted(names)}, found {len(holders)}")
    for key in ("messages", "insights"):
        for item in parts.get(key, []):
            for field in ("from", "assignee"):
                ref = (item.get(field) or {}).get("id")
                if ref and ref not in ids:
                    problems.append(f"{key} {item.get('id')}: {field} points at removed member {ref}")
    return problems
