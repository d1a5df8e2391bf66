"""Waiting on what a server or process says, never for a fixed time: `eventually` asks again until the answer
holds, and fails naming what never came."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], holds: Callable[[T], bool], *, seconds: float = 10, what: str = "the condition"
) -> T:
    """The first answer of `probe` for which `holds` is true, asked every 20 ms for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        answer = await probe()
        if holds(answer):
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {seconds:g} s; last answer: {answer!r}")
        await asyncio.sleep(0.02)
