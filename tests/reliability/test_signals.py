"""Stop signals: SIGTERM and SIGHUP (what cron, systemd and Kubernetes send) end a run like Ctrl-C: one line on
stderr, the report written, 128 + the signal's number as exit code, no traceback even when a second signal follows,
a state the same command resumes without a duplicate, and `status` showing no slot in use however the run ended.
The standalone emulator stops on each of them too."""

from __future__ import annotations

import asyncio
import json
import signal
from asyncio.subprocess import DEVNULL
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.demo import DEMO_SHAPE
from tests.support.processes import EmulatorProcess, cli, demo_copy, run_cli, spawn_cli, start_emulator

RESUMABLE = "the state is consistent, run the same command again to resume"


@pytest.fixture
async def emulator() -> AsyncIterator[EmulatorProcess]:
    emu = await start_emulator("--time-scale", "0.05")  # jobs of a second or more: a signal lands mid-run
    yield emu
    emu.proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(emu.proc.wait(), 20)


async def _stopped(manifest: Path, env: dict[str, str], *signals: signal.Signals) -> tuple[int, str]:
    """Start `run MANIFEST`, send `signals` one after the other once the first job is submitted; exit code, stderr."""
    proc = await spawn_cli("run", str(manifest), "--no-reconcile", env=env, stdout=DEVNULL)
    assert proc.stderr is not None
    seen: list[str] = []
    while not any('"event":"submitted"' in line for line in seen):
        line = (await asyncio.wait_for(proc.stderr.readline(), 60)).decode()
        assert line, f"the run ended before its first submission: {''.join(seen)}"
        seen.append(line)
    for sig in signals:
        proc.send_signal(sig)
        await asyncio.sleep(0.01)
    _, rest = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, "".join(seen) + rest.decode(errors="replace")


async def _faster(emulator: EmulatorProcess) -> None:
    async with aiohttp.ClientSession() as http:
        await http.post(f"{emulator.base_url}/_emulator/config", json={"time_scale": 0.005})


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
async def test_a_stop_signal_ends_the_run_cleanly_and_the_same_command_resumes(
    tmp_path: Path, emulator: EmulatorProcess, sig: signal.Signals, code: int
) -> None:
    """SIGTERM exits 143 and SIGHUP 129 with one line saying the state is consistent, no traceback, the report
    written; the same command then finishes, every recording once on the server."""
    manifest = demo_copy(tmp_path)
    exit_code, err = await _stopped(manifest, emulator.env(), sig)
    assert exit_code == code, err
    assert f"stopped by {sig.name}; {RESUMABLE}" in err and "Traceback" not in err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert sum(report["totals"].values()) == DEMO_SHAPE.segments and not report["ok"]
    await _faster(emulator)
    again, _, err = await run_cli(str(manifest), "--no-reconcile", env=emulator.env())
    assert again == 0, err
    stats = await emulator.control("stats")
    assert (stats["conversations_created"], stats["appends"], stats["jobs_submitted"]) == (7, 3, 10)


async def test_a_second_signal_while_stopping_gives_no_traceback(tmp_path: Path, emulator: EmulatorProcess) -> None:
    """SIGTERM then Ctrl-C then SIGTERM again in quick succession: the first decides (143), the others are ignored
    while the run unwinds; one message, no traceback."""
    exit_code, err = await _stopped(demo_copy(tmp_path), emulator.env(), signal.SIGTERM, signal.SIGINT, signal.SIGTERM)
    assert exit_code == 143, err
    assert err.count(RESUMABLE) == 1 and "Traceback" not in err and "interrupted" not in err


@pytest.mark.parametrize("ending", ["finished", "SIGTERM", "SIGINT", "refused"])
async def test_status_shows_no_slot_in_use_after_the_run_ended(
    tmp_path: Path, emulator: EmulatorProcess, ending: str
) -> None:
    """However a run ended (finished, SIGTERM, Ctrl-C, refused credentials mid-run), `status` then shows no slot
    in use: the run is over, it holds none."""
    manifest = demo_copy(tmp_path)
    if ending == "finished":
        await _faster(emulator)
        assert (await run_cli(str(manifest), "--no-reconcile", env=emulator.env()))[0] == 0
    elif ending == "refused":
        env = emulator.env() | {"SYMBL_APP_SECRET": "wrong"}
        assert (await run_cli(str(manifest), "--no-reconcile", env=env))[0] == 2
    else:
        code, err = await _stopped(manifest, emulator.env(), signal.Signals[ending])
        assert code == {"SIGTERM": 143, "SIGINT": 130}[ending], err
    code, out, err = await cli("status", str(tmp_path / "out" / "state.sqlite"), seconds=60)
    assert code == 0, err
    assert "run:      not running" in out
    assert "slots:" not in out or "slots:    0 in use" in out, out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
async def test_the_standalone_emulator_stops_cleanly_on_every_stop_signal(sig: signal.Signals) -> None:
    """`symbl-batch emulator` (a server: stopping is how it ends) exits 0 on SIGTERM, SIGHUP and Ctrl-C alike."""
    emu = await start_emulator()
    emu.proc.send_signal(sig)
    assert await asyncio.wait_for(emu.proc.wait(), 20) == 0
