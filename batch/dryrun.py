"""What a run would do, without sending anything: order, media facts, estimates, and what a resume would skip.

Pure given its inputs: the manifest and each segment's action (`action`: from its fingerprint and its row of an
earlier run, if any).
Estimates: processing time = media seconds x speed (the speed an earlier run measured, else an assumption);
wall time at the ceiling = max(total processing / ceiling, the longest conversation's processing).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
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
    steps: list[Step]
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


ADOPT = {status: f"adopt ({status.value})" for status in Status}


def submission_order(manifest: Manifest) -> list[Segment]:
    """The planner's order if every job finished at once: its priority among heads, appends after their first."""
    chains = {c.id: c.segments for c in manifest.conversations}
    heap = [(priority(chain, 0), chain[0].key, c, 0) for c, chain in chains.items() if chain]
    heapq.heapify(heap)
    order: list[Segment] = []
    while heap:
        *_, best, position = heapq.heappop(heap)
        order.append(chains[best][position])
        if position + 1 < len(chains[best]):
            chain = chains[best]
            heapq.heappush(heap, (priority(chain, position + 1), chain[position + 1].key, best, position + 1))
    return order


def plan(manifest: Manifest, actions: Mapping[str, str], *, speed: float | None) -> DryRun:
    """`actions`: segment key -> `action(...)` of each segment."""
    used = speed if speed else ASSUMED_SPEED
    steps = [
        Step(n, s, estimated_seconds(s), s.duration is not None, actions[s.key])
        for n, s in enumerate(submission_order(manifest), 1)
    ]
    todo = [st for st in steps if not st.action.startswith(("skip", "leave"))]
    media = sum(st.seconds for st in todo)
    per_conversation: dict[str, float] = {}
    for st in todo:
        per_conversation[st.segment.conversation] = per_conversation.get(st.segment.conversation, 0.0) + st.seconds
    chains = list(per_conversation.values())
    ceiling = manifest.api.concurrency
    wall = max(media / ceiling, max(chains, default=0.0)) * used
    return DryRun(steps, media, media * used, wall, used, speed is not None, ceiling)
