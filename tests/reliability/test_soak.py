"""The fault soak, small: 60 recordings, 10 % seeded faults spread over every kind."""

from __future__ import annotations

from tests.reliability.soak import soak


async def test_soak_with_every_fault_kind_loses_and_doubles_nothing() -> None:
    """Every recording ends saved or reported with a reason; no duplicates; outputs equal the server's state."""
    result = await soak(60, seed=7)
    assert sum(result.totals.values()) == 60
    assert result.totals.get("saved", 0) >= 40  # most survive; the rest are reported, with reasons
    assert len(result.faults) >= 6  # the faults really happened, of many kinds
