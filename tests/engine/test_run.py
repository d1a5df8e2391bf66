"""The engine end to end: real client, real runner, the emulator on loopback, outcomes asserted on both sides."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from batch import LockedError, load_manifest, open_run
from batch.client import RetryPolicy
from batch.saving import SAVE_ROUNDS
from batch.webhooks import Receiver, path_secret
from tests.support.demo import DEMO_SHAPE
from tests.support.emulator import FAST, SINGLES, MakeEmulator, write_manifest
from tests.support.outputs import outputs_equal_server
from tests.support.server import ROOT

DEMO = ROOT / "manifests" / "demo.toml"


async def test_demo_manifest_runs_exactly_once_with_appends_in_order(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    """The demo manifest: every segment saved once, appends in manifest order and never overlapping."""
    emu = await make_emulator()
    report = await emu.run(DEMO, output=tmp_path / "out")
    assert report.ok and report.totals == {"saved": 10}
    stats = await emu.control("stats")
    assert (stats["conversations_created"], stats["appends"], stats["jobs_submitted"]) == (7, 3, 10)
    assert stats["queued_appends"] == 0 and stats["peak_concurrent_jobs"] <= 5
    state = await emu.control("state")
    manifest = load_manifest(DEMO, environ=emu.env())
    hashes = {c["id"]: [s["mediaSha256"] for s in c["segments"]] for c in state["conversations"]}
    ids = {row["conversation"]: row["conversationId"] for row in report.segments}
    for conv in manifest.conversations:
        expected = [hashlib.sha256(s.file.read_bytes()).hexdigest() for s in conv.segments if s.file]
        assert hashes[ids[conv.id]] == expected
    written = json.loads((tmp_path / "out" / "report.json").read_text())
    assert outputs_equal_server(tmp_path / "out", state, written) == DEMO_SHAPE.conversations
    ledger = json.loads((tmp_path / "out" / "standup" / "segments.json").read_text())
    assert [len(s["messageIds"]) for s in ledger] == [8, 8]


@pytest.mark.parametrize("limit", [2, 5])
async def test_the_account_limit_is_never_exceeded(make_emulator: MakeEmulator, tmp_path: Path, limit: int) -> None:
    """With the ceiling at the limit, the emulator's peak never exceeds it and no 429 is needed. Jobs last about
    a second (time scale 0.05), so on a loaded machine the ceiling still fills before the first one ends."""
    emu = await make_emulator(concurrency_limit=limit, time_scale=0.05)
    manifest = write_manifest(tmp_path, [(f"r{i}", [SINGLES[i % 6]]) for i in range(12)], concurrency=limit)
    report = await emu.run(manifest)
    stats = await emu.control("stats")
    assert report.ok
    assert stats["peak_concurrent_jobs"] == limit and stats["rejected_429"] == 0 and stats["jobs_submitted"] == 12


@pytest.mark.parametrize("limit", [2, 5])
async def test_the_controller_learns_the_limit_from_429s(
    make_emulator: MakeEmulator, tmp_path: Path, limit: int
) -> None:
    """Ceiling 4x the limit: it settles at the limit, the peak stays at the limit, and 429s stay few."""
    emu = await make_emulator(concurrency_limit=limit, time_scale=0.01)
    manifest = write_manifest(tmp_path, [(f"r{i}", [SINGLES[i % 6]]) for i in range(16)], concurrency=4 * limit)
    report = await emu.run(manifest)
    stats = await emu.control("stats")
    assert report.ok and stats["jobs_submitted"] == 16
    assert stats["peak_concurrent_jobs"] == limit
    assert 1 <= stats["rejected_429"] <= 8
    lowered = [e for e in emu.events if e.event == "rate_limited"]
    assert len(lowered) == stats["rejected_429"]


async def test_lost_answers_on_create_and_append_leave_one_copy(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """reset_after on the first create and the first append: still one conversation and one copy per segment."""
    faults = {"script": {"POST /v1/process/audio": ["reset_after"], "PUT /v1/process/audio/*": ["reset_after"]}}
    emu = await make_emulator(faults=faults)
    report = await emu.run(DEMO, output=tmp_path / "out")
    stats = await emu.control("stats")
    assert report.ok
    assert (stats["conversations_created"], stats["appends"], stats["jobs_submitted"]) == (7, 3, 10)
    assert [e.event for e in emu.events].count("unknown") == 2
    state = await emu.control("state")
    assert sorted(len(c["segments"]) for c in state["conversations"]) == [1, 1, 1, 1, 1, 2, 3]
    assert outputs_equal_server(tmp_path / "out", state, json.loads((tmp_path / "out" / "report.json").read_text()))


async def test_a_create_that_never_arrived_is_sent_again_once(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """reset_before on a create: the lookup finds nothing, so it is resent, and exactly one conversation exists.
    Whether the upload's last bytes left before the reset is a race: when they had not, the client knows the
    create never arrived (retry_later) and skips the lookup."""
    emu = await make_emulator(faults={"script": {"POST /v1/process/audio": ["reset_before"]}})
    manifest = write_manifest(tmp_path, [("only", ["solo-memo.wav"])])
    report = await emu.run(manifest)
    stats = await emu.control("stats")
    assert report.ok and (stats["conversations_created"], stats["jobs_submitted"]) == (1, 1)
    events = [e.event for e in emu.events]
    assert events[:3] == ["unknown", "not_created", "submitted"] or events[:2] == ["retry_later", "submitted"]


async def test_an_expired_token_is_renewed_mid_run(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """A token that dies mid-run (401) is regenerated once (even when polls in flight are refused together) and
    the calls repeated: nothing fails."""
    emu = await make_emulator(faults={"script": {"GET /v1/job/*": ["token_expiry"]}})
    manifest = write_manifest(tmp_path, [("a", ["solo-memo.wav"]), ("b", ["interview.wav"])])
    report = await emu.run(manifest)
    log = (await emu.control("requests"))["requests"]
    assert report.ok
    assert [r["status"] for r in log if r["path"].startswith("/v1/job/")].count(401) in (1, 2)
    assert [r["path"] for r in log].count("/oauth2/token:generate") == 2


async def test_a_failed_job_is_reported_and_the_rest_finish(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """job_failed on the first create: that segment is failed with a reason, its append blocked, the rest saved."""
    emu = await make_emulator(faults={"script": {"POST /v1/process/audio": ["job_failed"]}})
    manifest = write_manifest(  # one slot: the planner's order decides which create is the first POST
        tmp_path,
        [("two-part", ["standup-part1.wav", "standup-part2.wav"]), ("other", ["solo-memo.wav"])],
        concurrency=1,
    )
    report = await emu.run(manifest)
    outcome = {s["segment"]: (s["status"], s["error"]) for s in report.segments}
    assert not report.ok
    assert outcome["two-part/1"] == ("failed", "the job ended failed")
    assert outcome["two-part/2"][0] == "blocked" and outcome["other/1"] == ("saved", None)


async def test_a_rerun_resubmits_nothing_and_a_changed_file_is_redone(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    """Re-running a finished manifest sends nothing; replacing a file's content makes one new conversation."""
    emu = await make_emulator()
    media = tmp_path / "memo.wav"
    shutil.copy(ROOT / "corpus" / "media" / "solo-memo.wav", media)
    manifest = write_manifest(tmp_path, [("memo", [str(media)]), ("other", ["interview.wav"])])
    assert (await emu.run(manifest)).ok
    assert (await emu.run(manifest)).ok
    assert (await emu.control("stats"))["jobs_submitted"] == 2
    shutil.copy(ROOT / "corpus" / "media" / "panel.wav", media)
    report = await emu.run(manifest)
    stats = await emu.control("stats")
    assert report.ok and (stats["conversations_created"], stats["jobs_submitted"]) == (3, 3)
    text = (tmp_path / "out" / "memo" / "transcript.txt").read_text()
    assert "Welcome to the panel" in text


async def test_two_runs_on_one_state_never_overlap(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """A second run on the same state is refused with LockedError while the first holds the lock."""
    emu = await make_emulator()
    manifest = write_manifest(tmp_path, [("a", ["solo-memo.wav"])])
    loaded = load_manifest(manifest, environ=emu.env())
    async with open_run(loaded, options=FAST):
        with pytest.raises(LockedError, match="another run holds the lock"):
            async with open_run(loaded, options=FAST):
                pass


async def test_transient_server_errors_on_reads_are_tolerated(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """Half the job polls and conversation reads answer 503, 502 or reset: retries absorb them, all saved once."""
    flaky = ["503", "pass", "reset_before", "pass", "502", "pass"] * 20
    faults = {"script": {"GET /v1/job/*": flaky, "GET /v1/conversations/*": list(flaky)}}
    emu = await make_emulator(faults=faults)
    report = await emu.run(DEMO, output=tmp_path / "out")
    stats = await emu.control("stats")
    assert report.ok, report.segments
    assert (stats["conversations_created"], stats["appends"]) == (DEMO_SHAPE.conversations, DEMO_SHAPE.appends)
    assert stats["fault_503"] > 5 and stats["fault_reset_before"] > 5


async def test_results_reads_that_fail_past_the_retries_are_saved_later_in_the_same_run(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    """Results reads that answer 503 more often than the client retries: the save is tried again after a pause
    and succeeds in this run (no re-run needed, nothing submitted twice); the failed round is logged."""
    emu = await make_emulator(faults={"script": {"GET /v1/conversations/*": ["503"] * 8}})
    manifest = write_manifest(tmp_path, [("a", ["solo-memo.wav"])])
    report = await emu.run(manifest)
    assert report.ok, report.segments
    assert (await emu.control("stats"))["jobs_submitted"] == 1
    retried = [e.detail for e in emu.events if e.event == "save_failed"]
    assert retried and all(d is not None and "HTTP 503" in d and "tried again" in d for d in retried)


async def test_results_reads_that_keep_failing_stay_finished_for_the_next_run(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    """Results reads that fail through every save round: the segment stays `finished` with the reason; the next
    run saves it without submitting again."""
    every_try = SAVE_ROUNDS * RetryPolicy().attempts  # each round's first read fails all its attempts
    emu = await make_emulator(faults={"script": {"GET /v1/conversations/*": ["503"] * every_try}})
    manifest = write_manifest(tmp_path, [("a", ["solo-memo.wav"])])
    first = await emu.run(manifest)
    assert not first.ok and first.segments[0]["status"] == "finished"
    assert "HTTP 503" in first.segments[0]["error"]
    assert len([e for e in emu.events if e.event == "save_failed"]) == SAVE_ROUNDS
    second = await emu.run(manifest)
    assert second.ok and (await emu.control("stats"))["jobs_submitted"] == 1


async def test_an_append_whose_predecessor_could_not_be_saved_is_blocked_with_the_reason(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    """The first segment's job finishes but its results cannot be written: the append after it is never sent in
    this run and ends `blocked` with a reason (not `pending` with none); the next run saves the first, sends the
    append once and saves it."""
    emu = await make_emulator()
    manifest = write_manifest(tmp_path, [("two", ["standup-part1.wav", "standup-part2.wav"])])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "two").write_text("in the way")
    first = await emu.run(manifest)
    outcome = {s["segment"]: (s["status"], s["error"]) for s in first.segments}
    assert outcome["two/1"][0] == "finished" and outcome["two/1"][1].startswith("cannot write the results")
    assert outcome["two/2"] == ("blocked", "an earlier segment of the conversation was not saved")
    assert (await emu.control("stats"))["appends"] == 0
    (tmp_path / "out" / "two").unlink()
    second = await emu.run(manifest)
    assert second.ok and second.totals == {"saved": 2}
    stats = await emu.control("stats")
    assert (stats["jobs_submitted"], stats["appends"]) == (2, 1)


async def test_an_undecidable_lost_append_stops_its_conversation(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """An append whose connection drops before the server acts: if its body had gone out whole, the client cannot
    know the server did not act, and no new messages appear: it is reported stuck, never resent. If the drop came
    while the body was still being sent, the server cannot have acted: it is resent. Which one happens depends on
    socket buffering; either way the server holds each segment once."""
    emu = await make_emulator(faults={"script": {"PUT /v1/process/audio/*": ["reset_before"]}})
    manifest = write_manifest(tmp_path, [("three", ["planning-part1.wav", "planning-part2.wav", "planning-part3.wav"])])
    report = await emu.run(manifest)
    outcome = {s["segment"]: s["status"] for s in report.segments}
    appends = (await emu.control("stats"))["appends"]
    if outcome["three/2"] == "stuck":
        assert outcome == {"three/1": "saved", "three/2": "stuck", "three/3": "blocked"}
        assert "settling window" in report.segments[1]["error"]
        assert appends == 0
    else:
        assert outcome == {"three/1": "saved", "three/2": "saved", "three/3": "saved"}
        assert appends == 2


async def test_a_hundred_recordings_from_the_corpus(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """100 recordings (80 singles, 10 two-part conversations) finish, and every output equals the emulator's state."""
    emu = await make_emulator(concurrency_limit=5, time_scale=0.01)
    convs = [(f"single-{i:03d}", [SINGLES[i % 6]]) for i in range(80)]
    convs += [(f"pair-{i:02d}", ["standup-part1.wav", "standup-part2.wav"]) for i in range(10)]
    manifest = write_manifest(tmp_path, convs, concurrency=5)
    report = await asyncio.wait_for(emu.run(manifest), 90)
    stats = await emu.control("stats")
    assert report.ok and report.totals == {"saved": 100}
    assert (stats["jobs_submitted"], stats["conversations_created"], stats["queued_appends"]) == (100, 90, 0)
    assert stats["peak_concurrent_jobs"] == 5
    state = await emu.control("state")
    assert outputs_equal_server(tmp_path / "out", state, json.loads((tmp_path / "out" / "report.json").read_text()))


async def test_webhook_notices_wake_polling_early(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """With the receiver on, job notices trigger early polls: the run ends long before the first scheduled poll."""
    emu = await make_emulator(time_scale=0.002)
    extra = 'webhook_listen = "127.0.0.1:0"\npoll_min = 30\npoll_cap = 30'
    manifest = write_manifest(tmp_path, [("a", ["solo-memo.wav"]), ("b", ["interview.wav", "panel.wav"])], extra=extra)
    loaded = load_manifest(manifest, environ=emu.env())
    started = asyncio.get_running_loop().time()
    async with open_run(loaded, on_event=emu.events.append) as run:
        report = await asyncio.wait_for(run.run(), 25)
    assert report.ok
    assert asyncio.get_running_loop().time() - started < 15  # without notices the first poll alone waits 30 s
    stats = await emu.control("stats")
    assert stats["webhooks_sent"] >= 9 and stats.get("webhooks_failed", 0) == 0
    listening = next(e.detail for e in emu.events if e.event == "webhooks")
    assert listening is not None and listening.startswith("listening on http://127.0.0.1:")


async def test_webhook_receiver_rejects_requests_without_its_secret() -> None:
    """A notice to any path but the secret one is a 404 and wakes nothing; a notice of a running job neither."""
    woken: list[str] = []
    receiver = Receiver(secret=path_secret("s3cret"), notify=woken.append)
    url = await receiver.start("127.0.0.1", 0, None)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(receiver.base_url + "/symbl-batch/guess", json={"jobId": "x"}) as resp:
                assert resp.status == 404
            async with http.post(url, json={"id": "job-1", "status": "completed"}) as resp:
                assert resp.status == 200
            async with http.post(url, json={"jobId": "job-2", "status": "in_progress"}) as resp:
                assert resp.status == 200  # received, but a running job needs no look
    finally:
        await receiver.stop()
    assert woken == ["job-1"] and receiver.received == 2 and "s3cret" not in url


async def test_a_timed_out_job_keeps_its_id_and_is_adopted_by_the_next_run(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    """job_timeout passes: the segment is timed_out with its jobId; the next run polls that job, sends nothing."""
    emu = await make_emulator(time_scale=0.1)
    manifest = write_manifest(tmp_path, [("slow", ["solo-memo.wav"])])
    first = await emu.run(manifest, options=replace(FAST, timing=replace(FAST.timing, job_timeout=0.3)))
    (row,) = first.segments
    assert row["status"] == "timed_out" and row["jobId"]
    second = await emu.run(manifest)
    assert second.ok and second.segments[0]["jobId"] == row["jobId"]
    assert (await emu.control("stats"))["jobs_submitted"] == 1
    assert any(e.event == "adopted" for e in emu.events)


async def test_url_manifest_example_runs_through_the_engine(
    make_emulator: MakeEmulator, aiohttp_server: Any, tmp_path: Path
) -> None:
    """manifests/urls.toml: URL segments (audio and video) are fetched by the API; results match a file upload."""
    app = web.Application()
    app.router.add_static("/media", ROOT / "corpus" / "media")
    server = await aiohttp_server(app)
    text = (ROOT / "manifests" / "urls.toml").read_text()
    text = text.replace("http://127.0.0.1:8765", str(server.make_url("")).rstrip("/"))
    text = text.replace("../corpus/", f"{ROOT / 'corpus'}/").replace('"../urls-output"', f'"{tmp_path / "out"}"')
    manifest = tmp_path / "urls.toml"
    manifest.write_text(text)
    emu = await make_emulator()
    report = await emu.run(manifest)
    assert report.ok, report.segments
    state = await emu.control("state")
    kinds = sorted(s["mediaKind"] for c in state["conversations"] for s in c["segments"])
    assert kinds == ["mp4", "wav", "wav"]
    transcript = (tmp_path / "out" / "remote-interview" / "transcript.txt").read_text()
    assert "Can you tell me about your last project?" in transcript


async def test_results_that_cannot_be_written_stay_finished_and_the_next_run_saves_them(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    """A disk error while saving (here: a file where the conversation's folder must go) is reported and leaves
    the segment `finished`; once the cause is gone, the next run saves it without submitting anything again."""
    emu = await make_emulator()
    manifest = write_manifest(tmp_path, [("a", ["solo-memo.wav"]), ("b", ["interview.wav"])])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a").write_text("in the way")
    first = await emu.run(manifest)
    outcome = {s["segment"]: (s["status"], s["error"]) for s in first.segments}
    assert not first.ok and outcome["b/1"] == ("saved", None) and outcome["a/1"][0] == "finished"
    assert outcome["a/1"][1].startswith("cannot write the results")
    failed = [e for e in emu.events if e.event == "save_failed"]
    assert len(failed) == 1 and failed[0].detail is not None and "cannot write the results" in failed[0].detail
    (tmp_path / "out" / "a").unlink()
    second = await emu.run(manifest)
    assert second.ok and (tmp_path / "out" / "a" / "messages.json").is_file()
    assert (await emu.control("stats"))["jobs_submitted"] == 2
