"""The hostile soak: a misbehaving server and restarts, alongside the fault soak (soak.py).

    python -m tests.reliability.hostile_soak --recordings 600 --rounds 12

Seeded. The server breaks the contract (malformed answers to reads), acts on creates only after dropping the
connection (later than the client's grace), drops answers after acting, and fails with 5xx; it is restarted on
its kept data between rounds, and every round of the client is cut off at a random moment (as a crash or a
stop signal would). Then the client runs to the end with the faults still on, and once more with them off.
The checks are the fault soak's: no conversation or segment twice on the server and none the run does not know
of, every saved result equal to the server's state, every row decided with a reason.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from batch import load_manifest, open_run
from batch.emulator.app import create_app
from batch.emulator.backend import Settings
from batch.emulator.faults import FaultPlan
from tests.reliability.soak import APP, OPTIONS, check, manifest

HOSTILE = {"malformed": 0.03, "act_late": 0.05, "reset_after": 0.02, "503": 0.02, "slow": 0.01}


@dataclass(frozen=True)
class HostileResult:
    recordings: int
    rounds: int
    totals: dict[str, int]
    faults: dict[str, int]
    seconds: float


@contextlib.asynccontextmanager
async def serving(data: Path, faults: dict[str, Any], seed: int) -> Any:
    settings = Settings(
        app_id=APP[0], app_secret=APP[1], time_scale=0.002, concurrency_limit=8, seed=seed, mode="scripted"
    )
    app = create_app(settings, faults=FaultPlan.parse(faults), tick_seconds=0.01, data_dir=data)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield site.name.rstrip("/")
    finally:
        await runner.cleanup()


async def _client(path: Path, base: str, *, cut: float | None) -> Any:
    env = {"SYMBL_APP_ID": APP[0], "SYMBL_APP_SECRET": APP[1], "SYMBL_BASE_URL": base}
    loaded = load_manifest(path, environ=env)
    async with open_run(loaded, options=OPTIONS) as run:
        if cut is None:
            return loaded, await run.run()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.run(), cut)  # cancelled mid-flight, as a stop signal would
        return loaded, None


async def hostile_soak(recordings: int, *, rounds: int = 4, seed: int = 11) -> HostileResult:
    rng = random.Random(seed)
    started = time.monotonic()
    faults: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = manifest(folder, recordings)
        for number in range(rounds + 2):
            hostile = number <= rounds  # the last round runs without faults, so that everything can settle
            spec = {"seed": seed + number, "slow_seconds": 0.3, "rates": HOSTILE if hostile else {}}
            async with serving(folder / "backend", spec, seed) as base:
                cut = rng.uniform(0.2, 1.5) if number < rounds else None
                loaded, report = await _client(path, base, cut=cut)
                async with aiohttp.ClientSession() as http:
                    stats = await (await http.get(f"{base}/_emulator/stats")).json()
                    state = await (await http.get(f"{base}/_emulator/state")).json()
                await asyncio.sleep(0.5)  # let acts-late that are due land before the server stops
            for key, value in stats.items():
                if key.startswith("fault_"):
                    faults[key] = faults.get(key, 0) + value
        assert report is not None
        check(loaded, report.as_dict(), state, folder / "out")
        return HostileResult(recordings, rounds, report.totals, faults, time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    result = asyncio.run(hostile_soak(args.recordings, rounds=args.rounds, seed=args.seed))
    print(json.dumps(result.__dict__, indent=1))


if __name__ == "__main__":
    main()
