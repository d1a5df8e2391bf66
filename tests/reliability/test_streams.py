"""Streams that refuse writes never stop a run: a closed stdout (`| head -1`, `>&-`) loses only the summary, a full
stderr (`2>/dev/full`) only log lines; and cron's `>> log 2>&1` gets a log in which every line is JSON."""

from __future__ import annotations

import asyncio
import io
import json
import os
from pathlib import Path
from typing import IO, Any

from batch.events import Event
from batch.progress import Output
from tests.support.demo import DEMO_SHAPE
from tests.support.processes import SCRIPTED, demo_copy, spawn_cli

FAST = (*SCRIPTED, "--no-reconcile")


async def _run(*argv: str, stdout: Any, stderr: Any, shell_prefix: tuple[str, ...] = ()) -> int:
    """`symbl-batch ARGV...` with the given streams; its exit code."""
    proc = await spawn_cli(*argv, stdout=stdout, stderr=stderr, prefix=shell_prefix)
    for stream in (stdout, stderr):
        if isinstance(stream, int) and stream >= 0:
            os.close(stream)  # the child has its copy (a pipe's write end: with the read end closed, EPIPE)
    return await asyncio.wait_for(proc.wait(), 120)


def _saved(output: Path) -> dict[str, int]:
    return dict(json.loads((output / "report.json").read_text())["totals"])


async def test_a_closed_stdout_pipe_loses_only_the_summary(tmp_path: Path) -> None:
    """`symbl-batch run … | head -1` with the reader gone before the summary: the run finishes its work and exits
    with its own code (0), no traceback and no "Exception ignored" at exit."""
    read, write = os.pipe()
    os.close(read)
    errors = tmp_path / "stderr"
    with errors.open("w") as err:
        code = await _run("run", str(demo_copy(tmp_path)), *FAST, stdout=write, stderr=err)
    text = errors.read_text()
    assert code == 0, text
    assert "Traceback" not in text and "Exception ignored" not in text
    assert _saved(tmp_path / "out") == {"saved": DEMO_SHAPE.segments}


async def test_a_closed_stdout_descriptor_loses_only_the_summary(tmp_path: Path) -> None:
    """`symbl-batch run … >&-` (no stdout at all): exit 0, every recording saved, no traceback."""
    errors = tmp_path / "stderr"
    with errors.open("w") as err:
        code = await _run(
            "run",
            str(demo_copy(tmp_path)),
            *FAST,
            stdout=None,
            stderr=err,
            shell_prefix=("sh", "-c", 'exec "$@" >&-', "sh"),
        )
    text = errors.read_text()
    assert code == 0, text
    assert "Traceback" not in text and "Exception ignored" not in text
    assert _saved(tmp_path / "out") == {"saved": DEMO_SHAPE.segments}


async def test_a_full_stderr_loses_only_log_lines(tmp_path: Path) -> None:
    """`2>/dev/full`: every log write fails; the run still saves everything, prints its summary and exits 0."""
    summary = tmp_path / "stdout"
    full = os.open("/dev/full", os.O_WRONLY)
    with summary.open("w") as out:
        code = await _run("run", str(demo_copy(tmp_path)), *FAST, stdout=out, stderr=full)
    assert code == 0, summary.read_text()
    assert f"symbl-batch: saved {DEMO_SHAPE.segments}" in summary.read_text()
    assert _saved(tmp_path / "out") == {"saved": DEMO_SHAPE.segments}


async def test_the_cron_line_appends_a_log_of_json_lines_only(tmp_path: Path) -> None:
    """README's cron line (`>> logs/symbl-batch.jsonl 2>&1`) three nights running — a run, a resume, a broken
    manifest: every line of the log is JSON; each run ends with one `summary` (totals, report path, exit code) or
    the one-sentence reason it stopped."""
    manifest = demo_copy(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[conversations]]\nid = "x"\n  [[conversations.segments]]\n  file = "missing.wav"\n')
    log = tmp_path / "logs" / "symbl-batch.jsonl"
    log.parent.mkdir()
    codes = []
    for path in (manifest, manifest, bad):
        with log.open("a") as both:
            codes.append(await _run("run", str(path), *FAST, stdout=both, stderr=both))
    assert codes == [0, 0, 2]
    lines = log.read_text().splitlines()
    events = [json.loads(line) for line in lines]  # fails on the first line that is not JSON
    summaries = [e for e in events if e["event"] == "summary"]
    assert len(summaries) == 2
    for summary in summaries:
        assert summary["totals"] == {"saved": DEMO_SHAPE.segments} and summary["exit_code"] == 0
        assert summary["report"] == str(tmp_path / "out" / "report.json")
    refused = events[-1]
    assert refused["level"] == "error" and refused["exit_code"] == 2
    assert f"{bad}, line 4, conversations[0].segments[0].file: file not found" in refused["detail"]


class _Refusing(io.StringIO):
    """A stream whose every write fails, like /dev/full."""

    def write(self, text: str) -> int:
        raise OSError(28, "No space left on device")


def _output(stderr: IO[str] | None) -> Output:
    return Output(log_format="json", threshold=0, progress=False, stdout=io.StringIO(), stderr=stderr)


def test_refused_log_writes_are_counted_and_said_once_where_possible() -> None:
    """Log lines a stream refuses are dropped and counted; at the end the count is said once, on the same
    stream, when it takes it (never raising either way)."""
    refusing = _output(_Refusing())
    for _ in range(3):
        refusing.event(Event("saved", "a/1"))
    assert refusing.dropped == 3
    refusing.close()  # tries once to say so; the stream refuses that too, and nothing is raised
    recovered = io.StringIO()
    flaky = _output(recovered)
    flaky.dropped = 2
    flaky.close()
    assert "2 log lines could not be written" in recovered.getvalue()
