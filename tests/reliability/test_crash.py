"""Crash and resume, small: five SIGKILLs of the real CLI at seeded random points of its work, then a finishing run."""

from __future__ import annotations

from tests.reliability.crash import crash_resume


async def test_sigkills_at_random_moments_lose_and_double_nothing() -> None:
    """After the kills and a final run: one copy of everything, results on disk, every merge applied once."""
    result = await crash_resume(5, seed=3)
    assert result["kills"] >= 3, result  # most runs really were killed mid-way
    assert result["final_exit"] in (0, 1)  # 1 only if an append was cut mid-upload: reported stuck, never resent
    assert result["jobs_submitted"] == 10 or result["final_exit"] == 1
