"""Verified apply: an update the server acknowledges but never shows is not done, is sent again, and is given up
on with a clear error after MAX_SENDS; a lost answer whose effect shows is done. The real client against the
emulator (its `ignore_member_update` fault), over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from batch import SymblClient, load_manifest, open_run
from batch.emulator.faults import FaultPlan
from reconcile import ApplyError, Ledger, Operation
from reconcile.apply import MAX_SENDS, apply_and_confirm, verify
from tests.support.emulator import FAST, Emulator, MakeEmulator, write_manifest

MEMBER_PUT = "PUT /v1/conversations/*/members/*"
JOHN, ALICE = ("John Doe", "john@example.com"), ("Alice Walker", "alice@example.com")


@dataclass
class Stage:
    """A finished two-part conversation (four diarized members), its client, a ledger and the emulator."""

    emu: Emulator
    client: SymblClient
    ledger: Ledger
    conversation_id: str
    member_ids: list[str]
    done: list[Operation]

    def rename(self, index: int, who: tuple[str, str]) -> Operation:
        member = self.member_ids[index]
        return Operation("rename", self.conversation_id, member, who[0], who[1], member)

    def merge(self, index: int, survivor: int, who: tuple[str, str]) -> Operation:
        ids = self.member_ids
        return Operation("merge", self.conversation_id, ids[index], who[0], who[1], ids[survivor])

    async def faults(self, faults: dict[str, Any]) -> None:
        async with self.emu.http.post(f"{self.emu.base_url}/_emulator/config", json={"faults": faults}) as resp:
            assert resp.status == 200, await resp.text()

    async def apply(self, operations: list[Operation]) -> list[Operation]:
        return await apply_and_confirm(self.client, self.ledger, operations, on_done=self.done.append)

    async def members(self) -> list[dict[str, Any]]:
        (conv,) = (await self.emu.control("state"))["conversations"]
        found: list[dict[str, Any]] = conv["members"]
        return found


@asynccontextmanager
async def staged(emu: Emulator, folder: Path) -> AsyncIterator[Stage]:
    manifest = write_manifest(folder, [("standup", ["standup-part1.wav", "standup-part2.wav"])])
    loaded = load_manifest(manifest, environ=emu.env())
    async with open_run(loaded, options=FAST) as run:
        assert (await run.run()).ok
        conversation_id = run.store.rows()["standup/1"].conversation_id
        assert conversation_id is not None
        members = await run.client.read(conversation_id, "members", "members")
        ledger = Ledger(folder / "reconcile.sqlite")
        try:
            yield Stage(emu, run.client, ledger, conversation_id, [m["id"] for m in members], [])
        finally:
            ledger.close()


@pytest.fixture
async def stage(make_emulator: MakeEmulator, tmp_path: Path) -> AsyncIterator[Stage]:
    async with staged(await make_emulator(), tmp_path) as value:
        yield value


async def test_an_ignored_update_is_not_done_and_the_next_apply_sends_it_again(stage: Stage) -> None:
    """The first PUT answers 200 but changes nothing: it comes back unconfirmed, the ledger does not say done and
    on_done is not called; the next apply sends it again and it is done; the server holds the change once."""
    await stage.faults({"script": {MEMBER_PUT: ["ignore_member_update"]}})
    john, alice = stage.rename(0, JOHN), stage.rename(1, ALICE)
    assert await stage.apply([john, alice]) == [john]
    assert (stage.ledger.status(john), stage.ledger.status(alice), stage.done) == ("unconfirmed", "done", [alice])
    assert await stage.apply([john, alice]) == []
    assert stage.ledger.status(john) == "done" and stage.done == [alice, john]
    assert stage.ledger.attempts(john) == 2 and stage.ledger.attempts(alice) == 1
    stats = await stage.emu.control("stats")
    assert (stats["member_updates"], stats["fault_ignore_member_update"]) == (2, 1)
    members = await stage.members()
    assert sorted((m["name"], m.get("email")) for m in members if m.get("email")) == sorted([JOHN, ALICE])
    assert await stage.apply([john, alice]) == []  # a finished plan sends nothing more
    assert (await stage.emu.control("stats"))["member_updates"] == 2


async def test_a_merge_waits_until_its_survivors_rename_shows(stage: Stage) -> None:
    """The survivor's rename is ignored, so its merge is held back (sent, it would only give the duplicate the
    email); verify skips what is not done; the next apply renames, then merges: one John, the duplicate gone."""
    await stage.faults({"script": {MEMBER_PUT: ["ignore_member_update"]}})
    john, alice, duplicate = stage.rename(0, JOHN), stage.rename(1, ALICE), stage.merge(2, 0, JOHN)
    plan = [john, alice, duplicate]
    left = await stage.apply(plan)
    assert left == [john, duplicate] and stage.ledger.status(duplicate) is None
    parts = {"members": await stage.client.read(stage.conversation_id, "members", "members")}
    assert verify(plan, parts, exclude=left) == []
    assert verify(plan, parts) != []
    assert [m for m in await stage.members() if m.get("email") == JOHN[1]] == []
    assert await stage.apply(plan) == []
    members = {m["id"]: m for m in await stage.members()}
    assert stage.member_ids[2] not in members and (members[stage.member_ids[0]]["email"], len(members)) == (
        JOHN[1],
        3,
    )
    assert (await stage.emu.control("stats"))["merges"] == 1


async def test_an_update_never_shown_is_given_up_after_max_sends(stage: Stage) -> None:
    """Every member PUT is ignored: after MAX_SENDS sends, ApplyError names the member and the operation and says
    the server answered success but never showed it; a later apply raises again without a fourth PUT."""
    await stage.faults({"rates": {"ignore_member_update": 1.0}})
    john = stage.rename(0, JOHN)
    for _ in range(MAX_SENDS - 1):
        assert await stage.apply([john]) == [john]
    with pytest.raises(ApplyError) as raised:
        await stage.apply([john])
    message = str(raised.value)
    assert stage.member_ids[0] in message and "rename" in message and JOHN[1] in message
    assert f"answered success to {MAX_SENDS} PUTs but the members list never showed the change" in message
    with pytest.raises(ApplyError, match="never showed the change"):
        await stage.apply([john])
    stats = await stage.emu.control("stats")
    assert (stats["fault_ignore_member_update"], stats["member_updates"]) == (MAX_SENDS, 0)
    assert stage.ledger.status(john) == "unconfirmed" and stage.done == []


async def test_a_lost_answer_is_done_when_the_list_shows_the_effect(stage: Stage) -> None:
    """The server renames, then drops the connection (twice: aiohttp repeats an idempotent PUT once by itself):
    the members list shows the rename, so it is done after one send of ours."""
    await stage.faults({"script": {MEMBER_PUT: ["reset_after", "reset_after"]}})
    john = stage.rename(0, JOHN)
    assert await stage.apply([john]) == []
    assert (stage.ledger.status(john), stage.ledger.attempts(john), stage.done) == ("done", 1, [john])
    assert [m["name"] for m in await stage.members() if m.get("email") == JOHN[1]] == [JOHN[0]]
    assert (await stage.emu.control("stats"))["fault_reset_after"] == 2


async def test_a_merge_whose_answer_is_lost_is_done_once_the_duplicate_is_gone(stage: Stage) -> None:
    """The merge is carried out and its answer lost; the repeated PUT finds the duplicate gone (404); the members
    list shows the merge, so it is done: one merge on the server."""
    await stage.faults({"script": {MEMBER_PUT: ["pass", "reset_after"]}})
    john, duplicate = stage.rename(0, JOHN), stage.merge(2, 0, JOHN)
    assert await stage.apply([john, duplicate]) == []
    assert stage.ledger.status(duplicate) == "done" and stage.done == [john, duplicate]
    assert stage.member_ids[2] not in {m["id"] for m in await stage.members()}
    assert (await stage.emu.control("stats"))["merges"] == 1
    puts = [r["status"] for r in (await stage.emu.control("requests"))["requests"] if r["method"] == "PUT"]
    assert puts[-2:] == [200, 404]  # the merge (its answer dropped), then the repeat that found it done


def test_ignore_member_update_is_drawn_for_member_puts_only() -> None:
    """A rate of 1 ignores every member update and touches no other request."""
    plan = FaultPlan.parse({"rates": {"ignore_member_update": 1.0}})
    assert plan.draw("PUT", "/v1/conversations/c/members/m", submit=False) == "ignore_member_update"
    assert plan.draw("GET", "/v1/conversations/c/members", submit=False) is None
    assert plan.draw("PUT", "/v1/process/audio/c", submit=True) is None
