"""Async submission (§2-3, §13 #1-3, #15-16): uploads, URL variants, appends, validation, the 429 at the limit."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.support.server import Api, MakeApi, media

WAV = media("solo-memo.wav")
MP4 = media("video-brief.mp4")


async def test_upload_answers_201_with_ids(api: Api) -> None:
    """A raw WAV upload answers 201 {conversationId: 16 digits, jobId: UUID}."""
    body = await api.submit(WAV)
    assert set(body) == {"conversationId", "jobId"}
    assert re.fullmatch(r"\d{16}", body["conversationId"])
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", body["jobId"])


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        (None, 201),
        ("application/octet-stream", 201),
        ("audio/wav", 201),
        ("audio/wave", 201),
        ("audio/mpeg", 400),  # named type does not match the WAV bytes
        ("audio/ogg", 400),
        ("text/plain", 400),
    ],
)
async def test_audio_content_type_rules(api: Api, content_type: str | None, status: int) -> None:
    """Audio Content-Type: optional, but when named it must be a documented type matching the bytes."""
    resp = await api.upload(WAV, content_type=content_type)
    assert resp.status == status
    if status == 400:
        assert "Content-Type" in (await resp.json())["message"]


async def test_video_needs_mp4(api: Api) -> None:
    """Video: Content-Type video/mp4 is mandatory and the bytes must be mp4."""
    assert (await api.upload(MP4, kind="video")).status == 201
    assert (await api.upload(MP4, kind="video", content_type="application/octet-stream")).status == 400
    resp = await api.upload(WAV, kind="video", content_type="video/mp4")
    assert resp.status == 400 and "mp4" in (await resp.json())["message"]


async def test_content_length_is_required(api: Api) -> None:
    """A chunked upload with no Content-Length is refused with 400 naming the header."""

    async def chunks() -> AsyncIterator[bytes]:
        yield WAV.read_bytes()

    resp = await api.http.post("/v1/process/audio", data=chunks(), headers=api.auth)
    assert resp.status == 400 and "Content-Length" in (await resp.json())["message"]


async def test_empty_and_oversized_uploads(make_api: MakeApi) -> None:
    """An empty body is a 400; a body above --max-upload-bytes is a 413 (§13 #15)."""
    api = await make_api(max_upload_bytes=1000)
    assert (await api.upload(b"")).status == 400
    resp = await api.upload(WAV)
    assert resp.status == 413 and "limit" in (await resp.json())["message"]
    assert (await api.control("stats"))["jobs_submitted"] == 0


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"mode": "fast"}, "mode"),
        ({"enableSpeakerDiarization": "yes", "diarizationSpeakerCount": "2"}, "enableSpeakerDiarization"),
        ({"enableSpeakerDiarization": "true", "diarizationSpeakerCount": "0"}, "diarizationSpeakerCount"),
        ({"enableSpeakerDiarization": "true", "diarizationSpeakerCount": "-1"}, "diarizationSpeakerCount"),
        ({"enableSpeakerDiarization": "true", "diarizationSpeakerCount": "1.5"}, "diarizationSpeakerCount"),
        ({"enableSpeakerDiarization": "true", "diarizationSpeakerCount": "2.5"}, "diarizationSpeakerCount"),
        ({"enableSpeakerDiarization": "true", "diarizationSpeakerCount": "abc"}, "diarizationSpeakerCount"),
        ({"enableSpeakerDiarization": "true", "diarizationSpeakerCount": "0.0"}, "diarizationSpeakerCount"),
        ({"enableSpeakerDiarization": "true", "diarizationSpeakerCount": "\u00b2"}, "diarizationSpeakerCount"),
        ({"enableSpeakerDiarization": "true"}, "diarizationSpeakerCount"),
        ({"enableSpeakerDiarization": "true", "diarizationSpeakerCount": "2", "languageCode": "de-DE"}, "English"),
        ({"languageCode": "xx-XX"}, "languageCode"),
        ({"confidenceThreshold": "2"}, "confidenceThreshold"),
        ({"confidenceThreshold": "high"}, "confidenceThreshold"),
        ({"webhookUrl": "ftp://example.com/hook"}, "webhookUrl"),
        ({"entities": '[{"text": "x"}]'}, "entities"),
        ({"channelMetadata": '[{"channel": 1, "speaker": {}}]'}, "channelMetadata"),
        ({"diarisation": "true"}, "diarisation"),
        ({"url": "http://127.0.0.1/x.wav"}, "url"),
    ],
)
async def test_invalid_parameters_get_400_naming_them(api: Api, params: dict[str, str], needle: str) -> None:
    """Each invalid or unknown parameter is a 400 whose message names it; nothing is created."""
    resp = await api.upload(WAV, **params)
    assert resp.status == 400
    assert needle in (await resp.json())["message"]
    assert (await api.control("stats"))["jobs_submitted"] == 0


@pytest.mark.parametrize("count", ["2.0", "2.00", "02"])
async def test_whole_number_speaker_count_in_query_is_accepted(api: Api, count: str) -> None:
    """diarizationSpeakerCount=2.0 in the query is the whole number 2 (§13 #22)."""
    created = await api.submit(media("interview.wav"), enableSpeakerDiarization="true", diarizationSpeakerCount=count)
    assert await api.finish(created["jobId"]) == "completed"
    members = await api.get(f"/v1/conversations/{created['conversationId']}/members")
    assert sorted(m["name"] for m in members["members"]) == ["Speaker 1", "Speaker 2"]


async def test_list_parameters_accept_json_and_repeated_keys(api: Api) -> None:
    """customVocabulary may be JSON-encoded (Python SDK) or a repeated key (Go SDK); both are accepted."""
    assert (await api.upload(WAV, customVocabulary='["Symbl", "Becker"]')).status == 201
    resp = await api.http.post(
        "/v1/process/audio?customVocabulary=Symbl&customVocabulary=Becker", data=WAV.read_bytes(), headers=api.auth
    )
    assert resp.status == 201
    entities = '[{"customType": "person", "text": "Tom"}]'
    assert (await api.upload(WAV, entities=entities, detectEntities="true", mode="phone")).status == 201


async def test_append_to_unknown_conversation_is_404(api: Api) -> None:
    """PUT /v1/process/audio/{id} for a conversation that does not exist → 404."""
    resp = await api.upload(WAV, conversation_id="1234567890123456")
    assert resp.status == 404 and "conversationId" in (await resp.json())["message"]


async def test_limit_answers_429_with_documented_body(make_api: MakeApi) -> None:
    """At the account limit one more submit is a 429 with statusCode and message, no Retry-After (§13 #1-2)."""
    api = await make_api(concurrency_limit=2)
    first = await api.submit(WAV)
    await api.submit(WAV)
    resp = await api.upload(WAV)
    assert resp.status == 429 and "Retry-After" not in resp.headers
    assert await resp.json() == {
        "statusCode": 429,
        "message": "This API has a limit of maximum of `2` number of concurrent jobs per account. If you are "
        "looking to scale, and need more concurrent jobs than this limit, please contact us at support@symbl.ai",
    }
    assert await api.finish(first["jobId"]) == "completed"
    appended = await api.submit(WAV, conversation_id=first["conversationId"])
    queued = await api.submit(WAV, conversation_id=first["conversationId"])
    assert await api.job_status(queued["jobId"]) == "scheduled"
    assert (await api.upload(WAV)).status == 429  # a running and a queued append count as jobs
    await api.finish(appended["jobId"])
    stats = await api.control("stats")
    assert (stats["rejected_429"], stats["peak_concurrent_jobs"], stats["jobs_submitted"]) == (2, 2, 4)


@pytest.fixture
async def media_server(aiohttp_server: Any) -> Any:
    """A loopback web server that serves corpus files, redirects, and errors."""

    async def serve(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name == "moved.wav":
            raise web.HTTPFound("/files/solo-memo.wav")
        if name == "missing.wav":
            raise web.HTTPNotFound()
        return web.FileResponse(media(name))

    app = web.Application()
    app.router.add_get("/files/{name}", serve)
    return await aiohttp_server(app)


async def test_url_submission_fetches_and_recognises_corpus_media(api: Api, media_server: Any) -> None:
    """POST .../url fetches the media (renamed URL, same bytes) and yields the same ground truth as an upload."""
    url = str(media_server.make_url("/files/solo-memo.wav")) + "?renamed=memo-copy.wav"
    resp = await api.http.post("/v1/process/audio/url", json={"url": url, "name": "memo"}, headers=api.auth)
    assert resp.status == 201, await resp.text()
    by_url = await resp.json()
    by_upload = await api.submit(WAV)
    texts = []
    for created in (by_url, by_upload):
        await api.finish(created["jobId"])
        messages = await api.get(f"/v1/conversations/{created['conversationId']}/messages")
        texts.append([m["text"] for m in messages["messages"]])
    assert texts[0] == texts[1] and texts[0][0].startswith("This is Tom Becker speaking")
    convs = (await api.get("/v1/conversations", filter="name==memo"))["conversations"]
    assert [c["id"] for c in convs] == [by_url["conversationId"]]


async def test_url_variant_rules(api: Api, media_server: Any) -> None:
    """URL variants: url required, loopback only, no redirects, JSON only, diarization query wins, append 404."""
    good = str(media_server.make_url("/files/solo-memo.wav"))
    cases: list[tuple[Any, dict[str, str], int, str]] = [
        ({}, {}, 400, "url"),
        ({"url": "https://example.com/a.wav"}, {}, 400, "loopback"),
        ({"url": str(media_server.make_url("/files/moved.wav"))}, {}, 400, "redirect"),
        ({"url": str(media_server.make_url("/files/missing.wav"))}, {}, 400, "404"),
        ({"url": good}, {"mode": "phone"}, 400, "JSON body"),
        ({"url": good, "enableSpeakerDiarization": "true"}, {}, 400, "enableSpeakerDiarization"),
    ]
    for body, query, status, needle in cases:
        resp = await api.http.post("/v1/process/audio/url", json=body, params=query, headers=api.auth)
        assert resp.status == status, (body, query)
        assert needle in (await resp.json())["message"], (body, query)
    resp = await api.http.post("/v1/process/audio/url", data="url=x", headers=api.auth)
    assert resp.status == 400
    body = {"url": good, "enableSpeakerDiarization": False, "diarizationSpeakerCount": 5}
    query = {"enableSpeakerDiarization": "true", "diarizationSpeakerCount": "1"}
    resp = await api.http.post("/v1/process/audio/url", json=body, params=query, headers=api.auth)
    assert resp.status == 201
    created = await resp.json()
    await api.finish(created["jobId"])
    members = await api.get(f"/v1/conversations/{created['conversationId']}/members")
    assert [m["name"] for m in members["members"]] == ["Speaker 1"]  # the query's diarization won
    resp = await api.http.put("/v1/process/audio/url/1234567890123456", json={"url": good}, headers=api.auth)
    assert resp.status == 404
    resp = await api.http.put(
        f"/v1/process/audio/url/{created['conversationId']}", json={"url": good}, headers=api.auth
    )
    assert resp.status == 201 and (await resp.json())["conversationId"] == created["conversationId"]
    video = str(media_server.make_url("/files/video-brief.mp4"))
    assert (await api.http.post("/v1/process/video/url", json={"url": video}, headers=api.auth)).status == 201
    assert (await api.http.post("/v1/process/video/url", json={"url": good}, headers=api.auth)).status == 400


async def _names_after(api: Api, resp: Any) -> tuple[str, list[str]]:
    """The conversation a 201 submission made and its member names once the job completed."""
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert await api.finish(created["jobId"]) == "completed"
    members = await api.get(f"/v1/conversations/{created['conversationId']}/members")
    return created["conversationId"], sorted(m["name"] for m in members["members"])


async def test_url_body_accepts_symbl_style_strings(api: Api, media_server: Any) -> None:
    """URL bodies: "2" / 2.0 for the count and "true"/"false" for booleans work on POST and PUT (§13 #21-22)."""
    url = str(media_server.make_url("/files/interview.wav"))
    body = {"url": url, "enableSpeakerDiarization": "true", "diarizationSpeakerCount": "2", "detectPhrases": "false"}
    cid, names = await _names_after(api, await api.http.post("/v1/process/audio/url", json=body, headers=api.auth))
    assert names == ["Speaker 1", "Speaker 2"]
    native = {"url": url, "enableSpeakerDiarization": True, "diarizationSpeakerCount": 2.0}
    put = await api.http.put(f"/v1/process/audio/url/{cid}", json=native, headers=api.auth)
    assert await _names_after(api, put) == (cid, ["Speaker 1", "Speaker 1", "Speaker 2", "Speaker 2"])  # 2 new
    off = {"url": url, "enableSpeakerDiarization": "false", "diarizationSpeakerCount": "3"}
    _, names = await _names_after(api, await api.http.post("/v1/process/audio/url", json=off, headers=api.auth))
    assert names == []
    video = {"url": str(media_server.make_url("/files/video-brief.mp4")), "enableSummary": "false"}
    assert (await api.http.post("/v1/process/video/url", json=video, headers=api.auth)).status == 201


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"diarizationSpeakerCount": "two"}, "diarizationSpeakerCount"),
        ({"diarizationSpeakerCount": "2.5"}, "diarizationSpeakerCount"),
        ({"diarizationSpeakerCount": 2.5}, "diarizationSpeakerCount"),
        ({"diarizationSpeakerCount": "0"}, "diarizationSpeakerCount"),
        ({"diarizationSpeakerCount": " 2"}, "diarizationSpeakerCount"),
        ({"diarizationSpeakerCount": True}, "diarizationSpeakerCount"),
        ({"diarizationSpeakerCount": [2]}, "diarizationSpeakerCount"),
        ({"enableSpeakerDiarization": "yes", "diarizationSpeakerCount": "2"}, "enableSpeakerDiarization"),
        ({"enableSpeakerDiarization": "True", "diarizationSpeakerCount": "2"}, "enableSpeakerDiarization"),
        ({"enableSpeakerDiarization": 1, "diarizationSpeakerCount": "2"}, "enableSpeakerDiarization"),
        ({"detectPhrases": ""}, "detectPhrases"),
    ],
)
async def test_url_body_still_refuses_other_values(
    api: Api, media_server: Any, extra: dict[str, Any], needle: str
) -> None:
    """Beyond those strings, a URL body value of the wrong type is a 400 naming the parameter; nothing is made."""
    body = {"url": str(media_server.make_url("/files/interview.wav"))} | extra
    resp = await api.http.post("/v1/process/audio/url", json=body, headers=api.auth)
    assert resp.status == 400
    assert (await resp.json())["message"].startswith(f"Invalid value for parameter '{needle}'")
    assert (await api.control("stats"))["jobs_submitted"] == 0


async def test_identical_posts_make_two_conversations(api: Api) -> None:
    """The server has no duplicate detection: the same upload twice is two conversations (§13 #18)."""
    first, second = await api.submit(WAV, name="same"), await api.submit(WAV, name="same")
    assert first["conversationId"] != second["conversationId"]
    found = await api.get("/v1/conversations", filter="name==same")
    assert len(found["conversations"]) == 2


async def test_video_appends_by_upload_and_by_url(api: Api, media_server: Any) -> None:
    """PUT /v1/process/video/{id} and PUT /v1/process/video/url/{id} append to the same conversation."""
    created = await api.submit(MP4, kind="video")
    cid = created["conversationId"]
    await api.finish(created["jobId"])
    appended = await api.submit(MP4, kind="video", conversation_id=cid)
    assert appended["conversationId"] == cid
    await api.finish(appended["jobId"])
    url = str(media_server.make_url("/files/video-brief.mp4"))
    resp = await api.http.put(f"/v1/process/video/url/{cid}", json={"url": url}, headers=api.auth)
    assert resp.status == 201
    await api.finish((await resp.json())["jobId"])
    state = await api.control("state")
    (conv,) = state["conversations"]
    assert [s["mediaKind"] for s in conv["segments"]] == ["mp4", "mp4", "mp4"]
    assert len(conv["messages"]) == 9
