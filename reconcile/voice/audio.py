"""Reading local media and finding where a segment's messages lie in it, by speech activity (§13 #7).

Rule: message times from the API are absolute and anchored by the server, so they are only used relative to
the first message of the same segment; the offset of that first message in the local file is found by sliding
the message intervals over the file's speech activity and keeping the shift that overlaps it best.
Any medium is read through `speech.decode` when the speech extra (PyAV) is installed; without it only 16 kHz
16-bit WAV files are read, and other media give no voice evidence (said in the plan's notes).
"""

from __future__ import annotations

import importlib.util
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from speech import decode
from speech.errors import SpeechError
from speech.voice.fbank import RATE

FRAME = 0.01  # seconds per activity frame


def read_wav(path: Path) -> np.ndarray | None:
    """Mono float samples at 16 kHz, or None for anything this reader does not handle."""
    if importlib.util.find_spec("av") is not None:
        try:
            return decode.read(path)
        except (SpeechError, OSError):
            return None
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2 or w.getframerate() != RATE:
                return None
            raw = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            channels = w.getnchannels()
    except (wave.Error, EOFError, OSError):
        return None
    return raw[::channels].astype(np.float32) / 32768.0


def activity(samples: np.ndarray) -> np.ndarray:
    """Boolean speech activity per 10 ms frame: energy above a level set from the loud frames."""
    size = int(RATE * FRAME)
    count = len(samples) // size
    if count == 0:
        return np.zeros(0, dtype=bool)
    energy = np.sqrt(np.mean(samples[: count * size].reshape(count, size) ** 2, axis=1))
    return np.asarray(energy > max(1e-3, 0.08 * float(np.percentile(energy, 95))))


def best_shift(intervals: Sequence[tuple[float, float]], active: np.ndarray, *, search: float = 5.0) -> float:
    """The shift (seconds) that puts the relative intervals over the most speech activity."""
    mask = np.zeros(len(active), dtype=np.float64)
    span = np.arange(len(active))
    scores = []
    shifts = np.arange(0.0, search, FRAME)
    for shift in shifts:
        mask[:] = 0
        for start, end in intervals:
            mask[(span >= int((start + shift) / FRAME)) & (span < int((end + shift) / FRAME))] = 1
        scores.append(float(np.sum(mask * active) - 0.5 * np.sum(mask * ~active)))
    return float(shifts[int(np.argmax(scores))]) if scores else 0.0


def cut(samples: np.ndarray, intervals: Sequence[tuple[float, float]], shift: float) -> np.ndarray:
    parts = [samples[max(0, int((s + shift) * RATE)) : max(0, int((e + shift) * RATE))] for s, e in intervals]
    parts = [p for p in parts if len(p)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
