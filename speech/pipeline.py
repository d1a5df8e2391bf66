"""The whole speech pipeline for one recording: decode → pieces → voice activity → words → voices → changes of
voice moved onto sentence ends (`realign`) → utterances.

Invariants: the recording is read as a stream and processed in pieces of `piece_seconds` (memory does not grow
with its length; only words and one 192-d vector per speech window are kept); word times are seconds of the
medium; voices are clustered once over the whole recording, so one person keeps one label across pieces;
speaker labels are renumbered 0.. in order of first speech. `Pipeline` loads the models once; a worker process
keeps one and calls `process_file` per job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from speech import chunks, decode, realign, transcript
from speech.activity import ActivitySettings, speech_spans
from speech.cluster import ClusterSettings
from speech.diarizer import Voices
from speech.models import Transcript, Utterance, Word
from speech.recognizer import Recognizer
from speech.voice.fbank import RATE
from speech.voice.model import SpeakerModel

__all__ = ["Heard", "Pipeline", "PipelineSettings", "Transcript", "Utterance", "Word"]


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    piece_seconds: float = 120.0  # 10-min file: peak RSS 890 MB with 240 s pieces, 603 MB with 120 s
    beam_size: int = 5  # dev split: WER 11.5 % against 14.4 % greedy, for about a fifth more time
    activity: ActivitySettings = field(default_factory=ActivitySettings)
    clusters: ClusterSettings = field(default_factory=ClusterSettings)


class Pipeline:
    def __init__(self, *, threads: int = 1, settings: PipelineSettings | None = None) -> None:
        self.settings = settings or PipelineSettings()
        self._recognizer = Recognizer(threads=threads, beam_size=self.settings.beam_size)
        self._speakers = SpeakerModel(threads=threads)

    def process_file(self, path: Path, *, diarize: bool = True, speaker_count: int | None = None) -> Transcript:
        """Transcript of the medium at `path`; Undecodable when it has no decodable audio."""
        heard = self.heard(path, diarize=diarize, speaker_count=speaker_count)
        return heard.transcript(realign.realigned(heard.words) if diarize else heard.words)

    def heard(self, path: Path, *, diarize: bool = True, speaker_count: int | None = None) -> Heard:
        """The medium's words, each with the voice whose windows cover it most (before `realign`), and its speech."""
        self._recognizer.start()
        words: list[Word] = []
        speech: list[tuple[float, float]] = []
        voices = Voices(self._speakers) if diarize else None
        duration = 0.0
        for offset, samples in chunks.pieces(decode.blocks(path), self.settings.piece_seconds):
            spans = speech_spans(samples, self.settings.activity)
            words += self._recognizer.words(samples, spans, offset)
            speech += [(offset + a, offset + b) for a, b in spans]
            if voices is not None:
                voices.add(samples, spans, offset)
            duration = offset + len(samples) / RATE
        if voices is not None:
            words = voices.label(speaker_count, self.settings.clusters).assign(words)
        return Heard(duration, tuple(words), tuple(speech))


@dataclass(frozen=True, slots=True)
class Heard:
    """What the pipeline heard in one medium, before its words are cut into messages."""

    duration: float
    words: tuple[Word, ...]
    speech: tuple[tuple[float, float], ...]

    def transcript(self, words: Sequence[Word]) -> Transcript:
        utterances = transcript.snapped(transcript.utterances(_in_order_of_speech(words)), self.speech)
        speakers = len({u.speaker for u in utterances if u.speaker is not None})
        return Transcript(self.duration, utterances, speakers)


def _in_order_of_speech(words: Sequence[Word]) -> list[Word]:
    numbers: dict[int, int] = {}
    for word in words:
        if word.speaker is not None:
            numbers.setdefault(word.speaker, len(numbers))
    return [w if w.speaker is None else replace(w, speaker=numbers[w.speaker]) for w in words]
