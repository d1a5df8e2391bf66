"""CAM++ speaker embeddings on onnxruntime: whole stretches of speech, or many equal windows in batches.

Rules (voice-embedding measurements kept in `docs/speech-backend.md`): speech shorter than 1 s is not embedded;
longer speech is cut into windows of at most 10 s, each embedded and L2-normalised, and the windows averaged
weighted by duration; -90 dB deterministic dither keeps exact digital silence from distorting the log-fbank mean.
Windows for diarization share one fbank pass: a window's features are a slice of its region's frames with the
window's own mean removed, which equals the fbank of the window alone (the frames do not depend on the mean).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from speech.errors import ModelMissing
from speech.voice.cache import EmbeddingCache
from speech.voice.fbank import RATE, SHIFT, fbank_raw

MODEL = Path(__file__).with_name("campp.onnx")
MIN_SECONDS, WINDOW_SECONDS = 1.0, 10.0
BATCH = 32


def available() -> bool:
    """True when onnxruntime is installed and the committed model file is present."""
    return importlib.util.find_spec("onnxruntime") is not None and MODEL.is_file()


def require() -> None:
    """ModelMissing, in one sentence naming the extra, unless `available()`."""
    if not available():
        raise ModelMissing("speaker embeddings need onnxruntime: pip install 'symbl-batch[voice]'")


def dither(samples: np.ndarray) -> np.ndarray:
    noise = np.random.default_rng(len(samples)).standard_normal(len(samples)).astype(np.float32) * 3e-5
    return np.asarray(samples, dtype=np.float32) + noise


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.asarray(vectors / np.where(norms == 0, 1.0, norms), dtype=np.float64)


class SpeakerModel:
    """One onnxruntime session of CAM++ (192-d). `threads` is onnxruntime's intra-op thread count; `cache`, a
    folder where `embed` keeps what it computed and finds it again (`speech.voice.cache`; None: no cache)."""

    def __init__(self, model: Path = MODEL, *, threads: int = 1, cache: Path | None = None) -> None:
        require()
        self.cache = EmbeddingCache(cache, model) if cache is not None else None
        import onnxruntime  # noqa: PLC0415 - optional dependency, imported only when voice is used

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])

    def _run(self, features: np.ndarray) -> np.ndarray:
        features = features - features.mean(axis=1, keepdims=True)
        return _unit(np.asarray(self._session.run(None, {"fbank": features.astype(np.float32)})[0]))

    def embed(self, samples: np.ndarray) -> np.ndarray | None:
        """A unit vector for this speech, or None when there is less than a second of it."""
        if len(samples) < MIN_SECONDS * RATE:
            return None
        if self.cache is None:
            return self._embed(samples)
        key = self.cache.key(samples)
        found = self.cache.get(key)
        if found is None:
            found = self._embed(samples)
            self.cache.put(key, found)
        return found

    def _embed(self, samples: np.ndarray) -> np.ndarray:
        step = int(WINDOW_SECONDS * RATE)
        windows = [samples[i : i + step] for i in range(0, len(samples), step)]
        windows = [w for w in windows if len(w) >= MIN_SECONDS * RATE]
        vectors = np.concatenate([self._run(fbank_raw(dither(w))[None]) for w in windows])
        mean = np.average(vectors, axis=0, weights=np.array([len(w) for w in windows], dtype=np.float64))
        return np.asarray(_unit(mean))

    def embed_windows(self, samples: np.ndarray, starts: np.ndarray, seconds: float) -> np.ndarray:
        """(len(starts), 192) unit vectors of the windows [start, start + seconds) of `samples` (in seconds)."""
        frames = fbank_raw(dither(samples))
        width = round(seconds * RATE / SHIFT) - 2
        first = np.clip(np.round(np.asarray(starts) * RATE / SHIFT).astype(int), 0, max(0, len(frames) - width))
        out = np.zeros((len(first), 192))
        for at in range(0, len(first), BATCH):
            index = first[at : at + BATCH, None] + np.arange(width)[None, :]
            out[at : at + BATCH] = self._run(frames[index])
        return out
