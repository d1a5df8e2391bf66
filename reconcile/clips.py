"""Short WAV clips of a voice for the review file, so a person can listen before answering.

Rule: a clip is the voice's longest quotes, cut from its segments' decoded audio, with `GAP` seconds of silence
between quotes, at most `SECONDS` long in all; 16 kHz mono 16-bit PCM, beside the review file. A voice whose
media could not be read has no clip (the review entry says nothing about one).
"""

from __future__ import annotations

import os
import wave
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from reconcile.models import ReviewItem
from speech.voice.fbank import RATE

SECONDS, GAP = 12.0, 0.4
PATTERN = "review-clip-*.wav"


def name_of(item: ReviewItem) -> str:
    return f"review-clip-{item.members[0].id[:12]}.wav"


def samples_of(item: ReviewItem, audio: Mapping[int, np.ndarray]) -> np.ndarray | None:
    """The clip's samples, or None when none of the voice's media was read."""
    quotes = sorted(
        ((m.segment, q) for m in item.members if m.segment in audio for q in m.quotes),
        key=lambda sq: sq[1].start - sq[1].end,
    )
    parts: list[np.ndarray] = []
    total = 0.0
    for segment, quote in quotes:
        length = min(quote.end - quote.start, SECONDS - total)
        if length < 0.5:
            break
        start = max(0, int(quote.start * RATE))
        piece = audio[segment][start : start + int(length * RATE)]
        if len(piece):
            parts += [piece, np.zeros(int(GAP * RATE), dtype=np.float32)]
            total += len(piece) / RATE + GAP
    return np.concatenate(parts[:-1]) if parts else None


def write(path: Path, samples: np.ndarray) -> None:
    """Owner-only (0600), like every file the tool writes: it is a recording of someone's voice."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    path.unlink(missing_ok=True)
    with (
        os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as raw,
        wave.open(raw, "wb") as out,
    ):
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())


def clear(folder: Path) -> None:
    """Remove the clips of an earlier review file."""
    for old in folder.glob(PATTERN):
        old.unlink(missing_ok=True)
