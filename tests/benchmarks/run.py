"""Benchmarks, measured side by side in one run (the emulator in a separate process, so the client's own CPU
can be measured). Prints one table row per strategy and saves everything as JSON.

    python -m tests.benchmarks.run                 # every scenario at full size (see README "Performance")
    python -m tests.benchmarks.run --smoke         # tiny sizes (what the test suite runs so this cannot rot)
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import random
import resource
import sys
import tempfile
import time
import wave
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

from batch import Options, load_manifest, open_run
from batch.client import RetryPolicy
from batch.flow import Timing
from tests.benchmarks import strategies
from tests.processes import EmulatorProcess, start_emulator

APP = ("bench-app", "bench-secret")
RATE = 1000  # samples per second of the generated media: small files, real WAV headers, real durations


def make_media(folder: Path, count: int, *, seed: int, median: float = 60.0, sigma: float = 0.8) -> list[Path]:
    """`count` silent WAV files with log-normal durations (seconds)."""
    rng = random.Random(seed)
    files = []
    for i in range(count):
        seconds = min(600.0, max(2.0, rng.lognormvariate(0, sigma) * median))
        path = folder / f"r{i:05d}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(b"\x01\x00" * int(seconds * RATE))
        files.append(path)
    return files


def duration(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


async def control(emu: EmulatorProcess, name: str, body: dict[str, Any] | None = None) -> Any:
    async with aiohttp.ClientSession() as http:
        if body is None:
            async with http.get(f"{emu.base_url}/_emulator/{name}") as resp:
                return await resp.json()
        async with http.post(f"{emu.base_url}/_emulator/{name}", json=body) as resp:
            return await resp.json()


def ours_options(scale: float) -> Options:
    timing = Timing(
        first_poll_min=0.01,
        poll_cap=max(0.05, 30 * scale),
        lost_answer_grace=0.05,
        speed_guess=scale,
        undecided_after=5.0,
    )
    return Options(
        timing=timing,
        retry=RetryPolicy(base=0.01, cap=0.1),
        probe_after=max(0.5, 30 * scale),
        backoff_base=max(0.01, scale),
        tick=0.01,
    )


async def run_ours(emu: EmulatorProcess, files: list[Path], folder: Path, ceiling: int, scale: float) -> int:
    manifest = folder / f"ours-{ceiling}.jsonl"
    lines = [json.dumps({"api": {"concurrency": ceiling, "output": str(folder / f"out-{ceiling}-{time.time()}")}})]
    lines += [json.dumps({"conversation": p.stem, "file": str(p)}) for p in files]
    manifest.write_text("\n".join(lines) + "\n")
    loaded = load_manifest(manifest, environ=emu.env())
    async with open_run(loaded, options=ours_options(scale)) as run:
        report = await run.run()
    return report.totals.get("saved", 0)


async def measure(
    emu: EmulatorProcess, name: str, work: Callable[[], Awaitable[int]], *, files: list[Path], limit: int, scale: float
) -> dict[str, Any]:
    await control(emu, "reset", {})
    await control(emu, "config", {"concurrency_limit": limit, "time_scale": scale})
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    started = time.monotonic()
    finished = await work()
    makespan = time.monotonic() - started
    used = resource.getrusage(resource.RUSAGE_SELF)
    stats = await control(emu, "stats")
    processing = [duration(p) * scale for p in files]
    bound = max(sum(processing) / limit, *processing)
    done_work = sum(sorted(processing)[:finished]) if finished < len(files) else sum(processing)
    return {
        "strategy": name,
        "C": limit,
        "recordings": len(files),
        "makespan_s": round(makespan, 2),
        "makespan_over_LB": round(makespan / bound, 3) if bound else None,
        "utilisation": round(done_work / (limit * makespan), 3) if bound else None,
        "rejected_429": stats["rejected_429"],
        "submissions": stats["jobs_submitted"] + stats["rejected_429"],
        "not_finished": len(files) - finished,
        "peak_jobs": stats["peak_concurrent_jobs"],
        "client_cpu_s": round(used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime, 2),
    }


async def scenario_makespan(
    emu: EmulatorProcess, folder: Path, files: list[Path], *, scale: float, limits: list[int], sequential_limit: int
) -> list[dict[str, Any]]:
    rows = []
    async with aiohttp.ClientSession() as http:
        api = strategies.RawApi(http, emu.base_url, APP)
        for limit in limits:
            await api.login()
            rows.append(
                await measure(
                    emu,
                    "ours",
                    functools.partial(run_ours, emu, files, folder, limit, scale),
                    files=files,
                    limit=limit,
                    scale=scale,
                )
            )
            subset = files[:sequential_limit]
            rows.append(
                await measure(
                    emu,
                    f"sdk one-at-a-time ({len(subset)} rec.)",
                    functools.partial(_logged_in, api, strategies.sdk_sequential, subset, scale),
                    files=subset,
                    limit=limit,
                    scale=scale,
                )
            )
            rows.append(
                await measure(
                    emu,
                    "sdk submit-all",
                    functools.partial(_logged_in, api, strategies.sdk_batch, files, scale),
                    files=files,
                    limit=limit,
                    scale=scale,
                )
            )
            rows.append(
                await measure(
                    emu,
                    "semaphore 8, 3 s polls",
                    functools.partial(_logged_in, api, strategies.semaphore, files, scale),
                    files=files,
                    limit=limit,
                    scale=scale,
                )
            )
    return rows


async def _logged_in(api: strategies.RawApi, strategy: Any, files: list[Path], scale: float) -> int:
    await api.login()
    return int(await strategy(api, files, scale))


async def scenario_wrong_ceiling(
    emu: EmulatorProcess, folder: Path, files: list[Path], scale: float, limit: int
) -> list[dict[str, Any]]:
    rows = []
    for ceiling in (2 * limit, max(1, limit // 2)):
        row = await measure(
            emu,
            f"ours, ceiling {ceiling}",
            functools.partial(run_ours, emu, files, folder, ceiling, scale),
            files=files,
            limit=limit,
            scale=scale,
        )
        row["rejected_per_submission"] = round(row["rejected_429"] / max(1, row["submissions"]), 4)
        rows.append(row)
    return rows


async def scenario_overhead(emu: EmulatorProcess, folder: Path, count: int) -> dict[str, Any]:
    (folder / "zero").mkdir()
    files = make_media(folder / "zero", count, seed=1, median=2.0, sigma=0.1)
    row = await measure(
        emu,
        "ours, zero-duration jobs",
        functools.partial(run_ours, emu, files, folder, 50, 0.0),
        files=files,
        limit=50,
        scale=0.0,
    )
    row["cpu_s_per_1000_lifecycles"] = round(row["client_cpu_s"] * 1000 / max(1, count), 2)
    return row


def scenario_planning(conversations: int) -> dict[str, Any]:
    from reconcile import Evidence, Member, Person, plan  # noqa: PLC0415 - only this scenario needs reconcile

    rng = random.Random(5)
    roster = [Person(f"Person {i}", f"p{i}@example.com") for i in range(6)]
    started = time.process_time()
    for c in range(conversations):
        evidence = []
        for segment in range(5):
            for k in range(2):
                who = roster[(c + segment + k) % 6].email
                scores = {p.email: (0.9 if p.email == who else rng.uniform(0.3, 0.6)) for p in roster}
                member = Member(f"c{c}", f"c{c}s{segment}m{k}", f"Speaker {k + 1}", None, segment, 10.0, ("hi",))
                evidence.append(Evidence(member, voice=scores, voice_peers={}))
        plan(evidence, roster)
    return {
        "scenario": "reconciliation planning",
        "conversations": conversations,
        "segments_each": 5,
        "cpu_s": round(time.process_time() - started, 2),
    }


def scenario_embedding(seconds: float) -> dict[str, Any]:
    from reconcile import Embedder, available  # noqa: PLC0415 - optional voice extra

    if not available():
        return {"scenario": "voice embedding", "skipped": "voice extra not installed"}
    import numpy as np  # noqa: PLC0415

    embedder = Embedder()
    samples = (np.random.default_rng(0).standard_normal(int(seconds * 16000)) * 0.1).astype(np.float32)
    embedder.embed(samples[: 16000 * 2])  # warm up
    started = time.perf_counter()
    embedder.embed(samples)
    elapsed = time.perf_counter() - started
    return {
        "scenario": "voice embedding",
        "audio_s": seconds,
        "wall_s": round(elapsed, 2),
        "times_real_time": round(seconds / elapsed, 1),
    }


@dataclass(frozen=True)
class Sizes:
    recordings: int
    sequential: int  # the one-at-a-time strategy gets this many (it would take hours for all)
    limits: list[int]
    zero: int
    plans: int
    audio: float


SMOKE = Sizes(recordings=12, sequential=3, limits=[5], zero=40, plans=200, audio=20.0)
FULL = Sizes(recordings=1000, sequential=40, limits=[5, 50], zero=1000, plans=10_000, audio=120.0)


async def main_async(smoke: bool, out: Path) -> dict[str, Any]:
    sizes = SMOKE if smoke else FULL
    scale = 0.002
    emu = await start_emulator("--time-scale", str(scale), "--seed", "11", app=APP)
    results: dict[str, Any] = {"sizes": asdict(sizes), "time_scale": scale}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "media").mkdir()
            files = make_media(folder / "media", sizes.recordings, seed=11)
            results["makespan"] = await scenario_makespan(
                emu, folder, files, scale=scale, limits=sizes.limits, sequential_limit=sizes.sequential
            )
            results["wrong_ceiling"] = await scenario_wrong_ceiling(emu, folder, files, scale, sizes.limits[0])
            results["overhead"] = await scenario_overhead(emu, folder, sizes.zero)
    finally:
        emu.proc.terminate()
        await emu.proc.wait()
    results["planning"] = scenario_planning(sizes.plans)
    results["embedding"] = scenario_embedding(sizes.audio)
    out.write_text(json.dumps(results, indent=1) + "\n")
    return results


def table(results: dict[str, Any]) -> str:
    lines = [
        f"{'strategy':<34} {'C':>3} {'rec':>5} {'makespan/LB':>11} {'util':>5} {'429s':>6} {'unfinished':>10}"
        f" {'client CPU s':>12}"
    ]
    for row in results["makespan"] + results["wrong_ceiling"] + [results["overhead"]]:
        ratio, util = (str(row[k]) if row[k] is not None else "-" for k in ("makespan_over_LB", "utilisation"))
        lines.append(
            f"{row['strategy']:<34} {row['C']:>3} {row['recordings']:>5} {ratio:>11} {util:>5} "
            f"{row['rejected_429']:>6} {row['not_finished']:>10} {row['client_cpu_s']:>12}"
        )
    lines.append(json.dumps(results["overhead"].get("cpu_s_per_1000_lifecycles")) + " CPU s per 1,000 lifecycles")
    lines.append(json.dumps(results["planning"]))
    lines.append(json.dumps(results["embedding"]))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes")
    parser.add_argument("--out", type=Path, default=Path("benchmark-results.json"))
    args = parser.parse_args()
    print(table(asyncio.run(main_async(args.smoke, args.out))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
