"""What the speech pipeline returns: words, utterances and a transcript, all times in seconds of the medium."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start: float
    end: float
    probability: float
    speaker: int | None = None  # 0-based voice cluster of the recording; None without diarization


@dataclass(frozen=True, slots=True)
class Utterance:
    speaker: int | None
    start: float
    end: float
    text: str
    words: tuple[Word, ...]


@dataclass(frozen=True, slots=True)
class Transcript:
    duration: float
    utterances: tuple[Utterance, ...]
    speakers: int  # distinct voices found (0 without diarization or without speech)
