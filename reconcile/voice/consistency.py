"""Is a member's speech one voice? Windows of its speech, embedded, split in two, and the halves compared.

Rule: the member's speech spans are cut into `WINDOW`-second windows every `HOP` seconds (a span shorter than a
window but at least `MIN_SPAN` long gives one window); the windows are split into two groups by the same
clustering the diarizer uses, and the member is summarised by the cosine of the two groups' centroids and the
share of windows in the smaller group. One person's two halves stay alike; two people's do not. Where the bar
between the two lies is measured (`reconcile/calibration.json`), not chosen here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reconcile.models import Consistency
from speech.cluster import centroids, cluster
from speech.voice.fbank import RATE

WINDOW, HOP, MIN_SPAN = 1.5, 0.75, 1.0
MIN_WINDOWS = 6  # fewer windows (about 5 s of speech) say nothing about mixing


def window_starts(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """(start, length) of each window over these spans (seconds in the samples)."""
    out = []
    for start, end in spans:
        if end - start < MIN_SPAN:
            continue
        if end - start < WINDOW:
            out.append((start, end - start))
            continue
        at = start
        while at + WINDOW <= end + 1e-9:
            out.append((at, WINDOW))
            at += HOP
    return out


def measure(vectors: np.ndarray) -> Consistency | None:
    """The consistency of these window embeddings (unit rows), or None when there are too few to tell."""
    if len(vectors) < MIN_WINDOWS:
        return None
    labels = cluster(vectors, count=2)
    if labels.max() < 1:
        return Consistency(1.0, 0.0, len(vectors))
    c = centroids(vectors, labels)
    share = float(np.bincount(labels, minlength=2).min() / len(labels))
    return Consistency(round(float(c[0] @ c[1]), 4), round(share, 4), len(vectors))


def samples_of(audio: np.ndarray, spans: Sequence[tuple[float, float]]) -> list[np.ndarray]:
    """The samples of each window over `spans` (seconds in `audio`)."""
    return [audio[int(s * RATE) : int((s + n) * RATE)] for s, n in window_starts(spans)]
