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
- among equals, manifest order;
- `Agenda` keeps the same answer up to date incrementally: after a change only the touched conversation is
  looked at again (O(its segments + log n)), so a step costs the same for 100,000 rows as for 10; it keeps
  a few bytes per conversation (no object per row), so its memory does not grow with the manifest.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

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
    """The segments that may be submitted now, best first (equals in manifest order)."""
    found = []
    for n, segments in enumerate(conversations):
        position = _first_pending(segments, rows)
        if position is not None:
            found.append((priority(segments, position), n, segments[position]))
    return [segment for *_, segment in sorted(found, key=lambda f: f[:2])]


NONE = -1  # a conversation with no ready segment
Seen = Callable[[int, Mapping[str, Row]], None]


def _rows_of(segments: Sequence[Segment], rows: Mapping[str, Row]) -> dict[str, Row]:
    """A conversation's rows, each read once (`rows` may be the state file's view)."""
    return {s.key: row for s in segments if (row := rows.get(s.key)) is not None}


class Agenda:
    """`ready` and `blocked`, maintained in memory that does not grow with the manifest beyond a few bytes per
    conversation. `update_all` looks at every conversation once and sorts their ready segments (a sorted array
    and a cursor); after that `update` re-examines only the conversations of changed keys, and a conversation
    that becomes ready again goes into a small heap. `best` is the better of the cursor's and the heap's first
    entry that is still ready, without looking at the others."""

    def __init__(self, conversations: Sequence[Sequence[Segment]], index_of: Mapping[str, int] | None = None) -> None:
        self._conversations = conversations
        if index_of is None:  # conversation id -> position, when the caller (a manifest) has none to give
            index_of = {c[0].conversation: n for n, c in enumerate(conversations) if c}
        self._of = index_of
        self._at = array("i", [NONE]) * len(conversations)  # conversation -> position of its ready segment
        self._first = array("i")  # conversation -> its position when the order was sorted
        self._order = array("i")  # conversation indices, best first, as of `update_all`
        self._cursor = 0
        self._heap: list[tuple[float, float, int, int]] = []  # (*priority, conversation, position): ready again

    def conversation_of(self, key: str) -> int | None:
        """The index of a segment key's conversation (a key is "<conversation id>/<segment id>")."""
        return self._of.get(key.partition("/")[0])

    def update_all(
        self, rows: Mapping[str, Row], busy: Collection[str] = (), *, each: Seen | None = None
    ) -> list[Segment]:
        """Look at every conversation; return the segments that are blocked. `each(index, its rows)` is given the
        rows read for each conversation (the tally counts them: every row is read once)."""
        import numpy as np  # noqa: PLC0415 - sorting a million conversations in arrays, not in Python objects

        n = len(self._conversations)
        rest, own = np.zeros(n), np.zeros(n)
        stopped: list[Segment] = []
        for index, segments in enumerate(self._conversations):
            mine = _rows_of(segments, rows)
            if each is not None:
                each(index, mine)
            stopped += self._look(index, mine, busy, push=False)
            position = self._at[index]
            if position != NONE:
                rest[index], own[index] = priority(segments, position)
        self._first = array("i", self._at)
        ready_ones = np.flatnonzero(np.frombuffer(self._first, dtype=np.int32) != NONE)
        ranked = ready_ones[np.lexsort((ready_ones, own[ready_ones], rest[ready_ones]))]
        self._order, self._cursor, self._heap = array("i", ranked.astype(np.int32).tobytes()), 0, []
        return stopped

    def update(self, keys: Iterable[str], rows: Mapping[str, Row], busy: Collection[str] = ()) -> list[Segment]:
        """Take changed rows (and busy keys) into account; return the segments that became blocked."""
        stopped: list[Segment] = []
        for index in {self.conversation_of(k) for k in keys} - {None}:
            assert index is not None
            stopped += self._look(index, rows, busy, push=True)
        return stopped

    def _look(self, index: int, rows: Mapping[str, Row], busy: Collection[str], *, push: bool) -> list[Segment]:
        segments = self._conversations[index]
        mine = _rows_of(segments, rows)
        stopped = blocked([segments], mine, busy)
        position = _first_pending(segments, mine)
        if position is None or segments[position].key in busy:
            self._at[index] = NONE
        elif self._at[index] != position:
            self._at[index] = position
            if push:
                heapq.heappush(self._heap, (*priority(segments, position), index, position))
        return stopped

    @property
    def index_of(self) -> Callable[[str], int | None]:
        """Segment key -> its conversation's index in `conversations` (None: not in the manifest)."""
        return self.conversation_of

    def _valid(self, index: int, position: int) -> bool:
        return self._at[index] == position

    def _from_order(self) -> tuple[float, float, int, int] | None:
        """The cursor's first still-ready entry (the cursor skips the others for good)."""
        while self._cursor < len(self._order):
            index = self._order[self._cursor]
            position = self._first[index]
            if self._valid(index, position):
                return (*priority(self._conversations[index], position), index, position)
            self._cursor += 1
        return None

    def _from_heap(self) -> tuple[float, float, int, int] | None:
        while self._heap:
            entry = self._heap[0]
            if self._valid(entry[2], entry[3]):
                return entry
            heapq.heappop(self._heap)  # stale: taken, finished or blocked since it was pushed
        return None

    def best(self) -> Segment | None:
        found = [e for e in (self._from_order(), self._from_heap()) if e is not None]
        if not found:
            return None
        *_, index, position = min(found)
        return self._conversations[index][position]

    def upcoming(self, n: int) -> list[Segment]:
        """The first `n` of `ready` (minus busy keys), in order, looking at O(n) entries of each source."""
        candidates: list[tuple[float, float, int, int]] = []
        cursor, seen = self._cursor, 0
        while cursor < len(self._order) and seen < n:
            index = self._order[cursor]
            position = self._first[index]
            if self._valid(index, position):
                candidates.append((*priority(self._conversations[index], position), index, position))
                seen += 1
            cursor += 1
        again: set[int] = set()  # the heap may hold one conversation twice (ready, taken, ready again)
        for entry in sorted(self._heap):
            if len(again) == n:
                break
            if self._valid(entry[2], entry[3]) and entry[2] not in again:
                again.add(entry[2])
                candidates.append(entry)
        found: dict[int, Segment] = {}
        for *_, index, position in sorted(candidates):
            if len(found) == n:
                break
            found.setdefault(index, self._conversations[index][position])
        return list(found.values())

    def take(self, segment: Segment) -> None:
        """The segment was started: it leaves the agenda until a change puts it back."""
        index = self.conversation_of(segment.key)
        if index is not None:
            self._at[index] = NONE


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
