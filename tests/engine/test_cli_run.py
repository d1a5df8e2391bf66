"""`symbl-batch run` as a real subprocess: exit codes from real situations, JSON logs, and SIGKILL + re-run."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from asyncio.subprocess import DEVNULL
from collections import Counter
from pathlib import Path

import pytest

from batch.store import Store
from tests.support.demo import DEMO_SHAPE
from tests.support.outputs import outputs_equal_server
from tests.support.processes import SCRIPTED, EmulatorProcess, demo_copy, run_cli, spawn_cli, start_emulator


@pytest.mark.timeout(420)  # real speech processing of the whole corpus, on a CI machine that may be busy
async def test_embedded_backend_run_exits_0_with_json_logs(tmp_path: Path) -> None:
    """README's main command, real speech processing: every recording saved, exit 0, JSON log lines with ids,
    and transcripts of what was really said (the corpus's words, more than one voice)."""
    code, out, err = await run_cli("manifests/demo.toml", "--emulator", "--output", str(tmp_path / "out"), seconds=400)
    assert code == 0, err
    assert f"symbl-batch: saved {DEMO_SHAPE.segments}" in out
    events = [json.loads(line) for line in err.splitlines()]
    saved = [e for e in events if e["event"] == "saved"]
    assert len(saved) == DEMO_SHAPE.segments
    assert all({"segment", "conversation", "conversation_id", "job_id", "line"} <= set(e) for e in saved)
    transcript = (tmp_path / "out" / "standup" / "transcript.txt").read_text().lower()
    assert "budget" in transcript and "release" in transcript and "design" in transcript
    assert "unscripted" not in transcript
    speakers = {m.group(1) for m in re.finditer(r"^\[[\d:]+\] ([^:]+):", transcript, re.MULTILINE)}
    assert len(speakers) >= 2


async def test_bad_manifest_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    """Bad input: exit 2, one sentence with file, line and field, nothing sent."""
    bad = tmp_path / "bad.toml"
    bad.write_text('[[conversations]]\nid = "x"\n  [[conversations.segments]]\n  file = "missing.wav"\n')
    code, _, err = await run_cli(str(bad), *SCRIPTED)
    assert code == 2
    assert f"{bad}, line 4, conversations[0].segments[0].file: file not found" in err


async def test_missing_credentials_exit_2(tmp_path: Path) -> None:
    """Without SYMBL_APP_ID/SYMBL_APP_SECRET (and no --emulator) the run refuses with exit 2."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYMBL_")}
    code, _, err = await run_cli(str(demo_copy(tmp_path)), env=env)
    assert code == 2 and "SYMBL_APP_ID" in err


async def test_a_second_run_on_a_locked_state_exits_3(tmp_path: Path, emulator: EmulatorProcess) -> None:
    """While one run holds the state's lock, another exits 3 with a clear message."""
    manifest = demo_copy(tmp_path)
    with Store(tmp_path / "out" / "state.sqlite"):
        code, _, err = await run_cli(str(manifest), env=emulator.env())
    assert code == 3 and "another run holds the lock" in err
    assert (await emulator.control("stats"))["jobs_submitted"] == 0


async def test_failed_recordings_exit_1(tmp_path: Path) -> None:
    """A job that fails on the server: exit 1, the failure in the summary, the other recordings saved."""
    faults = json.dumps({"script": {"POST /v1/process/video": ["job_failed"]}})
    emu = await start_emulator("--time-scale", "0.02", "--faults", faults)
    try:
        code, out, _ = await run_cli(str(demo_copy(tmp_path)), env=emu.env())
    finally:
        emu.proc.send_signal(signal.SIGTERM)
        await emu.proc.wait()
    assert code == 1
    assert re.search(r"video-brief/1\s+│\s+failed\s+│\s+0\s+│.*│\s+the job ended failed", out)
    assert "symbl-batch: failed 1, saved 9" in out


async def _run_until_killed(manifest: Path, env: dict[str, str], after_events: int) -> None:
    proc = await spawn_cli("run", str(manifest), env=env, stdout=DEVNULL)
    assert proc.stderr is not None
    seen = 0
    while seen < after_events:
        line = await asyncio.wait_for(proc.stderr.readline(), 60)
        if not line:
            break
        seen += 1
    if proc.returncode is None:
        proc.kill()
    await proc.wait()


async def test_sigkill_at_many_points_then_rerun_duplicates_nothing(tmp_path: Path, emulator: EmulatorProcess) -> None:
    """SIGKILL after 1, 2, 4, 7, 11 and 16 events, re-running each time: one copy of everything, all on disk.

    A kill that lands between an append's intent and its request leaves that append undecidable: by design it
    ends `stuck` (never resent) and its successors `blocked` (docs/engine.md, "Exactly once"). That is the only outcome
    besides `saved` accepted here, and then the run exits 1; nothing may ever be on the server twice."""
    manifest = demo_copy(tmp_path)
    for after in (1, 2, 4, 7, 11, 16):
        await _run_until_killed(manifest, emulator.env(), after)
    code, out, err = await run_cli(str(manifest), env=emulator.env())
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    stuck = [s for s in report["segments"] if s["status"] == "stuck"]
    assert code == (1 if stuck else 0), out + err
    assert all(not s["segment"].endswith("/1") and s["error"].startswith("lost answer") for s in stuck), stuck
    unsaved = [s for s in report["segments"] if s["status"] != "saved"]
    assert {s["status"] for s in unsaved} <= {"stuck", "blocked"}
    assert all(any(t["conversation"] == s["conversation"] for t in stuck) for s in unsaved)
    stats = await emulator.control("stats")
    assert stats["conversations_created"] == 7 and 10 - len(unsaved) <= stats["jobs_submitted"] <= 10
    state = await emulator.control("state")
    by_id = {c["id"]: c for c in state["conversations"]}
    planned = Counter(s["conversationId"] for s in report["segments"] if s["conversationId"])
    assert all(len(by_id[cid]["segments"]) <= count for cid, count in planned.items())  # never a segment twice
    outputs_equal_server(tmp_path / "out", state, report, skip={t["conversation"] for t in stuck})


async def test_refused_credentials_stop_the_run_with_exit_2(tmp_path: Path, emulator: EmulatorProcess) -> None:
    """A wrong app secret is a configuration error: exit 2 at once, one clear line, nothing submitted."""
    code, _, err = await run_cli(str(demo_copy(tmp_path)), env=emulator.env() | {"SYMBL_APP_SECRET": "wrong"})
    assert code == 2
    assert "the API refused the app id and secret (HTTP 401); check SYMBL_APP_ID and SYMBL_APP_SECRET" in err
    assert (await emulator.control("stats"))["jobs_submitted"] == 0
