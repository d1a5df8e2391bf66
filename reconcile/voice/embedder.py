"""Speaker embeddings with CAM++ on onnxruntime (the optional `voice` extra).

Rules (shared/voice-embeddings.md §4): speech shorter than 1 s is not embedded; longer speech is cut into
windows of at most 10 s, each embedded and L2-normalised, and the windows averaged weighted by duration;
-90 dB deterministic dither keeps exact digital silence from distorting the log-fbank mean.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from reconcile.errors import VoiceUnavailable
from reconcile.voice.audio import read_wav
from reconcile.voice.fbank import RATE, fbank

MODEL = Path(__file__).with_name("campp.onnx")
MIN_SECONDS, WINDOW_SECONDS = 1.0, 10.0


def available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None and MODEL.is_file()


class Embedder:
    def __init__(self, model: Path = MODEL, *, threads: int = 2) -> None:
        if not available():
            raise VoiceUnavailable("voice evidence needs the `voice` extra: pip install 'symbl-batch[voice]'")
        import onnxruntime  # noqa: PLC0415 - optional dependency, imported only when voice is used

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        self._session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self._files: dict[tuple[str, int, int], np.ndarray | None] = {}

    def embed_file(self, path: Path) -> np.ndarray | None:
        """The embedding of a whole WAV file (an enrolment sample), computed once per file version."""
        try:
            stat = path.stat()
        except OSError:
            return None
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._files:
            samples = read_wav(path)
            self._files[key] = self.embed(samples) if samples is not None else None
        return self._files[key]

    def _window(self, samples: np.ndarray) -> np.ndarray:
        dither = np.random.default_rng(len(samples)).standard_normal(len(samples)).astype(np.float32) * 3e-5
        features = fbank(samples + dither)[None]
        vector = np.asarray(self._session.run(None, {"fbank": features})[0][0], dtype=np.float64)
        return vector / (np.linalg.norm(vector) or 1.0)

    def embed(self, samples: np.ndarray) -> np.ndarray | None:
        """A unit vector for this speech, or None when there is less than a second of it."""
        if len(samples) < MIN_SECONDS * RATE:
            return None
        step = int(WINDOW_SECONDS * RATE)
        windows = [samples[i : i + step] for i in range(0, len(samples), step)]
        windows = [w for w in windows if len(w) >= MIN_SECONDS * RATE]
        weights = np.array([len(w) for w in windows], dtype=np.float64)
        mean = np.average([self._window(w) for w in windows], axis=0, weights=weights)
        return np.asarray(mean / (np.linalg.norm(mean) or 1.0))
