"""Which segments may be submitted now, best first. Pure: rows and manifest segments in, keys out.

Rules:
- a conversation has at most one segment in flight; segment k+1 is ready only when segment k is `saved`
  (the server would queue it anyway, and an append must never overlap its predecessor);
- a segment whose predecessor failed, timed out or is stuck is `blocked` for this run, and so is one whose
  predecessor's work ended without saving it (its job finished but the save gave up): nothing in the run
  will save the predecessor, so the append would wait for ever and end the run `pending` with no reason;
- among ready segments, the one with the most media left in its conversation (itself and the appends after
  it) goes first, then the longest: the critical path starts early, so few slots idle at the end of a batch;
  unknown durations are estimated from the size;
- `Agenda` keeps the same answer up to date incrementally: after a change only the touched conversation is
  looked at again (O(its segments + log n)), so a step costs the same for 100,000 rows as for 10.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable, Mapping, Sequence

from batch.lifecycle import Row, Status
from batch.models import Segment

BLOCKING = frozenset({Status.FAILED, Status.TIMED_OUT, Status.STUCK, Status.BLOCKED})
BYTES_PER_SECOND = 16_000.0  # 128 kbit/s when a duration is unknown
ASSUMED_SPEED = 0.1  # processing seconds per media second when no run has measured it (estimates only)


def estimated_seconds(segment: Segment) -> float:
    if segment.duration is not None:
        return segment.duration
    return segment.size / BYTES_PER_SECOND if segment.size else 60.0


def priority(segments: Sequence[Segment], position: int) -> tuple[float, float]:
    """Sort key (smaller first): the most media left in the conversation from here, then the longest segment."""
    rest = sum(estimated_seconds(s) for s in segments[position:])
    return (-rest, -estimated_seconds(segments[position]))


def _first_pending(segments: Sequence[Segment], rows: Mapping[str, Row]) -> int | None:
    for position, segment in enumerate(segments):
        status = rows[segment.key].status
        if status is not Status.SAVED:
            return position if status is Status.PENDING else None
    return None


def ready(conversations: Sequence[Sequence[Segment]], rows: Mapping[str, Row]) -> list[Segment]:
    """The segments that may be submitted now, best first."""
    found = []
    for segments in conversations:
        position = _first_pending(segments, rows)
        if position is not None:
            found.append((priority(segments, position), segments[position].key, segments[position]))
    return [segment for *_, segment in sorted(found)]


class Agenda:
    """`ready` and `blocked`, maintained: `update` re-examines the conversations of the changed keys, `best`
    answers the first of `ready` (minus the busy keys) without looking at the others."""

    def __init__(self, conversations: Sequence[Sequence[Segment]]) -> None:
        self._conversations = conversations
        self._of = {s.key: index for index, segments in enumerate(conversations) for s in segments}
        self._heap: list[tuple[float, float, str, int, int]] = []  # (*priority, key, conversation, position): flat
        self._ready: dict[int, int] = {}  # conversation index -> position of its ready segment

    def update(self, keys: Iterable[str], rows: Mapping[str, Row], busy: Collection[str] = ()) -> list[Segment]:
        """Take changed rows (and busy keys) into account; return the segments that became blocked."""
        stopped: list[Segment] = []
        for index in {self._of[k] for k in keys if k in self._of}:
            segments = self._conversations[index]
            stopped += blocked([segments], rows, busy)
            position = _first_pending(segments, rows)
            if position is None or segments[position].key in busy:
                self._ready.pop(index, None)
            elif self._ready.get(index) != position:
                self._ready[index] = position
                heapq.heappush(self._heap, (*priority(segments, position), segments[position].key, index, position))
        return stopped

    @property
    def index_of(self) -> Mapping[str, int]:
        """Segment key -> its conversation's index in `conversations`."""
        return self._of

    def best(self) -> Segment | None:
        while self._heap:
            *_, index, position = self._heap[0]
            if self._ready.get(index) == position:
                return self._conversations[index][position]
            heapq.heappop(self._heap)  # stale: taken, finished or blocked since it was pushed
        return None

    def upcoming(self, n: int) -> list[Segment]:
        """The first `n` of `ready` (minus busy keys), in order, in O(n log size)."""
        kept: list[tuple[float, float, str, int, int]] = []
        found: dict[str, Segment] = {}
        while self._heap and len(found) < n:
            entry = heapq.heappop(self._heap)
            *_, index, position = entry
            if self._ready.get(index) == position:  # else stale: dropped for good
                kept.append(entry)
                found.setdefault(entry[2], self._conversations[index][position])
        for entry in kept:
            heapq.heappush(self._heap, entry)
        return list(found.values())

    def take(self, segment: Segment) -> None:
        """The segment was started: it leaves the agenda until a change puts it back."""
        self._ready.pop(self._of[segment.key], None)


def blocked(
    conversations: Sequence[Sequence[Segment]], rows: Mapping[str, Row], busy: Collection[str] = ()
) -> list[Segment]:
    """Pending segments that can never run in this run because an earlier one of the conversation ended badly:
    in a blocking status, or neither saved nor pending with no work of the run on it (`busy` holds the keys
    being worked on)."""
    found = []
    for segments in conversations:
        stopped = False
        for segment in segments:
            status = rows[segment.key].status
            if stopped and status is Status.PENDING:
                found.append(segment)
            abandoned = status not in (Status.SAVED, Status.PENDING) and segment.key not in busy
            stopped = stopped or status in BLOCKING or abandoned
    return found
