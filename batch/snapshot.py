"""Where a run stands: counts per status, slots in use against the ceiling, and an ETA. Pure.

ETA rule: the remaining media seconds times the observed processing speed, spread over the ceiling, but never
less than the longest remaining conversation (its segments run one after another).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
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


def take(
    conversations: Sequence[Sequence[Segment]], rows: Mapping[str, Row], *, in_use: int, ceiling: int, speed: float
) -> Snapshot:
    counts = Counter(rows[s.key].status.value for segments in conversations for s in segments if s.key in rows)
    chains = [
        sum(estimated_seconds(s) for s in segments if s.key in rows and rows[s.key].status not in FINAL_FOR_RUN)
        for segments in conversations
    ]
    remaining = sum(chains)
    eta = max(remaining / max(1, ceiling), max(chains, default=0.0)) * speed if remaining else 0.0
    return Snapshot(sum(len(c) for c in conversations), dict(counts), in_use, ceiling, eta)
