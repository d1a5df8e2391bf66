"""`symbl-batch status`: what a state file says about a run, read without taking its lock.

Rule: a state file that a hand edit or a corruption left unreadable (a row, or the run's progress facts) is a
StateError naming the file and the part, never a traceback; so is a reconciliation record (read, and judged
stale or current, by `outputs.reconciliation`).
"""

from __future__ import annotations

import fcntl
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batch.errors import StateError
from batch.lifecycle import Row, Status
from batch.outputs import reconciliation
from batch.render import clock
from batch.report import Reconciled, reconciliation_lines
from batch.store import Store

PROBLEMS = frozenset({Status.FAILED, Status.STUCK, Status.TIMED_OUT, Status.BLOCKED, Status.UNKNOWN})


@dataclass(frozen=True, slots=True)
class StatusReport:
    path: Path
    running: bool
    counts: dict[str, int]
    progress: dict[str, Any] | None
    problems: list[Row]
    reconciliation: list[Reconciled] = field(default_factory=list)


def running(state: Path) -> bool:
    """True when a run holds the state's lock right now."""
    lock = state.with_name(state.name + ".lock")
    if not lock.exists():
        return False
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def read(state: Path, *, output: Path | None = None) -> StatusReport:
    """`output`: where the run wrote its results when the state does not say (default: the state's folder)."""
    store = Store(state).open_readonly()
    try:
        progress = _progress(store)
        output = _output(store) or output or state.parent
        counts: Counter[str] = Counter()
        problems = []
        for row in store.rows().values():  # a page at a time
            counts[row.status.value] += 1
            if row.status in PROBLEMS:
                problems.append(row)
        problems.sort(key=lambda r: r.key)
        reconciled = reconciliation(output, store.conversations())
    finally:
        store.close()
    return StatusReport(state, running(state), dict(counts), progress, problems, reconciled)


OUTPUT_KEY = "output"  # meta key: the output folder of the run (written by the command line at its start)


def _output(store: Store) -> Path | None:
    found = store.read_meta(OUTPUT_KEY)
    if found is not None and not isinstance(found, str):
        raise StateError(
            f"{store.path}: the run's output folder (meta key '{OUTPUT_KEY}') is {found!r}, not a path; "
            "run the manifest again to rewrite it"
        )
    return Path(found) if found else None


PROGRESS_FIELDS = {"in_use": (int,), "ceiling": (int,), "updated_at": (int, float), "eta_seconds": (int, float)}


def _progress(store: Store) -> dict[str, Any] | None:
    """The run's last published progress (`Runner._publish`), checked for the fields `describe` prints."""
    problem: str | None
    try:
        found = store.read_meta("progress")
        problem = _progress_problem(found)
    except (ValueError, RecursionError):  # not JSON (JSONDecodeError is a ValueError)
        found, problem = None, "not JSON"
    if problem is not None:
        raise StateError(
            f"{store.path}: the run's progress (meta key 'progress') is {problem}; "
            "run the manifest again to rewrite it, or move the state file away to start afresh"
        )
    return found if isinstance(found, dict) else None


def _progress_problem(found: Any) -> str | None:
    if found is None:
        return None
    if not isinstance(found, dict):
        return "not a JSON object"
    for name, kinds in PROGRESS_FIELDS.items():
        value = found.get(name)
        optional = name in ("updated_at", "eta_seconds") and value is None
        if not optional and (not isinstance(value, kinds) or isinstance(value, bool)):
            return f"missing a number {name}" if value is None else f"holding {name} = {value!r}, not a number"
    return None


def describe(report: StatusReport, *, now: float | None = None) -> str:
    now = time.time() if now is None else now
    total = sum(report.counts.values())
    lines = [
        f"state:    {report.path}",
        f"run:      {'active' if report.running else 'not running'}",
        f"segments: {total} (" + ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) + ")",
    ]
    progress = report.progress
    if progress:
        age = now - float(progress.get("updated_at", now))
        # no run holds the lock: no job slot is held by one, whatever the last run (perhaps killed) published
        in_use = progress["in_use"] if report.running else 0
        lines.append(f"slots:    {in_use} in use / ceiling {progress['ceiling']} (as of {clock(age)} ago)")
        if report.running and progress.get("eta_seconds") is not None:
            lines.append(f"ETA:      {clock(float(progress['eta_seconds']) - age)}")
    if report.problems:
        lines.append("problems:")
        lines += [f"  {r.key:<32} {r.status.value:<10} {r.error or ''}" for r in report.problems]
    return "\n".join(lines + reconciliation_lines(report.reconciliation))
