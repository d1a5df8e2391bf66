"""The fault soak: many recordings against the emulator with seeded random faults of every kind.

    python -m tests.reliability.soak --recordings 2000      # the full size (about 6 minutes here)

The default test suite runs it small (tests/reliability/test_soak.py). Checks, whatever the faults did:
every recording ends saved or reported with a reason; no conversation and no segment exists twice on the
server, and none exists that the run does not know of; every saved result on disk equals the server's state.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from batch import load_manifest, open_run
from batch.emulator.app import create_app
from batch.emulator.backend import Settings
from batch.emulator.faults import KINDS, FaultPlan
from tests.support.emulator import FAST
from tests.support.outputs import outputs_equal_server

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ["solo-memo.wav", "interview.wav", "panel.wav", "workshop.wav", "planning-part2.wav", "video-brief.mp4"]
APP = ("soak-app", "soak-secret")
OPTIONS = replace(FAST, timing=replace(FAST.timing, undecided_after=1.0, speed_guess=0.01))  # the engine tests' timing


@dataclass(frozen=True)
class SoakResult:
    recordings: int
    totals: dict[str, int]
    faults: dict[str, int]
    seconds: float


def manifest(folder: Path, recordings: int) -> Path:
    """Mostly single recordings, every tenth conversation a two-part one (an append)."""
    lines = [
        "[api]",
        "concurrency = 8",
        f'output = "{folder / "out"}"',
        "",
        "[defaults]",
        "enableSpeakerDiarization = true",
        "diarizationSpeakerCount = 2",
        "",
    ]
    made = index = 0
    while made < recordings:
        parts = (
            ["standup-part1.wav", "standup-part2.wav"]
            if index % 10 == 9 and recordings - made >= 2
            else [MEDIA[index % len(MEDIA)]]
        )
        lines += ["[[conversations]]", f'id = "c{index:05d}"']
        for name in parts:
            lines += ["  [[conversations.segments]]", f'  file = "{ROOT / "corpus" / "media" / name}"']
        made, index = made + len(parts), index + 1
    path = folder / "soak.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def soak(recordings: int, *, seed: int = 7, rate: float = 0.10) -> SoakResult:
    faults = {"seed": seed, "slow_seconds": 0.1, "rates": {k: rate / len(KINDS) for k in KINDS}}
    settings = Settings(
        app_id=APP[0], app_secret=APP[1], time_scale=0.002, concurrency_limit=8, seed=seed, mode="scripted"
    )
    runner = web.AppRunner(create_app(settings, faults=FaultPlan.parse(faults), tick_seconds=0.01), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = site.name.rstrip("/")
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            env = {"SYMBL_APP_ID": APP[0], "SYMBL_APP_SECRET": APP[1], "SYMBL_BASE_URL": base}
            loaded = load_manifest(manifest(folder, recordings), environ=env)
            async with open_run(loaded, options=OPTIONS) as run:
                report = await run.run()
            async with aiohttp.ClientSession() as http:
                state = await (await http.get(f"{base}/_emulator/state")).json()
                stats = await (await http.get(f"{base}/_emulator/stats")).json()
            check(loaded, report.as_dict(), state, folder / "out")
            return SoakResult(
                recordings,
                report.totals,
                {k: v for k, v in stats.items() if k.startswith("fault_")},
                time.monotonic() - started,
            )
    finally:
        await runner.cleanup()


def check(loaded: Any, report: dict[str, Any], state: dict[str, Any], output: Path) -> None:
    """The soak's promises; raises AssertionError naming the first broken one."""
    segments = {s.key: s for s in loaded.segments()}
    for row in report["segments"]:
        assert row["status"] == "saved" or row["error"], f"{row['segment']} ended {row['status']} without a reason"
    known = {row["conversationId"] for row in report["segments"] if row["conversationId"]}
    on_server = {c["id"]: c for c in state["conversations"]}
    assert set(on_server) <= known, f"conversations the run does not know of: {sorted(set(on_server) - known)}"
    by_conversation: dict[str, list[str]] = {}
    for row in report["segments"]:
        by_conversation.setdefault(row["conversation"], []).append(row["segment"])
    for conversation, keys in by_conversation.items():
        ids = {r["conversationId"] for r in report["segments"] if r["conversation"] == conversation} - {None}
        assert len(ids) <= 1, f"{conversation} was created {len(ids)} times"
        if not ids:
            continue
        server = on_server[next(iter(ids))]
        sent = [s["mediaSha256"] for s in server["segments"]]
        expected = [hashlib.sha256(segments[k].file.read_bytes()).hexdigest() for k in keys if segments[k].file]
        assert sent == expected[: len(sent)], f"{conversation}: segments on the server are not the manifest's, once"
    outputs_equal_server(output, state, report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=0.10)
    args = parser.parse_args()
    result = asyncio.run(soak(args.recordings, seed=args.seed, rate=args.rate))
    print(json.dumps(result.__dict__, indent=1))


if __name__ == "__main__":
    main()
