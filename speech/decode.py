"""Any medium the API accepts, decoded to 16 kHz mono float32 in blocks (PyAV, which bundles FFmpeg).

WAV of any rate, width and channel count (PCM, float, μ-law, A-law), mp3, the audio track of mp4/m4a/mov,
ogg/opus and flac. Channels are mixed down by FFmpeg's resampler. Blocks are yielded as they are decoded, so a
two-hour file never sits in memory whole; the caller decides how much to keep.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from speech.errors import ModelMissing, Undecodable

RATE = 16_000


def _av() -> Any:  # PyAV's types are partial; only this module touches it
    try:
        import av  # noqa: PLC0415 - optional dependency (the `speech` extra)
    except ImportError as exc:
        raise ModelMissing("decoding media needs PyAV: pip install 'symbl-batch[speech]'") from exc
    return av


def blocks(path: Path) -> Iterator[np.ndarray]:
    """Float32 mono 16 kHz samples of the first audio track, block by block; Undecodable when there is none."""
    av = _av()
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise Undecodable(f"the medium could not be opened as audio or video ({_reason(exc)})") from exc
    with container:
        if not container.streams.audio:
            raise Undecodable("the medium has no audio track")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        try:
            for frame in container.decode(stream):
                yield from _samples(resampler.resample(frame))
            yield from _samples(resampler.resample(None))
        except (av.FFmpegError, ValueError) as exc:
            raise Undecodable(f"the audio track could not be decoded ({_reason(exc)})") from exc


def _samples(frames: list[Any]) -> Iterator[np.ndarray]:
    for frame in frames:
        data = frame.to_ndarray().reshape(-1)
        if len(data):
            yield data.astype(np.float32) / 32768.0


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    return str(text).split(": '", 1)[0][:200]  # FFmpeg appends the file path; the path is ours, not the user's


def read(path: Path) -> np.ndarray:
    """The whole medium at once (short files and tests)."""
    parts = list(blocks(path))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
