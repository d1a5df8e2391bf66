"""What a run would do, without sending anything: order, media facts, estimates, and what a resume would skip.

Pure given its inputs: the manifest and each segment's action (`action`: from its fingerprint and its row of an
earlier run, if any).
Estimates: processing time = media seconds x speed (the speed an earlier run measured, else an assumption);
wall time at the ceiling = max(total processing / ceiling, the longest conversation's processing).
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from batch.lifecycle import IN_FLIGHT, Row, Status
from batch.models import Manifest, Segment
from batch.planner import ASSUMED_SPEED, estimated_seconds, priority


@dataclass(frozen=True, slots=True)
class Step:
    order: int
    segment: Segment
    seconds: float
    measured: bool  # duration from the media header, not estimated from the size
    action: str  # submit | append | skip (saved) | adopt (in flight) | redo (changed) | retry


@dataclass(frozen=True, slots=True)
class DryRun:
    steps: list[Step]  # the first `show` steps in order (all of them when `show` is None)
    count: int  # every step
    skipped: int  # steps a resume would skip (saved)
    media_seconds: float
    job_seconds: float
    wall_seconds: float
    speed: float
    speed_measured: bool
    ceiling: int


def action(segment: Segment, row: Row | None, fingerprint: str) -> str:
    """What a run would do with this segment, given its row of an earlier run (one of a few shared strings)."""
    if row is None:
        return "append" if segment.index else "submit"
    if row.fingerprint != fingerprint:
        return "redo (changed)"
    if row.status is Status.SAVED:
        return "skip (saved)"
    if row.status in IN_FLIGHT or row.status in (Status.FINISHED, Status.TIMED_OUT):
        return ADOPT[row.status]
    if row.status is Status.STUCK:
        return "leave (stuck)"
    return "retry" if row.status in (Status.FAILED, Status.BLOCKED) else ("append" if segment.index else "submit")


CHUNK = 4096  # heads turned into Python values at a time
ADOPT = {status: f"adopt ({status.value})" for status in Status}


def submission_order(manifest: Manifest) -> Iterator[tuple[int, Segment]]:
    """The planner's order if every job finished at once: its priority among heads (equals in manifest order),
    appends after their first. Each segment comes with its place in `manifest.segments()`. The heads are sorted
    in arrays (a few bytes per conversation); only appends wait in a heap."""
    import numpy as np  # noqa: PLC0415 - a million heads sorted in arrays, not in Python objects

    chains = manifest.chains()
    starts, start = array("q"), 0
    rest, own = np.full(len(chains), np.inf), np.full(len(chains), np.inf)
    for n, chain in enumerate(chains):  # one pass, a page of conversations at a time
        starts.append(start)
        start += len(chain)
        if chain:
            rest[n], own[n] = priority(chain, 0)
    heads = np.flatnonzero(np.isfinite(rest))
    heap: list[tuple[float, float, int, int]] = []  # appends: (*priority, conversation, position)

    def taken(n: int, position: int) -> tuple[int, Segment]:
        chain = chains[n]
        if position + 1 < len(chain):
            heapq.heappush(heap, (*priority(chain, position + 1), n, position + 1))
        return starts[n] + position, chain[position]

    ranked = heads[np.lexsort((heads, own[heads], rest[heads]))]
    for start in range(0, len(ranked), CHUNK):  # a chunk at a time: a million Python ints at once is 36 MB
        for head in ranked[start : start + CHUNK].tolist():
            first = (float(rest[head]), float(own[head]), head, 0)
            while heap and heap[0] < first:
                *_, n, position = heapq.heappop(heap)
                yield taken(n, position)
            yield taken(head, 0)
    while heap:
        *_, n, position = heapq.heappop(heap)
        yield taken(n, position)


def plan(manifest: Manifest, actions: Sequence[str], *, speed: float | None, show: int | None = None) -> DryRun:
    """`actions`: `action(...)` of each segment, in the order of `manifest.segments()`; `show`: how many steps to
    keep (None: all). One pass: a million rows' plan is not a million steps in memory."""
    used = speed if speed else ASSUMED_SPEED
    steps: list[Step] = []
    count = skipped = 0
    media = 0.0
    for count, (place, s) in enumerate(submission_order(manifest), 1):
        act = actions[place]
        seconds = estimated_seconds(s)
        if show is None or len(steps) < show:
            steps.append(Step(count, s, seconds, s.duration is not None, act))
        if act.startswith("skip"):
            skipped += 1
        if not act.startswith(("skip", "leave")):
            media += seconds
    ceiling = manifest.api.concurrency
    wall = max(media / ceiling, _longest(manifest, actions)) * used
    return DryRun(steps, count, skipped, media, media * used, wall, used, speed is not None, ceiling)


def _longest(manifest: Manifest, actions: Sequence[str]) -> float:
    """The most media seconds one conversation would send (its segments run one after another)."""
    longest, place = 0.0, 0
    for conversation in manifest.conversations:
        sent = 0.0
        for segment in conversation.segments:
            if not actions[place].startswith(("skip", "leave")):
                sent += estimated_seconds(segment)
            place += 1
        longest = max(longest, sent)
    return longest
