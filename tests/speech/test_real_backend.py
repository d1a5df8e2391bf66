"""The local backend in real mode, driven over loopback with raw HTTP: what was said, by whom, in any format.

One server (two worker processes) serves every case, so the models load once for the module.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from batch.emulator.runtime import EMULATOR
from tests.speech import formats
from tests.support.server import APP_ID, APP_SECRET, CORPUS, Api, MakeApi

pytest.importorskip("faster_whisper", reason="the speech extra is not installed")


async def _wait(api: Api, job_ids: list[str], seconds: float = 240) -> dict[str, str]:
    """Poll every job until all are terminal (real processing takes real time)."""
    deadline, status = time.monotonic() + seconds, {}
    while time.monotonic() < deadline:
        status = {j: await api.job_status(j) for j in job_ids}
        if all(s in ("completed", "failed") for s in status.values()):
            return status
        await asyncio.sleep(0.3)
    raise AssertionError(f"jobs still running after {seconds} s: {status}")


DIARIZED = {"enableSpeakerDiarization": "true", "diarizationSpeakerCount": "2"}


def _words(messages: list[dict[str, Any]]) -> str:
    return " ".join(m["text"] for m in messages).lower()


async def test_real_mode_recognises_separates_and_fails_cleanly(make_api: MakeApi, tmp_path: Path) -> None:
    """Real words with timings and confidences, the members asked for (fewer only with too little speech), mp3
    and μ-law like WAV, silence gives no messages, bytes that are no medium fail the job with a reason, no diarization
    gives `from: {}`."""
    api = await make_api(mode="real", workers=2, concurrency_limit=10)
    interview = formats.pcm16(CORPUS / "media" / "interview.wav")
    mp3 = formats.encoded(interview, tmp_path / "interview.mp3", container="mp3", codec="libmp3lame")
    mulaw = formats.encoded(interview, tmp_path / "interview.wav", container="wav", codec="pcm_mulaw", rate=8000)
    short = tmp_path / "short.wav"  # one sentence of one voice: too little speech for the four voices asked
    short.write_bytes(formats.wav_bytes(interview[: 16_000 * 3], rate=16_000))
    silence = tmp_path / "silence.wav"
    quiet = np.random.default_rng(0).standard_normal(16_000 * 8).astype(np.float32) * 1e-4
    silence.write_bytes(formats.wav_bytes(quiet, rate=16_000))
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" + bytes(range(256)) * 40)
    diarized = {"enableSpeakerDiarization": "true"}
    jobs = {
        "panel-given": await api.submit(CORPUS / "media" / "panel.wav", **diarized, diarizationSpeakerCount="3"),
        "panel-more": await api.submit(CORPUS / "media" / "panel.wav", **diarized, diarizationSpeakerCount="5"),
        "mp3": await api.submit(mp3, **diarized, diarizationSpeakerCount="2"),
        "mulaw": await api.submit(mulaw, **diarized, diarizationSpeakerCount="2"),
        "silence": await api.submit(silence, **diarized, diarizationSpeakerCount="2"),
        "short": await api.submit(short, **diarized, diarizationSpeakerCount="4"),
        "junk": await api.submit(junk),
        "plain": await api.submit(CORPUS / "media" / "standup-part1.wav"),
    }
    status = await _wait(api, [j["jobId"] for j in jobs.values()])
    expected = {k: "failed" if k == "junk" else "completed" for k in jobs}
    assert {k: status[j["jobId"]] for k, j in jobs.items()} == expected

    async def read(key: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        conv = jobs[key]["conversationId"]
        messages = (await api.get(f"/v1/conversations/{conv}/messages", verbose="true"))["messages"]
        return messages, (await api.get(f"/v1/conversations/{conv}/members"))["members"]

    for key, allowed in (("panel-given", {3}), ("panel-more", {3, 4, 5})):  # asked 5 of 3 voices: at most 5
        messages, members = await read(key)
        assert len(members) in allowed
        text = _words(messages)
        assert "welcome to the panel" in text and "accessibility" in text and "unscripted" not in text
        word = messages[0]["words"][0]
        assert {"word", "startTime", "endTime", "score"} <= set(word) and 0 < word["score"] <= 1
        assert {m["from"]["id"] for m in messages} == {m["id"] for m in members}  # every member speaks
    for key in ("mp3", "mulaw"):
        messages, members = await read(key)
        assert len(members) == 2 and "five engineers" in _words(messages)
    assert await read("silence") == ([], [])
    messages, members = await read("short")
    assert len(members) == 1 and "thank you for coming" in _words(messages)
    messages, members = await read("plain")
    assert members == [] and messages and all(m["from"] == {} for m in messages)
    questions = (await api.get(f"/v1/conversations/{jobs['plain']['conversationId']}/questions"))["questions"]
    assert any("ready for testing" in q["text"].lower() for q in questions)
    failed = next(j for j in (await api.control("jobs"))["jobs"] if j["id"] == jobs["junk"]["jobId"])
    assert "could not be" in failed["failure"]
    kept = api.http.app[EMULATOR].backend.kept  # without a data dir, uploads go once their jobs end
    assert kept is not None and not any(kept.folder.iterdir())


async def test_real_mode_refuses_languages_the_model_does_not_know(make_api: MakeApi) -> None:
    """languageCode outside English: 400 at submit, naming what works; nothing is queued."""
    api = await make_api(mode="real", workers=1)
    resp = await api.upload(CORPUS / "media" / "panel.wav", languageCode="es-ES")
    assert resp.status == 400
    assert "English" in (await resp.json())["message"]
    assert (await api.control("stats")).get("jobs_submitted", 0) == 0


async def test_faults_limits_and_control_plane_work_in_real_mode(make_api: MakeApi, tmp_path: Path) -> None:
    """Real mode keeps the account limit (429 past it), scripted faults (a job that ends failed) and the
    control plane's job timelines."""
    faults = {"script": {"POST /v1/process/audio": ["pass", "pass", "job_failed"]}}
    api = await make_api(mode="real", workers=1, concurrency_limit=1, faults=faults)
    clip = tmp_path / "clip.wav"
    four_seconds = formats.pcm16(CORPUS / "media" / "interview.wav")[: 16_000 * 4]
    clip.write_bytes(formats.wav_bytes(four_seconds, rate=16_000))
    kept = await api.submit(clip)
    refused = await api.upload(clip)  # the one job slot of the account is taken while the first is heard
    assert refused.status == 429
    assert (await _wait(api, [kept["jobId"]]))[kept["jobId"]] == "completed"
    doomed = await api.submit(clip)
    assert (await _wait(api, [doomed["jobId"]]))[doomed["jobId"]] == "failed"
    timeline = {j["id"]: j for j in (await api.control("jobs"))["jobs"]}
    assert timeline[kept["jobId"]]["endsAt"] >= timeline[kept["jobId"]]["startedAt"]
    stats = await api.control("stats")
    assert stats["rejected_429"] == 1 and stats["peak_concurrent_jobs"] == 1


async def test_real_mode_restart_keeps_results_and_redoes_interrupted_work(aiohttp_client: Any, tmp_path: Path) -> None:
    """Kept data in real mode: a job cut off by a restart is heard again from its kept upload and completes;
    a second restart changes nothing that was finished; its append lands in the same conversation."""
    from batch.emulator.app import create_app  # noqa: PLC0415
    from batch.emulator.backend import Settings  # noqa: PLC0415
    from batch.emulator.clock import ManualClock  # noqa: PLC0415

    async def serve() -> Api:
        settings = Settings(app_id=APP_ID, app_secret=APP_SECRET, mode="real", workers=1)
        return Api(await aiohttp_client(create_app(settings, clock=ManualClock(), data_dir=tmp_path)), ManualClock())

    api = await serve()
    token = await api.login()
    first = await api.submit(CORPUS / "media" / "standup-part1.wav", **DIARIZED)
    await api.http.close()  # the server stops while the job is heard
    api = await serve()
    api.token = token
    assert (await _wait(api, [first["jobId"]]))[first["jobId"]] == "completed"
    cid = first["conversationId"]
    messages = (await api.get(f"/v1/conversations/{cid}/messages"))["messages"]
    assert "release plan" in _words(messages)
    second = await api.submit(CORPUS / "media" / "standup-part2.wav", conversation_id=cid, **DIARIZED)
    assert (await _wait(api, [second["jobId"]]))[second["jobId"]] == "completed"
    before = (await api.get(f"/v1/conversations/{cid}/messages"))["messages"]
    await api.http.close()
    api = await serve()
    api.token = token
    assert (await api.get(f"/v1/conversations/{cid}/messages"))["messages"] == before
    assert len(before) > len(messages) and "design" in _words(before)
    assert not any((tmp_path / "media").iterdir())  # kept uploads go once their jobs are done
