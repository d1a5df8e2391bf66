"""Which segments may be submitted now, best first. Pure: rows and manifest segments in, keys out.

Rules:
- a conversation has at most one segment in flight; segment k+1 is ready only when segment k is `saved`
  (the server would queue it anyway, and an append must never overlap its predecessor);
- a segment whose predecessor failed, timed out or is stuck is `blocked` for this run;
- among ready segments, the one with the most media left in its conversation (itself and the appends after
  it) goes first, then the longest: the critical path starts early, so few slots idle at the end of a batch;
  unknown durations are estimated from the size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from batch.lifecycle import IN_FLIGHT, Row, Status
from batch.models import Segment

BLOCKING = frozenset({Status.FAILED, Status.TIMED_OUT, Status.STUCK, Status.BLOCKED})
BYTES_PER_SECOND = 16_000.0  # 128 kbit/s when a duration is unknown


def estimated_seconds(segment: Segment) -> float:
    if segment.duration is not None:
        return segment.duration
    return segment.size / BYTES_PER_SECOND if segment.size else 60.0


def priority(segments: Sequence[Segment], position: int) -> tuple[float, float]:
    """Sort key (smaller first): the most media left in the conversation from here, then the longest segment."""
    rest = sum(estimated_seconds(s) for s in segments[position:])
    return (-rest, -estimated_seconds(segments[position]))


def ready(conversations: Sequence[Sequence[Segment]], rows: Mapping[str, Row]) -> list[Segment]:
    """The segments that may be submitted now, best first."""
    found: list[tuple[tuple[float, float], str, Segment]] = []
    for segments in conversations:
        for position, segment in enumerate(segments):
            status = rows[segment.key].status
            if status is Status.SAVED:
                continue
            if status is Status.PENDING:
                found.append((priority(segments, position), segment.key, segment))
            break  # only the first unfinished segment of a conversation is considered
    return [segment for *_, segment in sorted(found)]


def blocked(conversations: Sequence[Sequence[Segment]], rows: Mapping[str, Row]) -> list[Segment]:
    """Pending segments that can never run in this run because an earlier one of the conversation ended badly."""
    found = []
    for segments in conversations:
        stopped = False
        for segment in segments:
            status = rows[segment.key].status
            if stopped and status is Status.PENDING:
                found.append(segment)
            stopped = stopped or status in BLOCKING
    return found


def in_flight(rows: Mapping[str, Row]) -> list[str]:
    return [key for key, row in rows.items() if row.status in IN_FLIGHT]
