"""The fault soak, small: 60 recordings, 10 % seeded faults spread over every kind."""

from __future__ import annotations

from tests.reliability.hostile_soak import hostile_soak
from tests.reliability.soak import soak


async def test_soak_with_every_fault_kind_loses_and_doubles_nothing() -> None:
    """Every recording ends saved or reported with a reason; no duplicates; outputs equal the server's state."""
    result = await soak(60, seed=7)
    assert sum(result.totals.values()) == 60
    assert result.totals.get("saved", 0) >= 40  # most survive; the rest are reported, with reasons
    assert len(result.faults) >= 6  # the faults really happened, of many kinds


async def test_hostile_soak_with_restarts_loses_and_doubles_nothing() -> None:
    """Malformed answers, creates acted on late, dropped answers, 5xx; server restarts and client cut-offs between
    rounds: still no duplicate, every saved file equals the server's state, every row decided with a reason."""
    result = await hostile_soak(40, rounds=3, seed=11)
    assert sum(result.totals.values()) == 40
    assert result.totals.get("saved", 0) >= 30
    assert "fault_malformed" in result.faults and len(result.faults) >= 4  # the faults really happened
    # (which ones a seed draws depends on timing; act_late alone is checked in tests/engine/test_exactly_once.py)
