"""Crash and resume: SIGKILL the real CLI at random moments (submitting, polling, saving, reconciling), re-run
after each kill, then finish. The same promises as the soak, plus: every rename and merge took effect once.

    python -m tests.reliability.crash --kills 20      # the full size (about 2 minutes here)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sqlite3
import tempfile
from asyncio.subprocess import DEVNULL
from pathlib import Path
from typing import Any

import aiohttp

from batch import load_manifest
from tests.reliability.soak import check
from tests.support.processes import demo_copy, spawn_cli, start_emulator

ROOT = Path(__file__).resolve().parents[2]
APP = ("crash-app", "crash-secret")


async def _run(manifest: Path, env: dict[str, str], *, kill_after: float | None) -> int:
    proc = await spawn_cli("run", str(manifest), env=env, stdout=DEVNULL, stderr=DEVNULL)
    try:
        await asyncio.wait_for(proc.wait(), kill_after)
    except TimeoutError:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    assert proc.returncode is not None
    return proc.returncode


async def crash_resume(kills: int, *, seed: int = 3) -> dict[str, Any]:
    rng = random.Random(seed)
    emulator = await start_emulator("--time-scale", "0.02", app=APP)
    env, base = emulator.env(), emulator.base_url
    try:
        with tempfile.TemporaryDirectory() as tmp:
            manifest = demo_copy(Path(tmp))
            killed = 0
            for _ in range(kills):
                killed += await _run(manifest, env, kill_after=rng.uniform(0.2, 4.0)) == -signal.SIGKILL
            final = await _run(manifest, env, kill_after=None)
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
                "kills": killed,
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
