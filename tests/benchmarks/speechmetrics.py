"""Speech metrics as pure functions: WER, cpWER, DER (with and without a collar), words given to the right
speaker, speaker count. No I/O; inputs are plain records.

Definitions (the ones the speech benchmark reports):
- Text is normalised before any word metric: lowercase, punctuation removed (an apostrophe inside a word stays:
  "I'm" -> "i'm"; a hyphen splits words), numbers left as they come ("5" and "five" differ).
- WER = (substitutions + deletions + insertions) / reference words, by a plain Levenshtein alignment over words.
- cpWER (concatenated minimum-permutation WER): each speaker's words concatenated in time order, reference and
  hypothesis speakers paired one-to-one to minimise the total errors (scipy's linear_sum_assignment); an unpaired
  reference speaker costs all its words as deletions, an unpaired hypothesis speaker all its words as insertions.
- DER is frame-based (10 ms): a speaker is active in a frame when one of its segments covers the frame. Per
  frame, with R reference and H hypothesis speakers active and C of them correctly paired: missed = max(0, R-H),
  false alarm = max(0, H-R), confusion = min(R, H) - C. Overlapped speech counts once per speaker. The pairing is
  the one-to-one map maximising co-active frames. A collar of c seconds removes the frames within c of every
  reference segment boundary from scoring (md-eval's convention: +-c around each boundary).
- Words to the right speaker: reference words get times by spreading each utterance's span over its words in
  proportion to their length (characters + 1); a reference word is given to the right speaker when the
  hypothesis word overlapping it most (within WORD_SLACK seconds) has a speaker that the DER pairing maps to the
  reference word's speaker. A reference word no hypothesis word is near is not given to anyone.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module

import numpy as np

FRAME = 0.01
WORD_SLACK = 0.2  # seconds either side of a reference word's estimated span that a hypothesis word may sit
_PUNCT = re.compile(r"[^\w\s']|_")
_EDGE_APOSTROPHES = re.compile(r"(?<!\w)'|'(?!\w)")


@dataclass(frozen=True, slots=True)
class Segment:
    """A reference or hypothesis utterance."""

    speaker: str | None
    start: float
    end: float
    text: str = ""


@dataclass(frozen=True, slots=True)
class TimedWord:
    text: str
    start: float
    end: float
    speaker: str | None


@dataclass(frozen=True, slots=True)
class Errors:
    errors: int
    words: int

    @property
    def rate(self) -> float:
        return self.errors / self.words if self.words else float(self.errors > 0)


@dataclass(frozen=True, slots=True)
class Share:
    hits: int
    total: int

    @property
    def rate(self) -> float:
        return self.hits / self.total if self.total else 1.0


@dataclass(frozen=True, slots=True)
class Diarization:
    """Frame counts of one scoring: `scored` is the reference speaker-frames (the denominator)."""

    scored: int
    missed: int
    false_alarm: int
    confusion: int

    @property
    def rate(self) -> float:
        errors = self.missed + self.false_alarm + self.confusion
        return errors / self.scored if self.scored else float(errors > 0)


def linear_sum_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scipy's optimal assignment (rows, columns) minimising the total cost. Imported by name because scipy
    ships no type information and the project's mypy configuration has no override for it yet."""
    rows, cols = import_module("scipy.optimize").linear_sum_assignment(cost)
    return np.asarray(rows), np.asarray(cols)


def normalise(text: str) -> list[str]:
    text = _PUNCT.sub(" ", text.lower().replace("\u2019", "'").replace("-", " "))
    return _EDGE_APOSTROPHES.sub(" ", text).split()


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance over words, one row at a time: substitutions and deletions from the previous row,
    then insertions as a running minimum (d[j] = min over k <= j of row[k] + j - k)."""
    if not ref or not hyp:
        return len(ref) + len(hyp)
    vocab: dict[str, int] = {}
    r = [vocab.setdefault(w, len(vocab)) for w in ref]
    h = np.array([vocab.setdefault(w, len(vocab)) for w in hyp])
    cols = np.arange(len(h) + 1)
    row = cols.copy()
    for i, token in enumerate(r, 1):
        new = np.empty_like(row)
        new[0] = i
        new[1:] = np.minimum(row[:-1] + (h != token), row[1:] + 1)
        row = np.minimum.accumulate(new - cols) + cols
    return int(row[-1])


def wer(ref: str, hyp: str) -> Errors:
    words = normalise(ref)
    return Errors(edit_distance(words, normalise(hyp)), len(words))


def cpwer(ref: Mapping[str, str], hyp: Mapping[str, str]) -> Errors:
    """`ref` and `hyp` map a speaker to all its text, in time order."""
    refs = [normalise(t) for t in ref.values()]
    hyps = [normalise(t) for t in hyp.values()]
    size = max(len(refs), len(hyps))
    refs += [[]] * (size - len(refs))
    hyps += [[]] * (size - len(hyps))
    cost = np.array([[edit_distance(r, h) for h in hyps] for r in refs], dtype=np.int64).reshape(size, size)
    rows, cols = linear_sum_assignment(cost)
    return Errors(int(cost[rows, cols].sum()), sum(len(r) for r in refs))


def by_speaker(segments: Sequence[Segment]) -> dict[str, str]:
    """Each speaker's text concatenated in time order (what cpwer takes); unattributed text is speaker "?"."""
    texts: dict[str, list[str]] = {}
    for seg in sorted(segments, key=lambda s: (s.start, s.end)):
        texts.setdefault(_label(seg.speaker), []).append(seg.text)
    return {speaker: " ".join(parts) for speaker, parts in texts.items()}


def text_of(segments: Sequence[Segment]) -> str:
    """All the text of a transcript in time order (what wer takes)."""
    return " ".join(s.text for s in sorted(segments, key=lambda s: (s.start, s.end)))


def _label(speaker: str | None) -> str:
    return "?" if speaker is None else speaker


def _activity(segments: Sequence[Segment], frames: int) -> tuple[list[str], np.ndarray]:
    speakers = sorted({_label(s.speaker) for s in segments})
    active = np.zeros((len(speakers), frames), dtype=bool)
    for seg in segments:
        active[speakers.index(_label(seg.speaker)), round(seg.start / FRAME) : round(seg.end / FRAME)] = True
    return speakers, active


def _scored(ref: Sequence[Segment], frames: int, collar: float) -> np.ndarray:
    keep = np.ones(frames, dtype=bool)
    if collar > 0:
        for seg in ref:
            for edge in (seg.start, seg.end):
                keep[max(0, round((edge - collar) / FRAME)) : round((edge + collar) / FRAME)] = False
    return keep


def speaker_map(ref: Sequence[Segment], hyp: Sequence[Segment], collar: float = 0.0) -> dict[str, str]:
    """The one-to-one map hypothesis speaker -> reference speaker maximising co-active (scored) frames."""
    return _score(ref, hyp, collar)[1]


def der(ref: Sequence[Segment], hyp: Sequence[Segment], *, collar: float = 0.0) -> Diarization:
    return _score(ref, hyp, collar)[0]


def _score(ref: Sequence[Segment], hyp: Sequence[Segment], collar: float) -> tuple[Diarization, dict[str, str]]:
    frames = round(max((s.end for s in (*ref, *hyp)), default=0.0) / FRAME) + 1
    ref_names, r = _activity(ref, frames)
    hyp_names, h = _activity(hyp, frames)
    keep = _scored(ref, frames, collar)
    r, h = r[:, keep], h[:, keep]
    both = r.astype(np.int64) @ h.T.astype(np.int64)
    rows, cols = linear_sum_assignment(-both) if both.size else (np.array([], int), np.array([], int))
    pairs = [(i, j) for i, j in zip(rows, cols, strict=True) if both[i, j] > 0]
    correct = sum((r[i] & h[j]).astype(np.int64) for i, j in pairs) if pairs else np.zeros(r.shape[1], np.int64)
    n_ref, n_hyp = r.sum(axis=0), h.sum(axis=0)
    counts = Diarization(int(n_ref.sum()), int(np.maximum(0, n_ref - n_hyp).sum()),
                         int(np.maximum(0, n_hyp - n_ref).sum()), int((np.minimum(n_ref, n_hyp) - correct).sum()))
    return counts, {hyp_names[j]: ref_names[i] for i, j in pairs}


def spread_words(ref: Sequence[Segment]) -> list[TimedWord]:
    """Every word of `ref` with a time estimated inside its utterance (see the module docstring)."""
    words = []
    for seg in ref:
        tokens = normalise(seg.text)
        weights = np.cumsum([0] + [len(t) + 1 for t in tokens])
        edges = seg.start + (seg.end - seg.start) * weights / max(1, weights[-1])
        words += [TimedWord(t, float(a), float(b), seg.speaker)
                  for t, a, b in zip(tokens, edges[:-1], edges[1:], strict=True)]
    return words


def right_speaker(ref: Sequence[TimedWord], hyp: Sequence[TimedWord], mapping: Mapping[str, str]) -> Share:
    """The share of reference words given to the right speaker (see the module docstring)."""
    ordered = sorted(hyp, key=lambda w: w.start)
    starts = [w.start for w in ordered]
    longest = max((w.end - w.start for w in ordered), default=0.0)
    right = 0
    for word in ref:
        low, high = word.start - WORD_SLACK, word.end + WORD_SLACK
        first = bisect.bisect_left(starts, low - longest)
        best, best_overlap = None, 0.0
        for cand in ordered[first : bisect.bisect_left(starts, high)]:
            overlap = min(high, cand.end) - max(low, cand.start)
            if overlap > best_overlap:
                best, best_overlap = cand, overlap
        right += best is not None and mapping.get(_label(best.speaker)) == word.speaker
    return Share(right, len(ref))


def speaker_count(segments: Sequence[Segment]) -> int:
    return len({s.speaker for s in segments if s.speaker is not None})
