"""The control plane under /_emulator/: reset, config, stats, request log without secrets, jobs, state, clock."""

from __future__ import annotations

import json

from tests.support.server import APP_SECRET, Api, MakeApi, media

WAV = media("solo-memo.wav")


async def test_stats_have_the_documented_counters(api: Api) -> None:
    """stats carries every counter the issue names, starting at zero."""
    stats = await api.control("stats")
    for key in (
        "peak_concurrent_jobs",
        "conversations_created",
        "jobs_submitted",
        "appends",
        "rejected_429",
        "member_updates",
        "merges",
    ):
        assert stats[key] == 0


async def test_config_changes_the_limit_and_reset_clears_state(api: Api) -> None:
    """config sets the concurrency limit live; reset forgets conversations, jobs, tokens and counters."""
    config = await api.control("config", {"concurrency_limit": 1})
    assert config["concurrency_limit"] == 1
    await api.submit(WAV)
    assert (await api.upload(WAV)).status == 429
    await api.control("reset", {})
    assert (await api.control("stats"))["jobs_submitted"] == 0
    assert (await api.http.get("/v1/conversations", headers=api.auth)).status == 401  # tokens were forgotten
    resp = await api.http.post("/_emulator/config", json={"concurrency_limit": -1})
    assert resp.status == 400


async def test_request_log_never_holds_secrets(api: Api) -> None:
    """The request log records method, path, status and auth scheme, never the token or the app secret."""
    await api.submit(WAV)
    log = await api.control("requests")
    text = json.dumps(log)
    assert api.token not in text and APP_SECRET not in text
    paths = [(r["method"], r["path"], r["status"]) for r in log["requests"]]
    assert ("POST", "/oauth2/token:generate", 200) in paths and ("POST", "/v1/process/audio", 201) in paths
    assert log["requests"][-1]["auth"] == "bearer"


async def test_state_lists_segments_members_and_messages(api: Api) -> None:
    """state shows each conversation's segments (job, media hash, params, messages), members and messages."""
    created = await api.submit(WAV, enableSpeakerDiarization="true", diarizationSpeakerCount="1")
    await api.finish(created["jobId"])
    state = await api.control("state")
    (conv,) = state["conversations"]
    (segment,) = conv["segments"]
    assert segment["jobId"] == created["jobId"] and segment["status"] == "completed"
    assert segment["params"] == {"enableSpeakerDiarization": True, "diarizationSpeakerCount": 1}
    assert segment["messageIds"] == [m["id"] for m in conv["messages"]] and len(conv["members"]) == 1


async def test_manual_clock_advances_through_the_control_plane(make_api: MakeApi) -> None:
    """POST /_emulator/clock {advance} moves a manual clock and progresses jobs."""
    api = await make_api(time_scale=1.0)
    created = await api.submit(WAV)
    await api.control("clock", {"advance": 60})
    assert await api.job_status(created["jobId"]) == "completed"
    resp = await api.http.post("/_emulator/clock", json={"advance": -1})
    assert resp.status == 400


async def test_jobs_record_each_timeline_and_its_polls(make_api: MakeApi) -> None:
    """GET /_emulator/jobs: submitted, started, ended and first reported ended (clock seconds), and the polls a
    job received; a poll before the end does not count as its report."""
    api = await make_api(time_scale=1.0)
    created = await api.submit(WAV)
    assert await api.job_status(created["jobId"]) in ("scheduled", "in_progress")
    await api.control("clock", {"advance": 120})
    assert await api.job_status(created["jobId"]) == "completed"
    assert await api.job_status(created["jobId"]) == "completed"
    (job,) = (await api.control("jobs"))["jobs"]
    assert job["id"] == created["jobId"] and job["statusRequests"] == 3
    assert job["submittedAt"] < job["startedAt"] < job["endsAt"] <= job["reportedAt"]
    assert job["reportedAt"] - job["endsAt"] < 120
