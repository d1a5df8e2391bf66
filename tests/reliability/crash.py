"""Crash and resume: SIGKILL the real CLI at random points of its work (a seeded number of log events in, plus a
random fraction of a second: submitting, polling, saving, reconciling), re-run after each kill, then finish.
The same promises as the soak, plus: every rename and merge took effect once.

    python -m tests.reliability.crash --kills 20      # the full size (about 30 s here)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sqlite3
import tempfile
from asyncio.subprocess import DEVNULL, PIPE
from pathlib import Path
from typing import Any

import aiohttp

from batch import load_manifest
from tests.reliability.soak import check
from tests.support.processes import demo_copy, spawn_cli, start_emulator

ROOT = Path(__file__).resolve().parents[2]
APP = ("crash-app", "crash-secret")


async def _run(manifest: Path, env: dict[str, str], *, kill: tuple[int, float] | None) -> tuple[int, str]:
    """One run of the CLI; `kill=(events, delay)`: SIGKILL it `delay` seconds after its `events`-th log line
    (so the kill lands while work is left, however fast the machine or warm the voice cache), unless it ends
    first. Returns its exit code (-9 when killed) and the event of the last log line read before the kill."""
    last = ""
    proc = await spawn_cli("run", str(manifest), env=env, stdout=DEVNULL, stderr=PIPE if kill else DEVNULL)
    if kill is not None:
        assert proc.stderr is not None
        events, delay = kill
        for _ in range(events):
            line = await proc.stderr.readline()
            if not line:
                break
            last = json.loads(line).get("event", "?")
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), delay)
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
        drain = asyncio.ensure_future(proc.stderr.read())
        await proc.wait()
        await drain
    else:
        await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, last


async def crash_resume(kills: int, *, seed: int = 3) -> dict[str, Any]:
    rng = random.Random(seed)
    emulator = await start_emulator("--time-scale", "0.02", app=APP)
    env, base = emulator.env(), emulator.base_url
    try:
        with tempfile.TemporaryDirectory() as tmp:
            manifest = demo_copy(Path(tmp))
            runs = [await _run(manifest, env, kill=(rng.randint(1, 8), rng.uniform(0.0, 0.3))) for _ in range(kills)]
            codes = [code for code, _ in runs]
            final, _ = await _run(manifest, env, kill=None)
            async with aiohttp.ClientSession() as http:
                state = await (await http.get(f"{base}/_emulator/state")).json()
                stats = await (await http.get(f"{base}/_emulator/stats")).json()
            loaded = load_manifest(manifest, environ=env)
            report = json.loads((Path(tmp) / "out" / "report.json").read_text())
            check(loaded, report, state, Path(tmp) / "out")
            db = sqlite3.connect(Path(tmp) / "out" / "state.sqlite")
            done = dict(db.execute("SELECT kind, COUNT(*) FROM reconcile_ops WHERE status='done' GROUP BY kind"))
            db.close()
            assert stats["merges"] == done.get("merge", 0), (stats["merges"], done)
            assert stats["member_updates"] == sum(done.values()), (stats["member_updates"], done)
            return {
                "kills": codes.count(-signal.SIGKILL),
                "exits": codes,
                "killed_after": [event for code, event in runs if code == -signal.SIGKILL],
                "final_exit": final,
                "totals": report["totals"],
                "merges": stats["merges"],
                "member_updates": stats["member_updates"],
                "jobs_submitted": stats["jobs_submitted"],
            }
    finally:
        emulator.proc.terminate()
        await emulator.proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(crash_resume(args.kills, seed=args.seed)), indent=1))


if __name__ == "__main__":
    main()
