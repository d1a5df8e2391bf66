"""Memory at scale: a big JSONL manifest's dry run and real run, each in a fresh process, RSS watched throughout.

    python -m tests.benchmarks.scale                                 # 100,000 rows (about 20 minutes)
    python -m tests.benchmarks.scale --rows 100000 1000000 --budget 1500 600 --json docs/scale-results.json

For each size: the manifest (one-file conversations, hard links to one 2-second WAV, as scenario 5 of
`tests.benchmarks.run`), then `symbl-batch run --dry-run`, then the real `symbl-batch run` against the
emulator in a separate process with instant jobs (time scale 0, C = 50), stopped with SIGINT (a clean,
resumable stop) when it passes its budget. Printed per run: exit code, seconds, jobs completed, peak RSS (the
kernel's), and RSS at each quarter of the run (flat means the working set does not grow with what is done).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.benchmarks import memory
from tests.benchmarks.measure import control
from tests.support.processes import EmulatorProcess, start_emulator

ROOT = Path(__file__).resolve().parents[2]


def quarters(samples: list[list[float]]) -> list[float]:
    """RSS (MB) at 25, 50, 75 and 100 % of a run's samples."""
    if not samples:
        return []
    return [samples[min(len(samples) - 1, round(q * (len(samples) - 1)))][1] for q in (0.25, 0.5, 0.75, 1.0)]


async def _child(emu: EmulatorProcess, budget: float, command: list[str]) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.benchmarks.memory", "watch", str(budget), "--", *command,
        stdout=asyncio.subprocess.PIPE, cwd=ROOT, env=emu.env(),
    )  # fmt: skip
    stdout, _ = await proc.communicate()
    found = dict(json.loads(stdout))
    found["rss_quarters_mb"] = quarters(found.pop("samples"))
    return found


async def measure(rows: int, budget: float, folder: Path) -> dict[str, Any]:
    api = {"concurrency": 50, "output": str(folder / "out"), "poll_min": 0.01, "poll_cap": 0.05, "probe_after": 1}
    manifest = await asyncio.to_thread(memory.hundred_thousand, folder / "big", rows, api)
    emu = await start_emulator("--seed", "11")
    try:
        await control(emu, "reset", {})
        await control(emu, "config", {"concurrency_limit": 50, "time_scale": 0.0})
        cli = [sys.executable, "-m", "batch.cli", "run", str(manifest), "--log-format", "json"]
        found: dict[str, Any] = {"rows": rows, "budget_s": budget}
        found["dry_run"] = await _child(emu, 3600.0, [*cli, "--dry-run"])
        print(rows, "dry run", json.dumps(found["dry_run"]), file=sys.stderr, flush=True)
        found["real_run"] = await _child(emu, budget, cli)
        found["real_run"]["jobs_completed"] = (await control(emu, "stats"))["jobs_completed"]
        print(rows, "real run", json.dumps(found["real_run"]), file=sys.stderr, flush=True)
        return found
    finally:
        emu.proc.terminate()
        await emu.proc.wait()


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| rows | run | exit | seconds | jobs completed | peak RSS MB | RSS at 25 / 50 / 75 / 100 % of the run, MB |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        for name in ("dry_run", "real_run"):
            m = r[name]
            jobs = m.get("jobs_completed", "-")
            shown = " / ".join(f"{q:g}" for q in m["rss_quarters_mb"])
            stopped = " (budget reached: SIGINT)" if m["interrupted"] else ""
            row = f"| {r['rows']:,} | {name.replace('_', ' ')}{stopped} | {m['returncode']} | {m['seconds']:g} | "
            lines.append(row + f"{jobs if isinstance(jobs, str) else f'{jobs:,}'} | {m['peak_rss_mb']:g} | {shown} |")
    return "\n".join(lines)


async def main_async(sizes: list[int], budgets: list[float], out: Path | None) -> int:
    if len(budgets) not in (1, len(sizes)):
        raise SystemExit("give one --budget, or one per --rows size")
    results = []
    for rows, budget in zip(sizes, budgets * len(sizes) if len(budgets) == 1 else budgets, strict=False):
        folder = Path(tempfile.mkdtemp(prefix=f"symbl-scale-{rows}-"))
        try:
            results.append(await measure(rows, budget, folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print(table(results))
    if out is not None:
        out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.scale", description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    parser.add_argument(
        "--budget", type=float, nargs="+", default=[1200.0], help="seconds a real run may take, one for all sizes or "
        "one per size (default 1200)"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    return asyncio.run(main_async(args.rows, args.budget, args.json))


if __name__ == "__main__":
    sys.exit(main())
