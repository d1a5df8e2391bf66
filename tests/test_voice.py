"""Voice evidence: the committed CAM++ model recognises every corpus speaker from its enrolment, by rank."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reconcile.voice import audio
from reconcile.voice.embedder import Embedder, available
from speech.voice.fbank import fbank
from tests.support.server import CORPUS

pytestmark = pytest.mark.skipif(not available(), reason="the voice extra (onnxruntime) is not installed")


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


def test_fbank_shape_and_normalisation() -> None:
    """25 ms / 10 ms framing with snip edges, 80 bins, zero mean per bin."""
    samples = audio.read_wav(CORPUS / "enrol" / "john.wav")
    assert samples is not None
    features = fbank(samples)
    assert features.shape == (1 + (len(samples) - 400) // 160, 80)
    assert np.allclose(features.mean(axis=0), 0, atol=1e-4)
    assert fbank(samples[:399]).shape == (0, 80)


def test_every_corpus_speaker_is_nearest_to_their_own_enrolment(embedder: Embedder) -> None:
    """Each person's speech in each recording is closest to their own enrolment, ahead of the runner-up."""
    enrolled = {}
    for path in sorted((CORPUS / "enrol").glob("*.wav")):
        samples = audio.read_wav(path)
        assert samples is not None
        enrolled[path.stem] = embedder.embed(samples)
    checked = 0
    for script_path in sorted((CORPUS / "scripts").glob("*.json")):
        script = json.loads(script_path.read_text())
        samples = audio.read_wav(CORPUS / script["media"])  # the mp4 too: its audio track is decoded
        assert samples is not None
        for person in {u["speaker"] for u in script["utterances"]}:
            spans = [(u["start"], u["end"]) for u in script["utterances"] if u["speaker"] == person]
            vector = embedder.embed(audio.cut(samples, spans, 0.0))
            assert vector is not None
            scores = sorted(((float(vector @ e), name) for name, e in enrolled.items()), reverse=True)
            assert scores[0][1] == person, (script["id"], person, scores[:2])
            assert scores[0][0] - scores[1][0] > 0.1
            checked += 1
    assert checked == 24


def test_alignment_finds_the_offset_of_the_first_message() -> None:
    """Relative message times slide onto the file's speech activity at the right offset (within 50 ms)."""
    script = json.loads((CORPUS / "scripts" / "standup-part1.json").read_text())
    samples = audio.read_wav(CORPUS / script["media"])
    assert samples is not None
    first = script["utterances"][0]["start"]
    relative = [(u["start"] - first, u["end"] - first) for u in script["utterances"]]
    assert abs(audio.best_shift(relative, audio.activity(samples)) - first) < 0.05


def test_too_little_speech_gives_no_embedding(embedder: Embedder) -> None:
    """Less than a second of speech is not embedded."""
    assert embedder.embed(np.zeros(8000, dtype=np.float32)) is None


def _vector(embedder: Embedder, samples: np.ndarray) -> np.ndarray:
    vector = embedder.embed(samples)
    assert vector is not None
    return vector


def test_the_cache_gives_back_what_the_model_computes_and_ignores_a_damaged_entry(tmp_path: Path) -> None:
    """The same speech is embedded once: a second embedder over the folder finds the vector (equal to the one
    computed without a cache), a damaged entry is computed again and rewritten, and other speech is another key."""
    samples = audio.read_wav(CORPUS / "enrol" / "john.wav")
    assert samples is not None
    plain = Embedder().embed(samples)
    first, second = Embedder(cache=tmp_path), Embedder(cache=tmp_path)
    assert plain is not None and np.array_equal(_vector(first, samples), plain)
    assert np.array_equal(_vector(second, samples), plain)
    model = second.cache
    assert model is not None and (model.hits, model.misses) == (1, 0)
    (entry,) = tmp_path.glob("*/*.npy")
    entry.write_bytes(b"not an array")
    assert np.array_equal(_vector(second, samples), plain) and model.misses == 1
    assert np.array_equal(_vector(Embedder(cache=tmp_path), samples), plain)  # rewritten whole
    other = samples[: len(samples) // 2]
    assert not np.array_equal(_vector(second, other), plain) and len(list(tmp_path.glob("*/*.npy"))) == 2


def test_a_cache_that_cannot_be_written_is_only_an_aid(tmp_path: Path) -> None:
    """A cache path that is a file (no folder can be made there): embedding works, nothing is left behind."""
    samples = audio.read_wav(CORPUS / "enrol" / "john.wav")
    assert samples is not None
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    embedder = Embedder(cache=blocked)
    assert np.array_equal(_vector(embedder, samples), _vector(Embedder(), samples))
    assert list(tmp_path.iterdir()) == [blocked] and blocked.read_text() == ""
