"""Where a run stands: counts per status, slots in use against the ceiling, and an ETA. Pure.

ETA rule: the remaining media seconds times the observed processing speed, spread over the ceiling, but never
less than the longest remaining conversation (its segments run one after another).
`Tally` keeps the answer up to date from the keys that changed, so a snapshot (the progress view asks four
times a second) costs the same for a million rows as for ten (tests/engine/test_snapshot.py holds the rule
computed from every row, which it must equal).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from batch.lifecycle import FINAL_FOR_RUN, Row, Status
from batch.models import Segment
from batch.planner import estimated_seconds


@dataclass(frozen=True, slots=True)
class Snapshot:
    total: int
    counts: dict[str, int]
    in_use: int
    ceiling: int
    eta_seconds: float | None

    @property
    def finished(self) -> int:
        return sum(n for status, n in self.counts.items() if Status(status) in FINAL_FOR_RUN)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


STATUSES = tuple(Status)
CODES = {status: code for code, status in enumerate(STATUSES)}
NO_ROW = 255  # a segment without a state row yet
MICROS = 1_000_000  # remaining media time is summed in whole microseconds: exact, however many updates


class Tally:
    """`take`, maintained: each segment's status as one byte and each conversation's remaining media time, updated
    for the conversations of changed keys (O(their segments)). The longest remaining conversation is found by
    scanning conversations in order of a bound on their remaining time (re-sorted only when one grows, as when
    its rows first appear), stopping once no bound can beat the best: O(1) amortized."""

    def __init__(self, conversations: Sequence[Sequence[Segment]], index_of: Callable[[str], int | None]) -> None:
        self._conversations, self._of = conversations, index_of
        self._offset, start = array("q"), 0  # where each conversation's segments begin in `_codes`
        for segments in conversations:
            self._offset.append(start)
            start += len(segments)
        self._total = start
        self._codes = bytearray([NO_ROW]) * self._total
        self._counts = [0] * len(STATUSES)
        self._left = array("q", bytes(8 * len(conversations)))  # per conversation, microseconds
        self._sum = 0
        self._order, self._bound, self._start, self._resort = array("q"), array("q"), 0, True

    def update(self, keys: Iterable[str], rows: Mapping[str, Row]) -> None:
        for index in {self._of(k) for k in keys} - {None}:
            assert index is not None
            self.count(index, rows)

    def count(self, index: int, rows: Mapping[str, Row]) -> None:
        """Take conversation `index`'s rows into account (`rows` holds at least those)."""
        base, left = self._offset[index], 0
        for position, segment in enumerate(self._conversations[index]):
            row = rows.get(segment.key)
            code = NO_ROW if row is None else CODES[row.status]
            old = self._codes[base + position]
            if code != old:
                if old != NO_ROW:
                    self._counts[old] -= 1
                if code != NO_ROW:
                    self._counts[code] += 1
                self._codes[base + position] = code
            if row is not None and row.status not in FINAL_FOR_RUN:
                left += round(estimated_seconds(segment) * MICROS)
        self._sum += left - self._left[index]
        self._resort = self._resort or left > self._left[index]
        self._left[index] = left

    def _longest(self) -> int:
        n = len(self._left)
        if self._resort:
            import numpy as np  # noqa: PLC0415 - a million conversations sorted in an array, not in Python objects

            left = np.frombuffer(self._left, dtype=np.int64)
            self._order = array("q", np.argsort(-left, kind="stable").astype(np.int64).tobytes())
            self._bound, self._start, self._resort = array("q", self._left), 0, False
        while self._start < n and self._left[self._order[self._start]] == 0:
            self._start += 1  # done for this run: it can only come back by growing, which re-sorts
        best = 0
        for position in range(self._start, n):
            index = self._order[position]
            if self._bound[index] <= best:
                break
            best = max(best, self._left[index])
        return best

    def snapshot(self, *, in_use: int, ceiling: int, speed: float) -> Snapshot:
        counts = {STATUSES[code].value: n for code, n in enumerate(self._counts) if n}
        remaining = self._sum / MICROS
        eta = max(remaining / max(1, ceiling), self._longest() / MICROS) * speed if self._sum else 0.0
        return Snapshot(self._total, counts, in_use, ceiling, eta)
