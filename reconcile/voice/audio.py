"""Reading local media and finding where a segment's messages lie in it, by speech activity (§13 #7).

Rule: message times from the API are absolute and anchored by the server, so they are only used relative to
the first message of the same segment; the offset of that first message in the local file is found by sliding
the message intervals over the file's speech activity and keeping the shift that overlaps it best.
Every medium the run accepts (WAV of any rate, width and channels, μ-law and A-law included, mp3, the audio of
mp4/m4a, ogg, flac), conversation media and enrolment samples alike, is read by the speech backend's one decoder
(`speech.decode`, PyAV: part of the `voice` extra). A file that cannot be read gives no samples and says why, so
the caller can warn naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speech import decode
from speech.errors import ModelMissing, SpeechError
from speech.voice.fbank import RATE

FRAME = 0.01  # seconds per activity frame


@dataclass(frozen=True, slots=True)
class Decoded:
    """A medium read for its voices: 16 kHz mono float32 samples, or None and the reason (one phrase)."""

    path: Path
    samples: np.ndarray | None
    reason: str | None = None

    @property
    def problem(self) -> str | None:
        """One sentence naming the file, when it gave no samples."""
        return None if self.reason is None else f"{self.path}: no voice evidence from it: {self.reason}"


def read_audio(path: Path) -> Decoded:
    """The whole medium at 16 kHz mono; on failure no samples and why (never an exception)."""
    try:
        return Decoded(path, decode.read(path))
    except ModelMissing:
        return Decoded(path, None, "decoding media needs PyAV: pip install 'symbl-batch[voice]'")
    except SpeechError as exc:  # Undecodable: junk, a video without an audio track, a broken stream
        return Decoded(path, None, str(exc))
    except OSError as exc:
        return Decoded(path, None, f"cannot be read ({exc.strerror or exc})")


def read_wav(path: Path) -> np.ndarray | None:
    """Deprecated name of `read_audio(path).samples` (it reads every medium, not only WAV)."""
    return read_audio(path).samples


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
