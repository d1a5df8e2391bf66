"""The progress snapshot: `Tally`, kept up to date from changed keys, says exactly what `take` (the rule) says."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.lifecycle import FINAL_FOR_RUN, NO_EVIDENCE, NO_MESSAGES, Row, Status
from batch.models import Segment
from batch.planner import Agenda, estimated_seconds
from batch.snapshot import Snapshot, Tally


def take(
    conversations: Sequence[Sequence[Segment]], rows: Mapping[str, Row], *, in_use: int, ceiling: int, speed: float
) -> Snapshot:
    """The rule, from every row: counts per status; ETA = the remaining media seconds times the speed, spread over
    the ceiling, but never less than the longest remaining conversation."""
    counts = Counter(rows[s.key].status.value for segments in conversations for s in segments if s.key in rows)
    chains = [
        sum(estimated_seconds(s) for s in segments if s.key in rows and rows[s.key].status not in FINAL_FOR_RUN)
        for segments in conversations
    ]
    remaining = sum(chains)
    eta = max(remaining / max(1, ceiling), max(chains, default=0.0)) * speed if remaining else 0.0
    return Snapshot(sum(len(c) for c in conversations), dict(counts), in_use, ceiling, eta)


SHAPES = st.lists(st.lists(st.integers(1, 500), min_size=1, max_size=4), min_size=1, max_size=8)


def _conversations(shape: list[list[int]]) -> list[tuple[Segment, ...]]:
    return [
        tuple(
            Segment(f"c{i}/{j + 1}", f"c{i}", j, "audio", "x.wav", None, {}, None, 1, float(d)) for j, d in enumerate(c)
        )
        for i, c in enumerate(shape)
    ]


def _row(segment: Segment, status: Status) -> Row:
    return Row(
        segment.key, segment.conversation, segment.index, "f", status, None, None, NO_EVIDENCE, NO_MESSAGES, 0, None
    )


@given(SHAPES, st.lists(st.tuples(st.integers(0, 1000), st.sampled_from([*Status, None])), max_size=40))
def test_a_tally_kept_up_to_date_equals_the_rule(
    shape: list[list[int]], changes: list[tuple[int, Status | None]]
) -> None:
    """Any conversations, any rows appearing, changing status (final or not, back again) or never existing: after
    each change, the tally's counts, total and ETA are take()'s."""
    conversations = _conversations(shape)
    segments = [s for c in conversations for s in c]
    tally = Tally(conversations, Agenda(conversations).index_of)
    rows: dict[str, Row] = {}
    for pick, status in changes:
        segment = segments[pick % len(segments)]
        if status is None:
            rows.pop(segment.key, None)
        else:
            rows[segment.key] = _row(segment, status)
        tally.update([segment.key], rows)
        expected = take(conversations, rows, in_use=2, ceiling=3, speed=0.5)
        found = tally.snapshot(in_use=2, ceiling=3, speed=0.5)
        assert (found.total, found.counts, found.in_use, found.ceiling) == (
            expected.total,
            expected.counts,
            expected.in_use,
            expected.ceiling,
        )
        assert found.eta_seconds == pytest.approx(expected.eta_seconds, abs=1e-6)


class Counting(dict[str, Row]):
    """Rows that count how often one is looked at."""

    looked = 0

    def get(self, key: str, default: object = None) -> Row | None:  # type: ignore[override]
        self.looked += 1
        return super().get(key)


def test_a_snapshot_looks_only_at_the_rows_of_changed_conversations() -> None:
    """After the rows first appear, keeping the tally costs the changed conversations' rows, not all rows: 100,000
    one-segment conversations, one saved between snapshots, a thousand snapshots look at a thousand rows."""
    conversations = _conversations([[60]] * 100_000)
    tally = Tally(conversations, Agenda(conversations).index_of)
    rows = Counting({c[0].key: _row(c[0], Status.PENDING) for c in conversations})
    tally.update(rows, rows)
    tally.snapshot(in_use=0, ceiling=5, speed=0.1)
    rows.looked = 0
    for n in range(1000):
        segment = conversations[n * 97][0]
        rows[segment.key] = _row(segment, Status.SAVED)
        tally.update([segment.key], rows)
        found = tally.snapshot(in_use=5, ceiling=5, speed=0.1)
    assert rows.looked == 1000
    assert found.counts == {"pending": 99_000, "saved": 1000}
    assert found == take(conversations, rows, in_use=5, ceiling=5, speed=0.1)
