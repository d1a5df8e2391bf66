"""What people and cron see: dry run, status, Ctrl-C, a real lock clash, text logs, the progress bar on a PTY,
and the Markdown/SVG outputs."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import select
import signal
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.support.demo import DEMO_SHAPE
from tests.support.processes import SCRIPTED, EmulatorProcess, cli, demo_copy, run_cli, spawn_cli, start_emulator
from tests.support.server import ROOT


async def test_dry_run_sends_nothing_and_prints_the_plan(tmp_path: Path, emulator: EmulatorProcess) -> None:
    """--dry-run: media facts, order, estimates and resume skips are printed (the first --show steps of the
    order); the emulator sees no request."""
    code, out, err = await run_cli(str(demo_copy(tmp_path)), "--dry-run", env=emulator.env())
    assert code == 0, err
    assert "nothing is sent" in out and "wall time at ceiling 5" in out and "a resume would skip 0" in out
    assert re.search(r"1\s+│\s+planning/1", out)  # the longest conversation's first segment goes first
    assert "≈" in out  # the mp4's duration is estimated from its size
    code, short, _ = await run_cli(str(demo_copy(tmp_path)), "--dry-run", "--show", "3", env=emulator.env())
    assert code == 0 and "… and 7 more steps (--show 0 lists them all)" in short and "planning/1" in short
    stats = await emulator.control("stats")
    assert stats["jobs_submitted"] == 0 and (await emulator.control("requests"))["requests"] == []
    assert not (tmp_path / "out" / "state.sqlite").exists()


async def test_dry_run_after_a_run_shows_what_a_resume_skips(tmp_path: Path, emulator: EmulatorProcess) -> None:
    """After a finished run the dry run marks every segment `skip (saved)` and uses the measured speed."""
    manifest = demo_copy(tmp_path)
    assert (await run_cli(str(manifest), env=emulator.env()))[0] == 0
    code, out, _ = await run_cli(str(manifest), "--dry-run", env=emulator.env())
    assert code == 0 and out.count("skip (saved)") == DEMO_SHAPE.segments and "measured by an earlier run" in out


async def test_status_reports_counts_and_failures(tmp_path: Path) -> None:
    """`status` after a run with a failed job: counts per status and the failure with its reason."""
    faults = json.dumps({"script": {"POST /v1/process/video": ["job_failed"]}})
    emu = await start_emulator("--time-scale", "0.02", "--faults", faults)
    try:
        manifest = demo_copy(tmp_path)
        assert (await run_cli(str(manifest), env=emu.env()))[0] == 1
    finally:
        emu.proc.terminate()
        await emu.proc.wait()
    code, out, err = await cli("status", str(manifest), seconds=60)
    assert code == 0, err
    assert "run:      not running" in out and "failed 1, saved 9" in out
    assert re.search(r"video-brief/1\s+failed\s+the job ended failed", out)
    assert "in use / ceiling 5" in out
    code, _, err = await cli("status", str(tmp_path / "nope.sqlite"), seconds=60)
    assert code == 2 and "no state file here" in err


async def _start_run(manifest: Path, env: dict[str, str], *extra: str) -> asyncio.subprocess.Process:
    return await spawn_cli("run", str(manifest), *extra, env=env)


async def _wait_for_event(proc: asyncio.subprocess.Process, name: str) -> None:
    assert proc.stderr is not None
    while True:
        line = await asyncio.wait_for(proc.stderr.readline(), 60)
        assert line, f"the run ended before {name}"
        if json.loads(line).get("event") == name:
            return


async def test_ctrl_c_exits_130_and_a_rerun_finishes_without_duplicates(tmp_path: Path) -> None:
    """SIGINT mid-run stops submitting and exits 130; the same command then finishes with no duplicate."""
    emu = await start_emulator("--time-scale", "0.05")
    try:
        manifest = demo_copy(tmp_path)
        proc = await _start_run(manifest, emu.env())
        await _wait_for_event(proc, "submitted")
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 130, err.decode()
        assert "interrupted; the state is consistent" in err.decode()
        code, _, err2 = await run_cli(str(manifest), env=emu.env())
        assert code == 0, err2
        stats = await emu.control("stats")
        assert (stats["conversations_created"], stats["appends"], stats["jobs_submitted"]) == (7, 3, 10)
    finally:
        emu.proc.terminate()
        await emu.proc.wait()


async def test_a_second_cli_run_while_the_first_holds_the_lock_exits_3(tmp_path: Path) -> None:
    """Two real runs on one state: the second exits 3 at once and sends nothing; the first finishes."""
    emu = await start_emulator("--time-scale", "0.05")
    try:
        manifest = demo_copy(tmp_path)
        first = await _start_run(manifest, emu.env())
        try:
            await _wait_for_event(first, "submitted")
            code, _, err = await run_cli(str(manifest), env=emu.env())
            assert code == 3 and "another run holds the lock" in err
            await asyncio.wait_for(first.communicate(), 120)
        finally:
            if first.returncode is None:
                first.kill()
                await first.communicate()
        assert first.returncode == 0
        stats = await emu.control("stats")  # the second run sent nothing: one job per segment, in all
        assert (stats["jobs_submitted"], stats["conversations_created"]) == (10, 7)
    finally:
        emu.proc.terminate()
        await emu.proc.wait()


async def test_text_logs_and_quiet(tmp_path: Path) -> None:
    """--log-format text gives readable lines with segment and manifest line; -q keeps only warnings and errors."""
    code, _, err = await run_cli(
        "manifests/demo.toml", *SCRIPTED, "--output", str(tmp_path / "o1"), "--log-format", "text"
    )
    assert code == 0
    assert re.search(r"\d\d:\d\d:\d\d info\s+saved standup/1 \(line \d+\) job [0-9a-f]{8}", err)
    code, _, err = await run_cli("manifests/demo.toml", *SCRIPTED, "--output", str(tmp_path / "o2"), "-q")
    assert code == 0 and err == ""


def test_progress_bar_on_a_pseudo_terminal(tmp_path: Path) -> None:
    """On a TTY the run shows a live bar with slots and ETA, and the summary table at the end."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the real command, on the PTY
        os.chdir(ROOT)
        os.execv(
            sys.executable,
            [
                sys.executable,
                "-m",
                "batch.cli",
                "run",
                "manifests/demo.toml",
                *SCRIPTED,
                "--output",
                str(tmp_path / "out"),
            ],
        )
    chunks, deadline = [], time.monotonic() + 90
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    _, status = os.waitpid(pid, 0)
    screen = b"".join(chunks).decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, screen[-2000:]
    assert "━" in screen and re.search(r"slots \d/5", screen) and "ETA" in screen
    n = DEMO_SHAPE.segments
    assert f"{n}/{n} done" in screen and f"symbl-batch: saved {n}" in screen


async def test_readable_outputs(tmp_path: Path) -> None:
    """Per conversation a Markdown transcript with segment headings and an SVG timeline; report.md lists all."""
    code, _, _ = await run_cli("manifests/demo.toml", *SCRIPTED, "--output", str(tmp_path / "out"))
    assert code == 0
    folder = tmp_path / "out" / "planning"
    markdown = (folder / "transcript.md").read_text()
    assert markdown.startswith("# Quarterly planning") and markdown.count("## Segment") == 3
    assert "## Segment 2 (append)" in markdown
    assert "**[00:00:00] Raj Patel:**" in markdown  # names after reconciliation
    left = set(re.findall(r"\] (Speaker \d+):", markdown))  # what reconciliation did not settle is asked about
    asked = tomllib.loads((folder / "review.toml").read_text())["voice"] if left else []
    assert left == {name for entry in asked for name in entry["names"]}
    svg = ET.parse(folder / "timeline.svg").getroot()
    messages = json.loads((folder / "messages.json").read_text())
    rects = svg.findall("{http://www.w3.org/2000/svg}rect")
    assert len(rects) == len(messages) == 18
    labels = [t.text for t in svg.findall("{http://www.w3.org/2000/svg}text")]
    assert {"segment 1", "segment 2", "segment 3"} <= set(labels)
    assert {"Raj Patel", "Tom Becker", "Alice Walker"} <= set(labels)  # one row per person
    report = (tmp_path / "out" / "report.md").read_text()
    assert f"Totals: saved {DEMO_SHAPE.segments}" in report and report.count("| saved |") == DEMO_SHAPE.segments
    assert "## Speakers" in report and "### planning" in report and "| Raj Patel |" in report


async def test_subtitles_and_speaker_summary_carry_the_names_after_reconciliation(tmp_path: Path) -> None:
    """transcript.srt/.vtt: a cue per stretch of one member's speech, labelled with the name reconciliation
    gave it; conversation.json's speakerSummary accounts for every message, and transcript.md shows it."""
    code, _, _ = await run_cli("manifests/demo.toml", *SCRIPTED, "--output", str(tmp_path / "out"))
    assert code == 0
    folder = tmp_path / "out" / "planning"
    messages = json.loads((folder / "messages.json").read_text())
    names = {m["from"]["name"] for m in messages}
    srt = (folder / "transcript.srt").read_text().strip().split("\n\n")
    assert len(srt) >= len(messages)
    spoken = [block.split("\n")[2].split(": ", 1)[0] for block in srt]
    assert "Raj Patel" in spoken
    assert {label.split(" (")[0] for label in spoken} == names
    vtt = (folder / "transcript.vtt").read_text()
    assert vtt.startswith("WEBVTT\n") and "<v Raj Patel>" in vtt
    summary = json.loads((folder / "conversation.json").read_text())["speakerSummary"]
    assert {row["memberId"] for row in summary} == {m["from"]["id"] for m in messages}
    assert sum(row["words"] for row in summary) == sum(len(m["text"].split()) for m in messages)
    assert abs(sum(row["talkSeconds"] for row in summary) - sum(m["duration"] for m in messages)) < 0.05
    markdown = (folder / "transcript.md").read_text()
    assert "## Speakers" in markdown and "| Raj Patel |" in markdown
