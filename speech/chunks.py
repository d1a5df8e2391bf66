"""Cutting a stream of samples into pieces of a few minutes at quiet moments, so memory stays bounded.

Rule: a piece is cut when `seconds + SEARCH` seconds are buffered, at the quietest 0.5 s (by RMS) of the last
`SEARCH` seconds before `seconds`, so a cut falls in a pause, not inside a word. Offsets are exact sample counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

RATE, SEARCH, QUIET = 16_000, 30.0, 0.5


def quietest(samples: np.ndarray, low: int, high: int) -> int:
    """The sample index in [low, high) at the middle of the quietest QUIET-second stretch."""
    size = int(QUIET * RATE)
    region = samples[low:high]
    count = len(region) // size
    if count == 0:
        return high
    energy = np.sqrt(np.mean(region[: count * size].reshape(count, size) ** 2, axis=1))
    return low + int(np.argmin(energy)) * size + size // 2


def pieces(blocks: Iterable[np.ndarray], seconds: float) -> Iterator[tuple[float, np.ndarray]]:
    """(offset seconds, samples) pieces of about `seconds` each, covering the stream exactly once."""
    target, search = int(seconds * RATE), int(SEARCH * RATE)
    buffer: list[np.ndarray] = []
    held, offset = 0, 0
    for block in blocks:
        buffer.append(block)
        held += len(block)
        if held >= target + search:
            samples = np.concatenate(buffer)
            cut = quietest(samples, target - search, target)
            yield offset / RATE, samples[:cut]
            offset += cut
            buffer, held = [samples[cut:]], len(samples) - cut
    if held:
        yield offset / RATE, np.concatenate(buffer)
