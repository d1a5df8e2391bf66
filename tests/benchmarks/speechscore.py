"""Scoring one transcript against one truth, and adding scores up, for the speech benchmark.

A hypothesis is segments (utterances with a speaker) and timed words; the pipeline's words carry their own
speaker (the utterance's when a word has none); a transcript without words (the scripted baseline) gets words
spread over each utterance like the reference's (speechmetrics.spread_words). Sums are over files: a group's WER
is all its errors over all its reference words, not a mean of rates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from batch.emulator.media import fallback_utterances, probe
from tests.benchmarks import speechmetrics as m
from tests.benchmarks.speechmetrics import Diarization, Errors, Segment, Share, TimedWord

COLLAR = 0.25


@dataclass(frozen=True, slots=True)
class Hypothesis:
    segments: tuple[Segment, ...]
    words: tuple[TimedWord, ...]


@dataclass(frozen=True, slots=True)
class Score:
    wer: Errors
    cpwer: Errors
    der: Diarization
    der_collar: Diarization
    right: Share
    found: int  # speakers in the hypothesis
    true: int  # speakers in the truth
    files: int = 1
    exact: int = 0  # files whose speaker count is right (set by `score` and `total`)


def truth_segments(script: Mapping[str, Any]) -> tuple[Segment, ...]:
    return tuple(Segment(u["speaker"], u["start"], u["end"], u["text"]) for u in script["utterances"])


def _speaker(value: object) -> str | None:
    return None if value is None else str(value)


def from_transcript(data: Mapping[str, Any]) -> Hypothesis:
    """A hypothesis from the JSON the child prints (speechchild.transcript_json)."""
    segments, words = [], []
    for u in data["utterances"]:
        segment = Segment(_speaker(u["speaker"]), u["start"], u["end"], u["text"])
        segments.append(segment)
        own = [TimedWord(w["text"], w["start"], w["end"], _speaker(w["speaker"] if w["speaker"] is not None
                                                                    else u["speaker"])) for w in u["words"]]
        words += own or m.spread_words([segment])
    return Hypothesis(tuple(segments), tuple(words))


def from_segments(segments: Iterable[Segment]) -> Hypothesis:
    ordered = tuple(segments)
    return Hypothesis(ordered, tuple(m.spread_words(ordered)))


def baseline(media: bytes) -> Hypothesis:
    """What the emulator answered before for media outside its corpus: one unknown speaker, placeholder text."""
    return from_segments(Segment(u.speaker, u.start, u.end, u.text) for u in fallback_utterances(media, probe(media)))


def score(truth: Sequence[Segment], hyp: Hypothesis) -> Score:
    as_segments = [Segment(w.speaker, w.start, w.end, w.text) for w in hyp.words]
    mapping = m.speaker_map(truth, hyp.segments)
    found, true = m.speaker_count(hyp.segments), m.speaker_count(truth)
    return Score(
        wer=m.wer(m.text_of(truth), m.text_of(hyp.segments)),
        cpwer=m.cpwer(m.by_speaker(truth), m.by_speaker(as_segments)),
        der=m.der(truth, hyp.segments),
        der_collar=m.der(truth, hyp.segments, collar=COLLAR),
        right=m.right_speaker(m.spread_words(truth), hyp.words, mapping),
        found=found, true=true, exact=int(found == true))


def total(scores: Sequence[Score]) -> Score:
    def errors(items: Iterable[Errors]) -> Errors:
        rows = list(items)
        return Errors(sum(e.errors for e in rows), sum(e.words for e in rows))

    def frames(items: Iterable[Diarization]) -> Diarization:
        rows = list(items)
        return Diarization(sum(d.scored for d in rows), sum(d.missed for d in rows),
                           sum(d.false_alarm for d in rows), sum(d.confusion for d in rows))

    return Score(
        wer=errors(s.wer for s in scores), cpwer=errors(s.cpwer for s in scores),
        der=frames(s.der for s in scores), der_collar=frames(s.der_collar for s in scores),
        right=Share(sum(s.right.hits for s in scores), sum(s.right.total for s in scores)),
        found=sum(s.found for s in scores), true=sum(s.true for s in scores),
        files=sum(s.files for s in scores), exact=sum(s.exact for s in scores))


def as_json(s: Score) -> dict[str, Any]:
    def der(d: Diarization) -> dict[str, Any]:
        scored = d.scored or 1
        return {"rate": d.rate, "missed": d.missed / scored, "false_alarm": d.false_alarm / scored,
                "confusion": d.confusion / scored, "scored_frames": d.scored}

    return {"wer": s.wer.rate, "wer_errors": s.wer.errors, "ref_words": s.wer.words, "cpwer": s.cpwer.rate,
            "der": der(s.der), "der_collar": der(s.der_collar), "right_speaker": s.right.rate,
            "speakers_found": s.found, "speakers_true": s.true, "files": s.files, "count_exact": s.exact}
