"""Exactly-once against a misbehaving server (the local emulator with faults): each test is a defect a probe found,
and fails on the code before its fix. Checks are outcomes on the server and on disk, never call sequences."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from batch import Event, LockedError, StateWriteError, load_manifest, open_run
from batch.hooks import Finished
from tests.support.emulator import FAST, MakeEmulator, write_manifest
from tests.support.server import CORPUS
from tests.support.waiting import eventually

MEDIA = CORPUS / "media"


def _same_name_manifest(folder: Path) -> Path:
    path = folder / "m.toml"
    text = '[api]\noutput = "out"\n'
    for conversation, media in (("alpha", "interview.wav"), ("beta", "panel.wav")):
        text += f'[[conversations]]\nid = "{conversation}"\nname = "Same"\n'
        text += f'  [[conversations.segments]]\n  file = "{MEDIA / media}"\n'
    path.write_text(text)
    return path


async def _media_of(emu: object, conversation_id: str) -> list[str]:
    state = await emu.control("state")  # type: ignore[attr-defined]
    (found,) = [c for c in state["conversations"] if c["id"] == conversation_id]
    return [s["mediaSha256"] for s in found["segments"]]


def _sha(name: str) -> str:
    return hashlib.sha256((MEDIA / name).read_bytes()).hexdigest()


async def test_a_lost_create_never_adopts_another_conversation_of_the_same_name(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    """Two conversations named "Same"; the first create is dropped before the server acts. Before: the lost-answer
    check found the other one by name and adopted it (both saved, one id, alpha's transcript was beta's)."""
    emu = await make_emulator(faults={"script": {"POST /v1/process/audio": ["reset_before"]}})
    report = await emu.run(_same_name_manifest(tmp_path), concurrency=2)  # beta is created while alpha's is lost
    assert report.ok
    ids = {row["conversation"]: row["conversationId"] for row in report.segments}
    assert ids["alpha"] != ids["beta"]
    assert await _media_of(emu, ids["alpha"]) == [_sha("interview.wav")]
    assert await _media_of(emu, ids["beta"]) == [_sha("panel.wav")]
    assert (await emu.control("stats"))["conversations_created"] == 2


async def test_a_create_acted_on_after_the_client_gave_up_is_adopted_not_resent(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    """The server acts on the create 1.5 s after dropping the connection (later than `lost_answer_grace`). Before:
    not listed after the grace, it was sent again: two conversations for one recording."""
    emu = await make_emulator(faults={"script": {"POST /v1/process/audio": ["act_late"]}, "slow_seconds": 1.5})
    manifest = write_manifest(tmp_path, [("late", ["interview.wav"])])
    options = replace(FAST, timing=replace(FAST.timing, undecided_after=6.0))
    report = await emu.run(manifest, options=options)
    assert report.ok, report.segments
    assert (await emu.control("stats"))["conversations_created"] == 1
    assert any(e.event == "recovered" for e in emu.events)


async def test_an_outage_of_500s_on_creates_is_retried_not_stuck(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """Five 500s on a create during a short outage: the listing proves nothing was created each time. Before: the
    segment ended `stuck` for ever; now it is retried (in this run, or reported `failed` and retried by the next)."""
    emu = await make_emulator(faults={"script": {"POST /v1/process/audio": ["500"] * 5}})
    manifest = write_manifest(tmp_path, [("outage", ["interview.wav"])])
    options = replace(FAST, timing=replace(FAST.timing, undecided_after=0.2, max_attempts=3))
    first = await emu.run(manifest, options=options)
    assert first.segments[0]["status"] == "failed" and "never took effect" in first.segments[0]["error"]
    second = await emu.run(manifest, options=options)
    assert second.ok
    assert (await emu.control("stats"))["conversations_created"] == 1


async def test_429_for_ever_is_reported_not_waited_on(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """Every submit answers 429. Before: the run went on for ever; now each recording is reported after
    `max_refusals` refusals, and the run ends."""
    emu = await make_emulator(faults={"rates": {"429": 1.0}})
    manifest = write_manifest(tmp_path, [("full", ["interview.wav"])])
    options = replace(FAST, timing=replace(FAST.timing, max_refusals=4), backoff_base=0.01)
    report = await asyncio.wait_for(emu.run(manifest, options=options), 30)
    (row,) = report.segments
    assert row["status"] == "failed" and "429 4 times" in row["error"]
    assert (await emu.control("stats"))["conversations_created"] == 0


async def test_a_huge_retry_after_is_capped(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """One 429 with `Retry-After: 100000000`. Before: submissions paused for 1,157 days; now for `max_pause`."""
    emu = await make_emulator(faults={"script": {"POST /v1/process/audio": ["429"]}, "retry_after": 100_000_000})
    manifest = write_manifest(tmp_path, [("pause", ["interview.wav"])])
    options = replace(FAST, timing=replace(FAST.timing, max_pause=0.3))
    report = await asyncio.wait_for(emu.run(manifest, options=options), 30)
    assert report.ok


async def test_a_failing_hook_is_reported_and_the_run_goes_on(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """The after-conversation hook (reconciliation) raises. Before: a traceback, running jobs abandoned; now a
    `reconcile_failed` event, every recording still saved, and the report not ok (exit 1)."""
    emu = await make_emulator()
    manifest = write_manifest(tmp_path, [("a", ["interview.wav"]), ("b", ["panel.wav"])])

    async def hook(finished: Finished) -> None:
        if finished.conversation.id == "a":
            raise KeyError("a bug in the hook")

    loaded = load_manifest(manifest, environ=emu.env())
    async with open_run(loaded, options=FAST, on_event=emu.events.append, after_conversation=hook) as run:
        report = await run.run()
    assert report.totals == {"saved": 2} and not report.ok
    assert report.problems == ["a: reconcile_failed: KeyError: 'a bug in the hook'"]
    assert [e.conversation for e in emu.events if e.event == "reconcile_failed"] == ["a"]


async def test_two_runs_on_one_output_folder_cannot_both_submit(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """Two runs with different `--state` on one output folder. Before: both submitted everything."""
    emu = await make_emulator()
    manifest = write_manifest(tmp_path, [("a", ["interview.wav"])])
    loaded = load_manifest(manifest, environ=emu.env())
    async with open_run(loaded, options=FAST, state=tmp_path / "one.sqlite"):
        with pytest.raises(LockedError, match="another run writes to this output folder"):
            async with open_run(loaded, options=FAST, state=tmp_path / "two.sqlite"):
                pass


async def test_the_state_deleted_mid_run_stops_submissions(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """The output folder (and the state in it) is deleted mid-run. Before: the run went on without a state, and
    the next run submitted everything again; now nothing more is sent once the state is gone."""
    emu = await make_emulator()
    manifest = write_manifest(tmp_path, [(f"r{n}", ["interview.wav"]) for n in range(6)], concurrency=1)
    loaded = load_manifest(manifest, environ=emu.env())

    def on_event(event: Event) -> None:
        emu.events.append(event)
        if event.event == "submitted" and (tmp_path / "out").exists():
            shutil.rmtree(tmp_path / "out")

    with pytest.raises(StateWriteError, match="removed or replaced while the run was going"):
        async with open_run(loaded, options=FAST, on_event=on_event) as run:
            await run.run()
    assert (await emu.control("stats"))["jobs_submitted"] == 1


async def test_a_file_replaced_after_validation_is_not_sent(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """A recording replaced between validation and its upload. Before: the first N bytes of the new file were
    uploaded and the result saved as the old recording's; now it fails with the reason and is sent by the next run."""
    emu = await make_emulator()
    files = {"one": tmp_path / "one.wav", "two": tmp_path / "two.wav"}
    shutil.copy(MEDIA / "interview.wav", files["one"])
    shutil.copy(MEDIA / "panel.wav", files["two"])
    manifest = write_manifest(tmp_path, [(name, [str(path)]) for name, path in files.items()], concurrency=1)
    loaded = load_manifest(manifest, environ=emu.env())
    replaced: list[str] = []

    def on_event(event: Event) -> None:
        emu.events.append(event)
        if event.event == "submitted" and not replaced:  # the other one waits for the only slot: replace it now
            replaced.append("two" if event.conversation == "one" else "one")
            shutil.copy(MEDIA / "workshop.wav", files[replaced[0]])

    async with open_run(loaded, options=FAST, on_event=on_event) as run:
        report = await run.run()
    outcome = {row["conversation"]: (row["status"], row["error"] or "") for row in report.segments}
    (kept,) = set(files) - set(replaced)
    assert outcome[kept][0] == "saved"
    assert outcome[replaced[0]][0] == "failed" and "changed after the run validated it" in outcome[replaced[0]][1]
    assert (await emu.control("stats"))["conversations_created"] == 1
    again = await emu.run(manifest)
    assert again.ok
    ids = {row["conversation"]: row["conversationId"] for row in again.segments}
    assert await _media_of(emu, ids[replaced[0]]) == [_sha("workshop.wav")]


async def test_a_full_state_database_stops_the_run_cleanly(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """The state cannot grow (SQLite's own "database or disk is full"). Before: an sqlite3 traceback from inside
    the task group; now the run stops with one sentence (exit 1 in the CLI), and what was committed stays."""
    emu = await make_emulator()
    manifest = write_manifest(tmp_path, [(f"r{n}", ["interview.wav"]) for n in range(4)], concurrency=1)
    loaded = load_manifest(manifest, environ=emu.env())
    async with open_run(loaded, options=FAST, on_event=emu.events.append) as run:
        db = run.store.db  # type: ignore[attr-defined]
        db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0] + 2}")
        with contextlib.suppress(sqlite3.OperationalError):  # fill it: the next transition finds no room
            for _ in range(1000):
                db.execute("INSERT INTO history (at, key, status) VALUES (0, 'padding', ?)", ("x" * 500,))
        with pytest.raises(StateWriteError, match=r"cannot write the state \(database or disk is full\)"):
            await run.run()
    async with open_run(loaded, options=FAST) as run:  # room again: the next run finishes, nothing twice
        run.store.db.execute("DELETE FROM history WHERE key = 'padding'")  # type: ignore[attr-defined]
        run.store.db.execute("PRAGMA max_page_count = 1073741823")  # type: ignore[attr-defined]
        assert (await run.run()).ok
    assert (await emu.control("stats"))["conversations_created"] == 4


async def test_a_report_that_cannot_be_written_is_exit_1(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """`report.json` cannot be written (here a folder is in its way). Before: an OSError traceback at the end; now
    every recording is still saved and the report says what failed (not ok: exit 1)."""
    emu = await make_emulator()
    manifest = write_manifest(tmp_path, [("a", ["interview.wav"])])
    (tmp_path / "out" / "report.json").mkdir(parents=True)
    report = await emu.run(manifest)
    assert report.totals == {"saved": 1} and not report.ok
    assert report.problems[0].startswith("<report>: report_failed: cannot write report.json/report.md:")


async def test_a_retry_finds_its_earlier_try_before_sending_again(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """The server acts on a create later than the whole settling window: the run reports it `failed` (nothing was
    listed). The next run looks its intent name up before sending and adopts the conversation: one, not two."""
    emu = await make_emulator(faults={"script": {"POST /v1/process/audio": ["act_late"]}, "slow_seconds": 1.0})
    manifest = write_manifest(tmp_path, [("later", ["interview.wav"])])
    options = replace(FAST, timing=replace(FAST.timing, undecided_after=0.1, speed_guess=0.0001, max_attempts=1))
    first = await emu.run(manifest, options=options)
    assert first.segments[0]["status"] == "failed" and "never took effect" in first.segments[0]["error"]
    await eventually(lambda: emu.control("stats"), lambda s: s["jobs_completed"] == 1, what="the late create's job")
    second = await emu.run(manifest, options=options)
    assert second.ok
    assert (await emu.control("stats"))["conversations_created"] == 1
    assert any(e.event == "recovered" and e.detail == "an earlier try had taken effect" for e in emu.events)


async def test_the_state_failing_in_the_run_loop_stops_it_cleanly(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """The state cannot be written when the run loop publishes its progress (a full disk meets that write first).
    Before: the error escaped the task group as an exception group (a traceback); now the run stops with the one
    StateWriteError, and a run with room again finishes, each recording once."""
    emu = await make_emulator()
    manifest = write_manifest(tmp_path, [(f"r{n}", ["interview.wav"]) for n in range(3)], concurrency=2)
    loaded = load_manifest(manifest, environ=emu.env())

    def full(key: str, value: object) -> None:
        raise StateWriteError(f"state: cannot write the state (database or disk is full) [{key}]")

    async with open_run(loaded, options=FAST) as run:
        run.store.write_meta = full  # type: ignore[method-assign]
        with pytest.raises(StateWriteError, match="database or disk is full"):
            await run.run()
    async with open_run(loaded, options=FAST) as run:
        assert (await run.run()).ok
    assert (await emu.control("stats"))["conversations_created"] == 3


async def test_a_url_append_dropped_after_the_server_acted_is_one_job(
    make_emulator: MakeEmulator, tmp_path: Path, aiohttp_server: Any
) -> None:
    """The server acts on a URL append, then drops the kept-alive connection. Before: aiohttp resent the PUT by
    itself (an idempotent method with a replayable body), so the server appended the recording twice."""

    async def serve(request: web.Request) -> web.FileResponse:
        return web.FileResponse(MEDIA / request.match_info["name"])

    app = web.Application()
    app.router.add_get("/files/{name}", serve)
    media = await aiohttp_server(app)
    emu = await make_emulator(faults={"script": {"PUT /v1/process/audio/url/*": ["reset_after"]}})
    manifest = tmp_path / "m.toml"
    manifest.write_text(
        '[api]\noutput = "out"\n[[conversations]]\nid = "standup"\n'
        f'  [[conversations.segments]]\n  url = "{media.make_url("/files/standup-part1.wav")}"\n'
        f'  [[conversations.segments]]\n  url = "{media.make_url("/files/standup-part2.wav")}"\n'
    )
    report = await emu.run(manifest)
    assert report.ok, report.segments
    stats = await emu.control("stats")
    assert (stats["appends"], stats["jobs_submitted"]) == (1, 2)
    (conversation,) = (await emu.control("state"))["conversations"]
    assert [s["mediaSha256"] for s in conversation["segments"]] == [
        _sha("standup-part1.wav"),
        _sha("standup-part2.wav"),
    ]
