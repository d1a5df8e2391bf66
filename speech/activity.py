"""Voice activity: where in a stretch of audio someone speaks (Silero VAD v6, bundled with faster-whisper).

Spans are (start, end) seconds relative to the samples given. Settings are fine-grained on purpose: a
diarizer needs pauses of a few hundred milliseconds between back-to-back speakers, not sentence-sized chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speech.errors import ModelMissing

RATE = 16_000


@dataclass(frozen=True, slots=True)
class ActivitySettings:
    threshold: float = 0.5
    min_speech_ms: int = 150
    min_silence_ms: int = 150
    pad_ms: int = 30


def speech_spans(samples: np.ndarray, settings: ActivitySettings = ActivitySettings()) -> list[tuple[float, float]]:
    """Speech spans in seconds, in order, non-overlapping."""
    try:
        from faster_whisper.vad import (  # type: ignore[import-untyped]  # noqa: PLC0415 - the `speech` extra
            VadOptions,
            get_speech_timestamps,
        )
    except ImportError as exc:
        raise ModelMissing("voice activity detection needs faster-whisper: pip install 'symbl-batch[speech]'") from exc
    if len(samples) < RATE // 10:
        return []
    options = VadOptions(
        threshold=settings.threshold,
        min_speech_duration_ms=settings.min_speech_ms,
        min_silence_duration_ms=settings.min_silence_ms,
        speech_pad_ms=settings.pad_ms,
    )
    stamps = get_speech_timestamps(np.asarray(samples, dtype=np.float32), options, sampling_rate=RATE)
    return [(s["start"] / RATE, s["end"] / RATE) for s in stamps]
