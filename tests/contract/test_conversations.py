"""Conversation API (§2, §6-7, §13 #8-12, #17, #19): listing, shapes, members, renames, merges, insights."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.server import Api, media

DIARIZE = {"enableSpeakerDiarization": "true", "diarizationSpeakerCount": "2"}


async def _done(api: Api, name: str, **params: str) -> str:
    created = await api.submit(media(name), **params)
    assert await api.finish(created["jobId"]) == "completed"
    return created["conversationId"]


async def test_list_paging_order_and_name_filter(api: Api) -> None:
    """GET /v1/conversations pages with limit/offset, orders asc/desc, filters name==value (§13 #19)."""
    ids = [(await api.submit(media("solo-memo.wav"), name=f"memo {i}"))["conversationId"] for i in range(3)]
    asc = await api.get("/v1/conversations", order="asc", limit="2")
    assert [c["id"] for c in asc["conversations"]] == ids[:2]
    page2 = await api.get("/v1/conversations", order="asc", limit="2", offset="2")
    assert [c["id"] for c in page2["conversations"]] == ids[2:]
    desc = await api.get("/v1/conversations")
    assert [c["id"] for c in desc["conversations"]] == ids[::-1]
    named = await api.get("/v1/conversations", filter='name=="memo 1"')
    assert [c["id"] for c in named["conversations"]] == [ids[1]]
    for bad in ({"order": "up"}, {"limit": "0"}, {"filter": "type==meeting"}, {"sort": "name"}):
        assert "message" in await api.get("/v1/conversations", status=400, **bad)


async def test_conversation_shape_and_delete(api: Api) -> None:
    """GET conversation has the documented keys; DELETE answers the documented message, then 404."""
    cid = await _done(api, "interview.wav", **DIARIZE)
    conv = await api.get(f"/v1/conversations/{cid}")
    assert set(conv) == {"id", "type", "name", "startTime", "endTime", "members", "metadata"}
    assert conv["type"] == "meeting" and conv["name"] == cid and len(conv["members"]) == 2
    resp = await api.http.delete(f"/v1/conversations/{cid}", headers=api.auth)
    assert (resp.status, await resp.json()) == (200, {"message": "successfully deleted the conversation"})
    resp = await api.http.delete(f"/v1/conversations/{cid}", headers=api.auth)
    assert (resp.status, await resp.json()) == (
        404,
        {"message": "The conversationId is either invalid or does not exist."},
    )
    for tail in ("", "/messages", "/members", "/insights", "/topics"):
        await api.get(f"/v1/conversations/{cid}{tail}", status=404)


async def test_message_options_verbose_sentiment_phrases(api: Api) -> None:
    """verbose adds words with times and scores, sentiment adds polarity, detectPhrases adds phrases."""
    cid = await _done(
        api,
        "solo-memo.wav",
        detectPhrases="true",
        enableSpeakerDiarization="true",
        diarizationSpeakerCount="1",
    )
    plain = (await api.get(f"/v1/conversations/{cid}/messages"))["messages"]
    assert "words" not in plain[0] and "sentiment" not in plain[0]
    rich = (await api.get(f"/v1/conversations/{cid}/messages", verbose="true", sentiment="true"))["messages"]
    words = rich[0]["words"]
    assert [w["word"] for w in words] == rich[0]["text"].split()
    assert {"word", "startTime", "endTime", "score", "timeOffset", "duration"} <= set(words[0])
    assert rich[0]["sentiment"]["suggested"] in ("positive", "neutral", "negative")
    phrased = [m for m in plain if "phrases" in m]
    assert phrased and phrased[0]["phrases"][0] == {
        "type": "action_phrase",
        "text": "send the hotel details to the team by Wednesday",
    }
    await api.get(f"/v1/conversations/{cid}/messages", status=400, verbose="yes")


async def test_without_diarization_messages_have_empty_from_and_no_members(api: Api) -> None:
    """No diarization: `from: {}` on every message and insight (no userId either) and an empty members list."""
    cid = await _done(api, "interview.wav")
    assert (await api.get(f"/v1/conversations/{cid}/members")) == {"members": []}
    messages = (await api.get(f"/v1/conversations/{cid}/messages"))["messages"]
    assert messages and all(m["from"] == {} for m in messages)
    insights = (await api.get(f"/v1/conversations/{cid}/insights"))["insights"]
    assert insights and all(i["from"] == {} for i in insights)


@pytest.mark.parametrize(("count", "members"), [("1", 1), ("2", 2), ("3", 3), ("4", 4)])
async def test_speaker_count_mismatch_folds_or_splits(api: Api, count: str, members: int) -> None:
    """Three true speakers: a lower count folds the least-talking into others, a higher one splits (§13 #9)."""
    cid = await _done(api, "planning-part1.wav", enableSpeakerDiarization="true", diarizationSpeakerCount=count)
    names = [m["name"] for m in (await api.get(f"/v1/conversations/{cid}/members"))["members"]]
    assert sorted(names) == [f"Speaker {n}" for n in range(1, members + 1)]


async def test_each_job_gets_new_member_ids(api: Api) -> None:
    """The same recording processed twice gives different member ids; names are only `Speaker n` (§13 #8)."""
    ids = []
    for _ in range(2):
        cid = await _done(api, "interview.wav", **DIARIZE)
        ids.append({m["id"] for m in (await api.get(f"/v1/conversations/{cid}/members"))["members"]})
    assert ids[0].isdisjoint(ids[1])


async def _members(api: Api, cid: str) -> list[dict[str, Any]]:
    members: list[dict[str, Any]] = (await api.get(f"/v1/conversations/{cid}/members"))["members"]
    return members


async def test_put_member_validation(api: Api) -> None:
    """PUT members: id must equal the path id, name non-empty, email valid; unknown ids → 404 (§13 #10)."""
    cid = await _done(api, "interview.wav", **DIARIZE)
    mid = (await _members(api, cid))[0]["id"]
    bad_bodies: list[Any] = [
        {"name": "Sofia"},
        {"id": "other", "name": "Sofia"},
        {"id": mid, "name": ""},
        {"id": mid},
        {"id": mid, "name": "Sofia", "email": "not-an-email"},
        {"id": mid, "name": "Sofia", "email": None},
        {"id": mid, "name": "Sofia", "role": "host"},
        ["not", "an", "object"],
    ]
    for body in bad_bodies:
        resp = await api.put_member(cid, mid, body)
        assert resp.status == 400, body
        assert "message" in await resp.json()
    resp = await api.put_member(cid, "00000000-0000-4000-8000-000000000000", {"id": "x", "name": "X"})
    assert resp.status == 404
    resp = await api.put_member("1234567890123456", mid, {"id": mid, "name": "X"})
    assert resp.status == 404
    assert (await api.control("stats"))["member_updates"] == 0


async def test_rename_follows_into_messages_and_insights(api: Api) -> None:
    """A rename with email shows in members, every message's `from` and insight `from`/`assignee` (§6)."""
    cid = await _done(api, "solo-memo.wav", enableSpeakerDiarization="true", diarizationSpeakerCount="1")
    mid = (await _members(api, cid))[0]["id"]
    resp = await api.put_member(cid, mid, {"id": mid, "name": "Tom Becker", "email": "tom@example.com"})
    assert resp.status == 200
    assert (await resp.json())["message"] == (
        f"Member with id: {mid} for conversationId: {cid} updated successfully! The update should be "
        "reflected in all messages and insights along with this conversation"
    )
    tom = {"id": mid, "name": "Tom Becker", "email": "tom@example.com"}
    assert await _members(api, cid) == [tom]
    messages = (await api.get(f"/v1/conversations/{cid}/messages"))["messages"]
    assert all(m["from"] == tom for m in messages)
    items = (await api.get(f"/v1/conversations/{cid}/action-items"))["actionItems"]
    speaker = tom | {"userId": "tom@example.com"}
    assert items and all(i["from"] == speaker and i["assignee"] == tom and i["type"] == "action_item" for i in items)


async def test_merge_rules(api: Api) -> None:
    """Merge only on an exact trimmed email of another member; survivor keeps id+email, takes the name (§13 #11)."""
    cid = await _done(api, "interview.wav", **DIARIZE)
    first, second = await _members(api, cid)
    ok = await api.put_member(cid, first["id"], {"id": first["id"], "name": "Sofia", "email": "sofia@example.com"})
    assert ok.status == 200
    same = await api.put_member(cid, first["id"], {"id": first["id"], "name": "Sofia", "email": "sofia@example.com"})
    assert same.status == 200 and len(await _members(api, cid)) == 2  # own email: a plain update
    upper = {"id": second["id"], "name": "S", "email": "SOFIA@example.com"}
    assert (await api.put_member(cid, second["id"], upper)).status == 200
    assert len(await _members(api, cid)) == 2  # case differs: no merge, just an email update
    merge = {"id": second["id"], "name": "Sofia Rossi", "email": "  sofia@example.com "}
    assert (await api.put_member(cid, second["id"], merge)).status == 200
    assert await _members(api, cid) == [{"id": first["id"], "name": "Sofia Rossi", "email": "sofia@example.com"}]
    messages = (await api.get(f"/v1/conversations/{cid}/messages"))["messages"]
    assert {m["from"]["id"] for m in messages} == {first["id"]}
    for path, key in (("questions", "questions"), ("follow-ups", "followUps"), ("insights", "insights")):
        items = (await api.get(f"/v1/conversations/{cid}/{path}"))[key]
        assert all(i["from"].get("id") == first["id"] for i in items), path
    resp = await api.put_member(cid, second["id"], merge)
    assert resp.status == 404  # the duplicate is gone
    assert (await api.control("stats"))["merges"] == 1


async def test_insight_endpoints_and_topics(api: Api) -> None:
    """questions / action-items / follow-ups / topics have their documented keys and shapes."""
    cid = await _done(api, "standup-part1.wav", **DIARIZE)
    questions = (await api.get(f"/v1/conversations/{cid}/questions"))["questions"]
    assert questions and all(q["type"] == "question" and q["text"].endswith("?") for q in questions)
    assert {"id", "text", "type", "score", "messageIds", "from"} <= set(questions[0])
    follow = (await api.get(f"/v1/conversations/{cid}/follow-ups"))["followUps"]
    assert follow and all(f["type"] == "follow_up" and "assignee" in f for f in follow)
    topics = (await api.get(f"/v1/conversations/{cid}/topics"))["topics"]
    assert {t["text"] for t in topics} == {"release", "budget"}
    messages = {m["id"]: m["text"] for m in (await api.get(f"/v1/conversations/{cid}/messages"))["messages"]}
    for topic in topics:
        assert topic["type"] == "topic" and all(topic["text"] in messages[i].lower() for i in topic["messageIds"])
    insights = (await api.get(f"/v1/conversations/{cid}/insights"))["insights"]
    assert {i["type"] for i in insights} == {"question", "action_item", "follow_up"}


async def test_topics_sentiment_and_parent_refs(api: Api) -> None:
    """topics: sentiment=true adds the mean polarity of its messages, parentRefs=true the hierarchy (§13 #23)."""
    cid = await _done(api, "planning-part1.wav")
    path = f"/v1/conversations/{cid}/topics"
    plain = {t["text"]: t for t in (await api.get(path))["topics"]}
    assert set(plain) == {"roadmap", "hiring"}
    assert all(set(t) == {"id", "text", "type", "score", "messageIds"} for t in plain.values())
    assert set(plain["hiring"]["messageIds"]) < set(plain["roadmap"]["messageIds"])
    messages = (await api.get(f"/v1/conversations/{cid}/messages", sentiment="true"))["messages"]
    polarity = {m["id"]: m["sentiment"]["polarity"]["score"] for m in messages}
    rich = {t["text"]: t for t in (await api.get(path, sentiment="true", parentRefs="true"))["topics"]}
    for text, topic in rich.items():
        assert {k: v for k, v in topic.items() if k not in ("sentiment", "parentRefs")} == plain[text]
        scores = [polarity[i] for i in topic["messageIds"]]
        assert topic["sentiment"]["polarity"]["score"] == round(sum(scores) / len(scores), 2)
        assert topic["sentiment"]["suggested"] in ("positive", "neutral", "negative")
    assert rich["hiring"]["parentRefs"] == [{"type": "topic", "text": "roadmap"}]
    assert rich["roadmap"]["parentRefs"] == []
    only_sentiment = (await api.get(path, sentiment="true"))["topics"]
    assert all("sentiment" in t and "parentRefs" not in t for t in only_sentiment)
    only_refs = (await api.get(path, parentRefs="true"))["topics"]
    assert all("parentRefs" in t and "sentiment" not in t for t in only_refs)
    assert (await api.get(path, sentiment="false", parentRefs="false"))["topics"] == list(plain.values())
    for bad in ({"sentiment": "yes"}, {"parentRefs": "1"}, {"parentRefs": "True"}):
        assert "true or false" in (await api.get(path, status=400, **bad))["message"]


async def test_insight_from_carries_user_id(api: Api) -> None:
    """Questions, action items, follow-ups: `from` has userId = the member's id, its email once set (§13 #24)."""
    cid = await _done(api, "standup-part1.wav", **DIARIZE)
    lists = (("questions", "questions"), ("action-items", "actionItems"), ("follow-ups", "followUps"))

    async def speakers() -> list[dict[str, Any]]:
        found = [i["from"] for path, key in lists for i in (await api.get(f"/v1/conversations/{cid}/{path}"))[key]]
        found += [i["from"] for i in (await api.get(f"/v1/conversations/{cid}/insights"))["insights"]]
        assert found and all(f for f in found)
        return found

    assert all(f == {"id": f["id"], "name": f["name"], "userId": f["id"]} for f in await speakers())
    for m in await _members(api, cid):
        email = f"{m['name'].replace(' ', '').lower()}@example.com"
        assert (await api.put_member(cid, m["id"], {"id": m["id"], "name": m["name"], "email": email})).status == 200
    members = {m["id"]: m for m in await _members(api, cid)}
    for f in await speakers():
        assert f == members[f["id"]] | {"userId": members[f["id"]]["email"]}
    messages = (await api.get(f"/v1/conversations/{cid}/messages"))["messages"]
    assert all("userId" not in m["from"] for m in messages)


async def test_documented_but_not_emulated_endpoints_answer_501(api: Api) -> None:
    """Endpoints of the contract this emulator does not implement say so with 501, never a silent 404."""
    resp = await api.http.post("/v1/process/text", json={"messages": []}, headers=api.auth)
    assert resp.status == 501 and "not emulated" in (await resp.json())["message"]
    assert (await api.http.get("/v1/conversations/1/summary", headers=api.auth)).status == 501
    resp = await api.http.get("/v1/nowhere", headers=api.auth)
    assert resp.status == 404 and "message" in await resp.json()
