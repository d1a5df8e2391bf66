"""Pure planners of the engine, table-driven and property-based: slot controller, planner, state table, client."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch import StateError
from batch.client import encode_query
from batch.lifecycle import TRANSITIONS, IllegalMove, Row, Status, check
from batch.models import Segment
from batch.planner import blocked, ready
from batch.slots import SlotController
from batch.store import Store


def test_a_429_lowers_the_ceiling_but_never_below_held_jobs() -> None:
    """Ceiling 20, account full at 5: two 429s bring the ceiling to 5, never under the accepted jobs."""
    slots = SlotController(20, rng=random.Random(0))
    for _ in range(6):
        slots.started(0.0)
        slots.accepted(0.0)
    decision = slots.rejected(0.0, None)  # the 6th was refused: 5 held
    assert (decision.ceiling, slots.in_use) == (10, 5)
    slots.started(1.0)
    assert slots.rejected(1.0, None).ceiling == 5
    assert slots.in_use == 5 and not slots.can_start(1.0)  # full at the learnt ceiling: nothing more starts


def test_retry_after_pauses_but_never_moves_the_ceiling() -> None:
    """Retry-After sets the pause of that call only; the ceiling follows the multiplicative rule alone."""
    with_header, without = SlotController(8), SlotController(8)
    for slots in (with_header, without):
        slots.started(0.0)
        slots.started(0.0)
        slots.accepted(0.0)
    assert with_header.rejected(0.0, 42.0).ceiling == without.rejected(0.0, None).ceiling
    assert with_header.wait_hint(0.0) == 42.0 and not with_header.can_start(41.0)
    with_header.released(10.0)  # a job ended: the account has room, the pause ends
    assert with_header.can_start(10.0)


def test_the_ceiling_rises_after_sustained_full_use_only() -> None:
    """+1 after probe_after seconds with every slot busy and no 429; not while slots are idle; never past max."""
    slots = SlotController(4, probe_after=10.0)
    slots.ceiling = 2.0
    slots.started(0.0)
    assert slots.tick(50.0) is None  # not full
    slots.started(50.0)
    assert slots.tick(55.0) is None
    decision = slots.tick(60.0)
    assert decision is not None and decision.ceiling == 3
    slots.ceiling = 4.0
    assert slots.tick(1000.0) is None


@given(st.lists(st.sampled_from(["start", "accept", "reject", "release", "tick"]), max_size=200), st.integers(1, 50))
def test_slot_controller_invariants(events: list[str], maximum: int) -> None:
    """Whatever happens, 1 <= limit <= maximum and the held count never goes negative."""
    slots = SlotController(maximum, rng=random.Random(1))
    now = 0.0
    for event in events:
        now += 1.0
        if event == "start" and slots.can_start(now):
            slots.started(now)
        elif event == "accept":
            slots.accepted(now)
        elif event == "reject" and slots.in_use:
            slots.rejected(now, None)
        elif event == "release" and slots.in_use:
            slots.released(now)
        elif event == "tick":
            slots.tick(now)
        assert 1 <= slots.limit <= maximum and slots.in_use >= 0


def _segment(conv: str, index: int, duration: float) -> Segment:
    return Segment(f"{conv}/{index + 1}", conv, index, "audio", "x.wav", None, {}, None, 1, duration)


def _row(segment: Segment, status: Status) -> Row:
    return Row(segment.key, segment.conversation, segment.index, "fp", status, None, None, {}, [], 0, None)


def test_planner_sends_only_the_next_segment_of_each_conversation_longest_first() -> None:
    """Appends wait for their predecessor to be saved; the most media left in a conversation goes first."""
    a = [_segment("a", 0, 10), _segment("a", 1, 100)]
    b = [_segment("b", 0, 50)]
    c = [_segment("c", 0, 5), _segment("c", 1, 500)]
    rows = {s.key: _row(s, Status.PENDING) for s in a + b + c}
    rows["c/1"] = _row(c[0], Status.SUBMITTED)
    assert [s.key for s in ready([a, b, c], rows)] == ["a/1", "b/1"]  # a: 10 + 100 left, b: 50
    rows["a/1"] = _row(a[0], Status.SAVED)
    assert [s.key for s in ready([a, b, c], rows)] == ["a/2", "b/1"]
    rows["c/1"] = _row(c[0], Status.FAILED)
    assert [s.key for s in blocked([a, b, c], rows)] == ["c/2"]


def test_state_table_refuses_illegal_moves() -> None:
    """The segment state machine is a table; a saved segment never moves again, pending never jumps to saved."""
    assert TRANSITIONS[Status.SAVED] == frozenset()
    with pytest.raises(IllegalMove):
        check(Status.PENDING, Status.SAVED)
    with pytest.raises(IllegalMove):
        check(Status.STUCK, Status.PENDING)  # a stuck segment is never resent by the tool
    check(Status.SUBMITTING, Status.UNKNOWN)


def test_store_refuses_newer_schema_and_corrupt_files(tmp_path: Path) -> None:
    """A state file from a newer version or a corrupt one is a StateError naming the file, and files are 0600."""
    path = tmp_path / "state.sqlite"
    with Store(path) as store:
        store.db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(StateError, match="newer symbl-batch"), Store(path):
        pass
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StateError, match="not a usable state file"), Store(broken):
        pass


def test_query_encoding_follows_the_contract() -> None:
    """Booleans are true/false, lists and objects JSON, numbers plain (docs/api-contract.md §1)."""
    encoded = encode_query(
        {
            "enableSpeakerDiarization": True,
            "diarizationSpeakerCount": 2,
            "customVocabulary": ["a", "b"],
            "confidenceThreshold": 0.6,
        }
    )
    assert encoded == {
        "enableSpeakerDiarization": "true",
        "diarizationSpeakerCount": "2",
        "customVocabulary": '["a","b"]',
        "confidenceThreshold": "0.6",
    }
