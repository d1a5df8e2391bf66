"""Measuring one strategy against the emulator: the client's wall time and CPU, and the server's own record of
every job (its timeline and the polls it received), all turned into ratios.

Bound: LB = max(sum of job times / C, longest job time), where a job's time is what the emulator takes for the
recording (processing = media seconds x time scale, after a preparation of 2 % of it, at most 2 s); no
strategy can finish sooner, whatever it does.
"""

from __future__ import annotations

import resource
import statistics
import time
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.processes import EmulatorProcess


def duration(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def job_seconds(path: Path, scale: float) -> float:
    processing = duration(path) * scale
    return processing + min(2.0, 0.02 * processing)


async def control(emu: EmulatorProcess, name: str, body: dict[str, Any] | None = None) -> Any:
    async with aiohttp.ClientSession() as http:
        if body is None:
            async with http.get(f"{emu.base_url}/_emulator/{name}") as resp:
                return await resp.json()
        async with http.post(f"{emu.base_url}/_emulator/{name}", json=body) as resp:
            return await resp.json()


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(
    emu: EmulatorProcess,
    name: str,
    work: Callable[[], Awaitable[int]],
    *,
    files: list[Path],
    limit: int,
    scale: float,
) -> dict[str, Any]:
    """Reset the emulator to limit C and the time scale, run `work` (returns recordings finished), and report."""
    await control(emu, "reset", {})
    await control(emu, "config", {"concurrency_limit": limit, "time_scale": scale})
    cpu, started = _cpu(), time.monotonic()
    finished = await work()
    makespan, cpu = time.monotonic() - started, _cpu() - cpu
    stats = await control(emu, "stats")
    jobs = [j for j in (await control(emu, "jobs"))["jobs"] if j["status"] == "completed"]
    times = [job_seconds(p, scale) for p in files]
    bound = max(sum(times) / limit, *times)
    busy = sum(j["endsAt"] - j["submittedAt"] for j in jobs)
    delays = [
        (j["reportedAt"] - j["endsAt"]) / max(1e-9, j["endsAt"] - j["submittedAt"])
        for j in jobs
        if j["reportedAt"] is not None and scale > 0  # zero-duration jobs have no meaningful fraction
    ]
    origin = min((j["submittedAt"] for j in jobs), default=0.0)
    last_end = max((j["endsAt"] for j in jobs), default=started)
    # the emulator's clock is time.monotonic() in another process: the same clock on Linux, so these compare
    gaps = _turnovers(jobs)
    return {
        "strategy": name,
        "C": limit,
        "time_scale": scale,
        "recordings": len(files),
        "makespan_s": round(makespan, 2),
        "LB_s": round(bound, 2),
        "makespan_over_LB": round(makespan / bound, 3) if bound else None,
        "utilisation": round(busy / (limit * makespan), 3) if bound else None,
        "rejected_429": stats["rejected_429"],
        "submissions": stats["jobs_submitted"] + stats["rejected_429"],
        "not_finished": len(files) - finished,
        "peak_jobs": stats["peak_concurrent_jobs"],
        "client_cpu_s": round(cpu, 2),
        "polls_per_job": round(statistics.mean(j["statusRequests"] for j in jobs), 2) if jobs else None,
        "delay_median": _round(_quantile(delays, 0.5)),
        "delay_p95": _round(_quantile(delays, 0.95)),
        "startup_s": round(origin - started, 3) if jobs else None,
        "tail_s": round(started + makespan - last_end, 3),
        "turnover_median_s": _round(_quantile(gaps, 0.5)),
        "occupancy": [(round(j["submittedAt"] - origin, 4), round(j["endsAt"] - origin, 4)) for j in jobs],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _turnovers(jobs: list[dict[str, Any]]) -> list[float]:
    """Seconds from a job's end to the next submission (while the account is full, a slot changing hands)."""
    ends = sorted(j["endsAt"] for j in jobs)
    starts = sorted(j["submittedAt"] for j in jobs)
    gaps, i = [], 0
    for end in ends:
        while i < len(starts) and starts[i] < end:
            i += 1
        if i == len(starts):
            break
        gaps.append(starts[i] - end)
        i += 1
    return gaps
