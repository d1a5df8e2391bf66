"""Grouping speech windows into voices: spectral clustering of CAM++ embeddings (pure numpy, deterministic).

Rules (measured in docs/speech-backend.md): cosine affinity pruned to each window's nearest neighbours and
symmetrised; the count, when not given, is the largest eigengap of the normalised Laplacian among 1..MAX_VOICES;
k-means on the row-normalised eigenvectors with seeded k-means++ starts. Without a count, voices whose centroids
are as alike as one voice's own halves (cosine above `same_voice`) are one voice. With a count, the count is
trusted: measured here, two different synthetic voices can be as alike (centroid cosine 0.93) as two halves of
one voice (0.83-0.92), so no similarity bar can tell "fewer voices than asked" from "similar voices"; over-
splitting is also the safe error (reconciliation can merge a split person; nothing can unmix two). So with a
count, fewer members come only from too little speech: a cluster of under `MIN_WINDOWS` windows joins its
nearest, and a voice given no words has no member. Cost is bounded: past `MAX_WINDOWS` windows, an even
subsample is clustered and the rest join their nearest centroid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_VOICES, MAX_WINDOWS, MIN_WINDOWS = 10, 2400, 3


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    same_voice: float = 0.8  # centroid cosine at or above which two clusters are one voice (count not given)
    neighbours: float = 0.15  # share of each row's affinities kept (at least 6)


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.asarray(x / np.where(n == 0, 1.0, n))


def _affinity(x: np.ndarray, settings: ClusterSettings) -> np.ndarray:
    sim = np.clip(x @ x.T, 0.0, 1.0)
    keep = max(6, int(settings.neighbours * len(x)))
    if keep < len(x):
        cut = np.partition(sim, len(x) - keep, axis=1)[:, len(x) - keep][:, None]
        sim = np.where(sim >= cut, sim, 0.0)
    return np.asarray((sim + sim.T) / 2)


def _spectrum(affinity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    degree = affinity.sum(axis=1)
    inv = 1.0 / np.sqrt(np.where(degree > 0, degree, 1.0))
    laplacian = np.eye(len(affinity)) - inv[:, None] * affinity * inv[None, :]
    values, vectors = np.linalg.eigh(laplacian)
    return values, vectors


def _kmeans(x: np.ndarray, k: int, *, seed: int = 0, starts: int = 5, rounds: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    best, best_cost = np.zeros(len(x), dtype=int), np.inf
    for _ in range(starts):
        centres = [x[rng.integers(len(x))]]
        for _ in range(1, k):
            d = np.min([np.sum((x - c) ** 2, axis=1) for c in centres], axis=0)
            centres.append(x[rng.choice(len(x), p=d / d.sum())] if d.sum() > 0 else x[rng.integers(len(x))])
        c = np.array(centres)
        for _ in range(rounds):
            labels = np.argmin(((x[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
            moved = np.array([x[labels == j].mean(0) if np.any(labels == j) else c[j] for j in range(k)])
            if np.allclose(moved, c):
                break
            c = moved
        cost = float(((x - c[labels]) ** 2).sum())
        if cost < best_cost:
            best, best_cost = labels, cost
    return best


def _count(values: np.ndarray) -> int:
    top = min(MAX_VOICES, len(values) - 1)
    gaps = np.diff(values[: top + 1])
    return int(np.argmax(gaps)) + 1 if len(gaps) else 1


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..k-1 in order of first appearance (so numbering says nothing but order)."""
    order = {label: i for i, label in enumerate(dict.fromkeys(labels.tolist()))}
    return np.array([order[label] for label in labels.tolist()], dtype=int)


def centroids(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return _unit(np.array([x[labels == j].mean(0) for j in range(int(labels.max()) + 1)]))


def merge_alike(x: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """Repeatedly join the two most alike clusters while their centroid cosine is at least `threshold`."""
    labels = _relabel(labels)
    while labels.max() > 0:
        c = centroids(x, labels)
        sim = c @ c.T - 2 * np.eye(len(c))
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[i, j] < threshold:
            break
        labels = _relabel(np.where(labels == max(i, j), min(i, j), labels))
    return labels


def cluster(x: np.ndarray, *, count: int | None, settings: ClusterSettings = ClusterSettings()) -> np.ndarray:
    """A voice label per row of `x` (unit embeddings), 0-based in order of first appearance."""
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=int)
    if n < 4 or count == 1:
        return np.zeros(n, dtype=int)
    sample = np.linspace(0, n - 1, min(n, MAX_WINDOWS)).round().astype(int)
    values, vectors = _spectrum(_affinity(x[sample], settings))
    k = min(count or _count(values), len(sample) - 1, MAX_VOICES)
    labels = _kmeans(_unit(vectors[:, :k]), k) if k > 1 else np.zeros(len(sample), dtype=int)
    if len(sample) < n:
        c = centroids(x[sample], _relabel(labels))
        labels = np.argmax(x @ c.T, axis=1)
    else:
        labels = _relabel(labels)
    labels = _absorb_small(x, labels)
    return labels if count else merge_alike(x, labels, settings.same_voice)


def _absorb_small(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Clusters of fewer than MIN_WINDOWS windows join the nearest larger one (too little speech for a voice)."""
    labels = _relabel(labels)
    sizes = np.bincount(labels)
    big = np.flatnonzero(sizes >= MIN_WINDOWS)
    if len(big) == 0 or len(big) == len(sizes):
        return labels
    c = centroids(x, labels)
    for small in np.flatnonzero(sizes < MIN_WINDOWS):
        target = big[int(np.argmax(c[big] @ c[small]))]
        labels = np.where(labels == small, target, labels)
    return _relabel(labels)
