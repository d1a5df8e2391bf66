"""Benchmarks, measured side by side in one run: the emulator in a separate process (so the client's own CPU can
be measured), a compressed time scale, fixed seeds. Prints one table row per strategy, saves every figure as
JSON and draws slot occupancy over time for scenario 1 (docs/performance.md).

    python -m tests.benchmarks.run                 # every scenario at full size, about 12 minutes here
    python -m tests.benchmarks.run --smoke         # tiny sizes (what the test suite runs so this cannot rot)
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import random
import sys
import tempfile
import time
import wave
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp

from batch import Options, load_manifest, open_run
from batch.client import RetryPolicy
from batch.flow import Timing
from tests.benchmarks import memory, picture, strategies
from tests.benchmarks.measure import control, measure
from tests.support.processes import EmulatorProcess, start_emulator
from tests.support.server import ROOT

APP = ("bench-app", "bench-secret")
RATE = 1000  # samples per second of the generated media: small files, real WAV headers, real durations


@dataclass(frozen=True)
class Sizes:
    recordings: int
    scales: dict[int, float]  # C -> time scale: jobs long enough that loopback latency is not what is measured
    sequential: int  # the one-at-a-time pattern gets this many recordings (all of them would take hours)
    ceiling_at: int  # C for scenario 2
    zero: int
    memory_rows: int
    memory_budget: float  # seconds the real 100,000-row run may take before it is interrupted (SIGINT)
    upload_bytes: int
    plans: int
    audio: float

    @property
    def limits(self) -> tuple[int, ...]:
        return tuple(self.scales)


SMOKE = Sizes(12, {5: 0.002}, 3, 5, 40, 500, 30.0, 8 << 20, 200, 20.0)
FULL = Sizes(1000, {5: 0.004, 50: 0.01}, 20, 50, 1000, 100_000, 240.0, 1 << 30, 10_000, 120.0)


def make_media(folder: Path, count: int, *, seed: int, median: float = 60.0, sigma: float = 0.8) -> list[Path]:
    """`count` WAV files (constant samples) with log-normal durations in seconds, between 2 s and 10 min."""
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


def scaled_options(scale: float, floor: float = 0.005) -> Options:
    """Our defaults with every time constant multiplied by the time scale, as the SDK patterns' 30 s and 3 s
    intervals are; nothing about the service's speed is given: the engine learns it during the run."""
    timing, options, retry = Timing(), Options(), RetryPolicy()

    def s(seconds: float) -> float:
        return max(floor, seconds * scale)

    timing = replace(
        timing,
        first_poll_min=s(timing.first_poll_min),
        poll_cap=s(timing.poll_cap),
        lost_answer_grace=s(timing.lost_answer_grace),
        undecided_after=s(timing.undecided_after),
    )
    return replace(
        options,
        timing=timing,
        retry=replace(retry, base=s(retry.base), cap=s(retry.cap)),
        probe_after=s(options.probe_after),
        backoff_base=s(options.backoff_base),
        tick=s(options.tick),
    )


async def run_ours(
    emu: EmulatorProcess, files: list[Path], folder: Path, ceiling: int, scale: float, *, webhooks: bool = False
) -> int:
    api: dict[str, Any] = {"concurrency": ceiling, "output": str(folder / f"out-{time.monotonic_ns()}")}
    if webhooks:
        api["webhook_listen"] = "127.0.0.1:0"
    manifest = folder / f"ours-{time.monotonic_ns()}.jsonl"
    lines = [json.dumps({"api": api})] + [json.dumps({"conversation": p.stem, "file": str(p)}) for p in files]
    manifest.write_text("\n".join(lines) + "\n")
    loaded = load_manifest(manifest, environ=emu.env())
    async with open_run(loaded, options=scaled_options(scale)) as run:
        report = await run.run()
    return int(report.totals.get("saved", 0))


async def _raw(emu: EmulatorProcess, strategy: Any, files: list[Path], *args: Any) -> int:
    async with aiohttp.ClientSession() as http:
        api = strategies.RawApi(http, emu.base_url, APP)
        await api.login()
        return int(await strategy(api, files, *args))


async def scenario_makespan(
    emu: EmulatorProcess, folder: Path, files: list[Path], sizes: Sizes
) -> list[dict[str, Any]]:
    """1 (and 3, polling mode): every strategy at each C."""
    rows = []
    for limit, scale in sizes.scales.items():
        subset = files[: sizes.sequential]
        runs = [
            ("ours", functools.partial(run_ours, emu, files, folder, limit, scale), files),
            (
                f"sdk one-at-a-time ({len(subset)} rec.)",
                functools.partial(_raw, emu, strategies.sdk_sequential, subset, scale),
                subset,
            ),
            ("sdk submit-all", functools.partial(_raw, emu, strategies.sdk_batch, files, scale), files),
            ("semaphore 8, 3 s polls", functools.partial(_raw, emu, strategies.semaphore, files, scale), files),
        ]
        for name, work, used in runs:
            rows.append(await measure(emu, name, work, files=used, limit=limit, scale=scale))
            print(_line(rows[-1]), file=sys.stderr, flush=True)
    return rows


async def scenario_wrong_ceiling(
    emu: EmulatorProcess, folder: Path, files: list[Path], sizes: Sizes
) -> list[dict[str, Any]]:
    """2: ours told twice the real limit, and half of it."""
    limit, rows = sizes.ceiling_at, []
    scale = sizes.scales[limit]
    for ceiling in (2 * limit, max(1, limit // 2)):
        work = functools.partial(run_ours, emu, files, folder, ceiling, scale)
        row = await measure(emu, f"ours, ceiling {ceiling}", work, files=files, limit=limit, scale=scale)
        row["rejected_per_submission"] = round(row["rejected_429"] / max(1, row["submissions"]), 4)
        rows.append(row)
        print(_line(row), file=sys.stderr, flush=True)
    return rows


async def scenario_webhooks(emu: EmulatorProcess, folder: Path, files: list[Path], sizes: Sizes) -> dict[str, Any]:
    """3, webhook mode: the receiver wakes a job's poller when the emulator reports its end."""
    limit = sizes.limits[-1]
    scale = sizes.scales[limit]
    work = functools.partial(run_ours, emu, files, folder, limit, scale, webhooks=True)
    row = await measure(emu, "ours, webhooks", work, files=files, limit=limit, scale=scale)
    print(_line(row), file=sys.stderr, flush=True)
    return row


async def scenario_overhead(emu: EmulatorProcess, folder: Path, count: int) -> list[dict[str, Any]]:
    """4: client CPU per 1,000 lifecycles of zero-duration jobs, beside bare aiohttp making the same requests."""
    (folder / "zero").mkdir()
    files = make_media(folder / "zero", count, seed=1, median=2.0, sigma=0.1)
    rows = [
        await measure(
            emu,
            "ours, zero-duration jobs",
            functools.partial(run_ours, emu, files, folder, 50, 0.0),
            files=files,
            limit=50,
            scale=0.0,
        ),
        await measure(
            emu,
            "bare aiohttp, same requests",
            functools.partial(_raw, emu, strategies.bare_requests, files),
            files=files,
            limit=50,
            scale=0.0,
        ),
    ]
    for row in rows:
        row["cpu_s_per_1000_lifecycles"] = round(row["client_cpu_s"] * 1000 / max(1, count), 2)
        print(_line(row), file=sys.stderr, flush=True)
    return rows


async def scenario_memory(emu: EmulatorProcess, folder: Path, sizes: Sizes) -> dict[str, Any]:
    """5: peak RSS for the big manifest (dry run, real run with instant jobs); RSS growth for the big upload."""
    results: dict[str, Any] = {"rows": sizes.memory_rows}
    out = folder / "memory-out"
    api = {"concurrency": 50, "output": str(out), "poll_min": 0.01, "poll_cap": 0.05, "probe_after": 1}
    manifest = await asyncio.to_thread(memory.hundred_thousand, folder / "big", sizes.memory_rows, api)
    await control(emu, "reset", {})
    await control(emu, "config", {"concurrency_limit": 50, "time_scale": 0.0})
    cli = [sys.executable, "-m", "batch.cli", "run", str(manifest), "--log-format", "json"]
    for name, command, budget in (
        ("dry_run", [*cli, "--dry-run"], 600.0),
        ("real_run", cli, sizes.memory_budget),
    ):
        results[name] = await _memory_child(emu, "watch", str(budget), "--", *command)
        print(name, json.dumps({k: v for k, v in results[name].items() if k != "samples"}), file=sys.stderr)
    results["real_run"]["jobs_completed"] = (await control(emu, "stats"))["jobs_completed"]
    big = memory.sparse_wav(folder / "big.wav", sizes.upload_bytes)
    small = memory.sparse_wav(folder / "small.wav", 1 << 20)
    await control(emu, "reset", {})
    await control(emu, "config", {"concurrency_limit": 5, "time_scale": 1e-5})
    manifests = []
    for path in (small, big):
        one = folder / f"{path.stem}.jsonl"
        row_api = {"output": str(folder / f"out-{path.stem}"), "poll_min": 0.05, "poll_cap": 0.5}
        one.write_text(json.dumps({"api": row_api}) + "\n" + json.dumps({"conversation": path.stem, "file": str(path)}))
        manifests.append(str(one))
    results["upload"] = await _memory_child(emu, "upload", *manifests)
    print("upload", json.dumps(results["upload"]), file=sys.stderr)
    return results


async def _memory_child(emu: EmulatorProcess, *args: str) -> dict[str, Any]:
    """`python -m tests.benchmarks.memory ARGS...` against the emulator; its JSON answer."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.benchmarks.memory", *args, stdout=asyncio.subprocess.PIPE, cwd=ROOT, env=emu.env()
    )
    stdout, _ = await proc.communicate()
    return dict(json.loads(stdout))


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
                evidence.append(Evidence(member, voice=scores))
        plan(evidence, roster)
    return {"conversations": conversations, "segments_each": 5, "cpu_s": round(time.process_time() - started, 2)}


def scenario_embedding(seconds: float) -> dict[str, Any]:
    from reconcile import Embedder, available  # noqa: PLC0415 - optional voice extra

    if not available():
        return {"skipped": "voice extra not installed"}
    import numpy as np  # noqa: PLC0415

    embedder = Embedder()
    samples = (np.random.default_rng(0).standard_normal(int(seconds * 16000)) * 0.1).astype(np.float32)
    embedder.embed(samples[: 16000 * 2])  # warm up
    started = time.perf_counter()
    embedder.embed(samples)
    elapsed = time.perf_counter() - started
    return {"audio_s": seconds, "wall_s": round(elapsed, 2), "times_real_time": round(seconds / elapsed, 1)}


async def main_async(smoke: bool, out: Path, picture_path: Path | None = None) -> dict[str, Any]:
    sizes = SMOKE if smoke else FULL
    started = time.monotonic()
    emu = await start_emulator("--seed", "11", app=APP)
    results: dict[str, Any] = {"sizes": asdict(sizes) | {"scales": {str(k): v for k, v in sizes.scales.items()}}}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "media").mkdir()
            files = make_media(folder / "media", sizes.recordings, seed=11)
            results["makespan"] = await scenario_makespan(emu, folder, files, sizes)
            results["wrong_ceiling"] = await scenario_wrong_ceiling(emu, folder, files, sizes)
            results["webhooks"] = await scenario_webhooks(emu, folder, files, sizes)
            results["overhead"] = await scenario_overhead(emu, folder, sizes.zero)
            results["memory"] = await scenario_memory(emu, folder, sizes)
    finally:
        emu.proc.terminate()
        await emu.proc.wait()
    results["planning"] = scenario_planning(sizes.plans)
    results["embedding"] = scenario_embedding(sizes.audio)
    results["wall_s"] = round(time.monotonic() - started, 1)
    out.write_text(json.dumps(results, indent=1) + "\n")
    if picture_path is not None:
        picture_path.write_text(picture.occupancy(results["makespan"]))
    return results


COLUMNS = (
    ("strategy", 34, "strategy"),
    ("C", 3, "C"),
    ("rec", 5, "recordings"),
    ("makespan/LB", 11, "makespan_over_LB"),
    ("util", 5, "utilisation"),
    ("429s", 5, "rejected_429"),
    ("subm.", 5, "submissions"),
    ("unfin.", 6, "not_finished"),
    ("polls/job", 9, "polls_per_job"),
    ("delay p50", 9, "delay_median"),
    ("delay p95", 9, "delay_p95"),
    ("CPU s", 6, "client_cpu_s"),
)


def _line(row: dict[str, Any]) -> str:
    cells = []
    for _, width, key in COLUMNS:
        value = row.get(key)
        text = "-" if value is None else str(value)
        cells.append(f"{text:<{width}}" if key == "strategy" else f"{text:>{width}}")
    return " ".join(cells)


def table(results: dict[str, Any]) -> str:
    header = " ".join(f"{title:<{w}}" if key == "strategy" else f"{title:>{w}}" for title, w, key in COLUMNS)
    rows = results["makespan"] + results["wrong_ceiling"] + [results["webhooks"]] + results["overhead"]
    lines = [header, *(_line(row) for row in rows)]
    ours, bare = results["overhead"]
    lines.append(
        f"client CPU per 1,000 lifecycles: ours {ours['cpu_s_per_1000_lifecycles']} s, bare aiohttp making the same "
        f"requests {bare['cpu_s_per_1000_lifecycles']} s"
    )
    mem = results["memory"]
    real = mem["real_run"]
    lines.append(
        f"peak RSS, {mem['rows']:,}-row JSONL: dry run {mem['dry_run']['peak_rss_mb']} MB (exit "
        f"{mem['dry_run']['returncode']}, {mem['dry_run']['seconds']} s); real run {real['peak_rss_mb']} MB "
        f"({real['jobs_completed']:,} jobs done in {real['seconds']} s"
        + (", then interrupted" if real["interrupted"] else "")
        + f", exit {real['returncode']})"
    )
    up = mem["upload"]
    lines.append(
        f"RSS growth uploading {up['file_bytes'] / (1 << 20):.0f} MiB: {up['growth_mb']} MB "
        f"(baseline {up['baseline_rss_mb']} MB, peak {up['peak_rss_mb']} MB)"
    )
    lines.append(f"reconciliation planning: {json.dumps(results['planning'])}")
    lines.append(f"voice embedding: {json.dumps(results['embedding'])}")
    lines.append(f"benchmark wall time: {results['wall_s']} s")
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    """The scenario rows as a Markdown table (what docs/performance.md shows)."""
    keys = [k for _, _, k in COLUMNS] + ["turnover_median_s"]
    titles = [t for t, _, _ in COLUMNS] + ["slot turnover p50 s"]
    rows = results["makespan"] + results["wrong_ceiling"] + [results["webhooks"]] + results["overhead"]
    lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    lines += ["| " + " | ".join("-" if r.get(k) is None else str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes")
    parser.add_argument("--out", type=Path, default=Path("benchmark-results.json"))
    parser.add_argument("--picture", type=Path, default=None, help="write the slot-occupancy SVG here")
    parser.add_argument("--markdown", action="store_true", help="also print the rows as a Markdown table")
    args = parser.parse_args()
    results = asyncio.run(main_async(args.smoke, args.out, args.picture))
    print(table(results))
    if args.markdown:
        print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
