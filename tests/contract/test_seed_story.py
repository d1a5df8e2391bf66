"""The seed's story (contract §6 "Merging Speakers"), played through raw HTTP against the emulator."""

from __future__ import annotations

import json

from tests.support.server import CORPUS, Api, media

SPEAKERS = json.loads((CORPUS / "scripts" / "standup-part1.json").read_text())


async def test_two_part_conversation_rename_append_merge(api: Api) -> None:
    """Part 1 with John and Alice, renamed; part 2 appended with John and May; new John merged by email."""
    first = await api.submit(media("standup-part1.wav"), enableSpeakerDiarization="true", diarizationSpeakerCount="2")
    cid = first["conversationId"]
    assert await api.finish(first["jobId"]) == "completed"

    members = (await api.get(f"/v1/conversations/{cid}/members"))["members"]
    assert sorted(m["name"] for m in members) == ["Speaker 1", "Speaker 2"]
    messages = (await api.get(f"/v1/conversations/{cid}/messages"))["messages"]
    first_speaker = messages[0]["from"]["id"]  # John opens the standup
    john = next(m for m in members if m["id"] == first_speaker)
    alice = next(m for m in members if m["id"] != first_speaker)
    for member, name, email in ((john, "John Doe", "john@example.com"), (alice, "Alice Walker", "alice@example.com")):
        resp = await api.put_member(cid, member["id"], {"id": member["id"], "name": name, "email": email})
        assert resp.status == 200, await resp.text()

    second = await api.submit(
        media("standup-part2.wav"), conversation_id=cid, enableSpeakerDiarization="true", diarizationSpeakerCount="2"
    )
    assert second["conversationId"] == cid
    assert second["jobId"] != first["jobId"]
    assert await api.finish(second["jobId"]) == "completed"
    members = (await api.get(f"/v1/conversations/{cid}/members"))["members"]
    assert len(members) == 4  # the append created two new "Speaker n" members, John again among them
    messages = (await api.get(f"/v1/conversations/{cid}/messages"))["messages"]
    part2 = messages[len(SPEAKERS["utterances"]) :]
    new_john_id = part2[0]["from"]["id"]  # John opens part 2 too
    assert new_john_id not in (john["id"], alice["id"])

    resp = await api.put_member(cid, new_john_id, {"id": new_john_id, "name": "John Doe", "email": "john@example.com"})
    assert resp.status == 200, await resp.text()

    members = (await api.get(f"/v1/conversations/{cid}/members"))["members"]
    assert [m["id"] for m in members][:2] == [john["id"], alice["id"]]
    assert len(members) == 3
    assert new_john_id not in [m["id"] for m in members]
    assert {"id": john["id"], "name": "John Doe", "email": "john@example.com"} in members
    messages = (await api.get(f"/v1/conversations/{cid}/messages"))["messages"]
    johns = [m for m in messages if m["from"].get("email") == "john@example.com"]
    assert {m["from"]["id"] for m in johns} == {john["id"]}
    assert [m["text"] for m in johns] == [m["text"] for m in messages if m["text"] in _lines_of("john")]
    may = {m["from"]["id"] for m in messages[len(SPEAKERS["utterances"]) :]} - {john["id"]}
    assert len(may) == 1
    assert next(iter(may)) in [m["id"] for m in members]
    insights = (await api.get(f"/v1/conversations/{cid}/insights"))["insights"]
    assert all(i["from"].get("id") != new_john_id for i in insights)
    john_items = [i for i in insights if i["from"].get("id") == john["id"] and i["type"] == "action_item"]
    assert john_items
    assert all(i["assignee"] == {"id": john["id"], "name": "John Doe", "email": "john@example.com"} for i in john_items)
    stats = await api.control("stats")
    assert (stats["conversations_created"], stats["appends"], stats["merges"], stats["member_updates"]) == (1, 1, 1, 3)


def _lines_of(speaker: str) -> set[str]:
    texts = set()
    for part in ("standup-part1", "standup-part2"):
        script = json.loads((CORPUS / "scripts" / f"{part}.json").read_text())
        texts |= {u["text"] for u in script["utterances"] if u["speaker"] == speaker}
    return texts
