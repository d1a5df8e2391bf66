"""Jobs (§4, §13 #4-7, #12-13): lifecycle on the clock, ordering of appends, timestamps, failure, webhooks."""

from __future__ import annotations

import asyncio
import io
import json
import wave
from datetime import datetime
from typing import Any

import numpy as np
from aiohttp import web

from tests.support.server import CORPUS, Api, MakeApi, media
from tests.support.waiting import eventually

PART1, PART2 = media("standup-part1.wav"), media("standup-part2.wav")
DIARIZE = {"enableSpeakerDiarization": "true", "diarizationSpeakerCount": "2"}


def _script(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / "scripts" / f"{name}.json").read_text())
    return data


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def test_lifecycle_follows_media_duration_times_scale(make_api: MakeApi) -> None:
    """scheduled → in_progress → completed, finishing at duration × time scale; the body is exactly {id, status}."""
    api = await make_api(time_scale=0.5)
    job = (await api.submit(PART1))["jobId"]
    assert await api.get(f"/v1/job/{job}") == {"id": job, "status": "scheduled"}
    api.clock.advance(1.0)
    assert await api.job_status(job) == "in_progress"
    processing = _script("standup-part1")["duration"] * 0.5
    api.clock.advance(processing - 1.5)
    assert await api.job_status(job) == "in_progress"
    api.clock.advance(1.0)
    assert await api.job_status(job) == "completed"


async def test_time_scale_zero_finishes_on_next_poll(make_api: MakeApi) -> None:
    """With --time-scale 0 the next poll already sees the job completed."""
    api = await make_api(time_scale=0.0)
    job = (await api.submit(PART1))["jobId"]
    assert await api.job_status(job) == "completed"


async def test_unknown_job_is_404(api: Api) -> None:
    """GET /v1/job/{unknown} → 404 with a message (§13 #4)."""
    body = await api.get("/v1/job/9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d", status=404)
    assert set(body) == {"message"}


async def test_appends_run_in_order_and_are_anchored_after_the_previous_segment(make_api: MakeApi) -> None:
    """An append waits `scheduled` behind its conversation's running job; its messages start after part 1's."""
    api = await make_api(time_scale=0.5)
    first = await api.submit(PART1, **DIARIZE)
    cid = first["conversationId"]
    second = await api.submit(PART2, conversation_id=cid, **DIARIZE)
    api.clock.advance(5)
    assert (await api.job_status(first["jobId"]), await api.job_status(second["jobId"])) == ("in_progress", "scheduled")
    partial = await api.get(f"/v1/conversations/{cid}/messages")
    assert partial["messages"] == []  # §13 #12: nothing until a segment completes
    await api.finish(first["jobId"])
    done_part1 = (await api.get(f"/v1/conversations/{cid}/messages"))["messages"]
    assert len(done_part1) == len(_script("standup-part1")["utterances"])
    assert await api.job_status(second["jobId"]) == "in_progress"
    await api.finish(second["jobId"])
    messages = (await api.get(f"/v1/conversations/{cid}/messages"))["messages"]
    script1, script2 = _script("standup-part1"), _script("standup-part2")
    assert [m["text"] for m in messages] == [u["text"] for u in script1["utterances"] + script2["utterances"]]
    starts = [_epoch(m["startTime"]) for m in messages]
    assert starts == sorted(starts)
    n1 = len(script1["utterances"])
    part1_end = max(_epoch(m["endTime"]) for m in messages[:n1])
    gap = starts[n1] - script2["utterances"][0]["start"] - part1_end
    assert gap >= 0  # anchored at max(previous end, job start)
    for m, u in zip(messages[:n1], script1["utterances"], strict=True):
        assert abs((_epoch(m["startTime"]) - starts[0]) - (u["start"] - script1["utterances"][0]["start"])) < 0.002
        assert abs(m["timeOffset"] - (_epoch(m["startTime"]) - starts[0])) <= 0.005 + 1e-6  # to 2 decimals
        assert m["duration"] == round(u["end"] - u["start"], 2)
    assert gap < 0.5  # the queued append started as soon as part 1 ended


async def test_the_same_medium_gets_the_same_times_in_its_segment_whatever_the_clock(api: Api) -> None:
    """Messages are at whole milliseconds of the medium from their segment's start: three conversations of one
    medium, started at clock times a fraction of a millisecond apart, report the same relative times to the
    millisecond (a client cuts each member's speech by them, so they must not move from run to run)."""
    relative = []
    for fraction in (0.0, 0.0004, 0.0007):
        api.clock.advance(3 + fraction)
        job = await api.submit(PART1, **DIARIZE)
        assert await api.finish(job["jobId"]) == "completed"
        messages = (await api.get(f"/v1/conversations/{job['conversationId']}/messages"))["messages"]
        ms = [round(_epoch(m[key]) * 1000) for m in messages for key in ("startTime", "endTime")]
        relative.append([t - ms[0] for t in ms])
    assert relative[0] == relative[1] == relative[2]


async def test_a_late_append_is_anchored_at_its_own_job_start(api: Api) -> None:
    """An append submitted an hour later starts an hour later: timeOffset includes the gap (§13 #7)."""
    first = await api.submit(PART1)
    await api.finish(first["jobId"])
    api.clock.advance(3600)
    second = await api.submit(PART2, conversation_id=first["conversationId"])
    await api.finish(second["jobId"])
    messages = (await api.get(f"/v1/conversations/{first['conversationId']}/messages"))["messages"]
    n1 = len(_script("standup-part1")["utterances"])
    assert messages[n1]["timeOffset"] > 3600


async def test_unrecognisable_bytes_make_a_failed_job(api: Api) -> None:
    """Bytes that are no known media are accepted (201) and the job ends `failed`, producing nothing."""
    created = await api.submit(b"this is not audio at all" * 100)  # type: ignore[arg-type]
    assert await api.finish(created["jobId"]) == "failed"
    assert (await api.get(f"/v1/conversations/{created['conversationId']}/messages"))["messages"] == []


def _tone_wav(bursts: list[tuple[float, float]], seconds: float = 6.0) -> bytes:
    rate = 16000
    samples = np.zeros(int(rate * seconds), dtype=np.float32)
    t = np.arange(len(samples)) / rate
    for start, end in bursts:
        mask = (t >= start) & (t < end)
        samples[mask] = 0.3 * np.sin(2 * np.pi * 220 * t[mask])
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((samples * 32767).astype("<i2").tobytes())
    return out.getvalue()


async def test_media_without_script_gets_deterministic_placeholder_segments(api: Api) -> None:
    """A WAV not in the corpus yields one placeholder message per speech-activity segment, same every time."""
    data = _tone_wav([(0.5, 1.5), (2.5, 4.0)])
    results = []
    for _ in range(2):
        created = await api.submit(data, **DIARIZE)  # type: ignore[arg-type]
        await api.finish(created["jobId"])
        messages = (await api.get(f"/v1/conversations/{created['conversationId']}/messages"))["messages"]
        results.append([(m["text"], m["duration"]) for m in messages])
    assert results[0] == results[1]
    assert [text for text, _ in results[0]] == ["Unscripted speech segment 1.", "Unscripted speech segment 2."]
    assert [round(d) for _, d in results[0]] == [1, 2]


async def test_webhooks_post_every_transition(make_api: MakeApi, aiohttp_server: Any) -> None:
    """webhookUrl receives {jobId, id, status} for scheduled, in_progress and completed, in order (§13 #13)."""
    received: list[dict[str, str]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    api = await make_api()
    created = await api.submit(PART1, webhookUrl=str(server.make_url("/hook")))
    await api.finish(created["jobId"], step=5)
    for _ in range(100):
        if len(received) == 3:
            break
        await asyncio.sleep(0.02)
    job = created["jobId"]
    assert received == [{"jobId": job, "id": job, "status": s} for s in ("scheduled", "in_progress", "completed")]


async def test_webhooks_to_other_hosts_are_suppressed(api: Api) -> None:
    """A webhook to a non-loopback host is accepted but never sent (no traffic leaves the machine)."""
    created = await api.submit(PART1, webhookUrl="https://hooks.example.com/symbl")
    await api.finish(created["jobId"], step=5)
    stats = await eventually(lambda: api.control("stats"), lambda s: s.get("webhooks_suppressed") == 3, what="notices")
    assert stats.get("webhooks_sent", 0) == 0
