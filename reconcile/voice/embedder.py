"""Voice evidence for reconciliation: embeddings of enrolment files and of members' speech.

The model and its front end live in `speech.voice` (one copy, shared with the local speech service); this
module adds what reconciliation needs: the `voice` extra's check with reconciliation's own error, and a cache
of enrolment files by version (path, size, mtime), with the reason a file gave no voice.
Rule: the `voice` extra is onnxruntime (the model) and PyAV (the decoder of every medium); voice is available
only with both, since without the decoder no file would give a voice.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from reconcile.errors import VoiceUnavailable
from reconcile.voice.audio import read_audio
from speech.voice import model
from speech.voice.cache import EmbeddingCache
from speech.voice.model import MIN_SECONDS, MODEL, SpeakerModel


def available() -> bool:
    """True when the `voice` extra is installed: the speaker model can run and media can be decoded."""
    return model.available() and importlib.util.find_spec("av") is not None


class Embedder:
    def __init__(self, path: Path = MODEL, *, threads: int = 2, cache: Path | None = None) -> None:
        """`cache`: a folder keeping every embedding computed, found again by content (off by default: it holds
        voice embeddings that `reconcile forget` cannot reach; see `speech.voice.cache`)."""
        if not available():
            raise VoiceUnavailable("voice evidence needs the `voice` extra: pip install 'symbl-batch[voice]'")
        self._model = SpeakerModel(path, threads=threads, cache=cache)
        self._files: dict[tuple[str, int, int], np.ndarray | None] = {}
        self._problems: dict[str, str] = {}

    @property
    def cache(self) -> EmbeddingCache | None:
        return self._model.cache

    def embed_file(self, path: Path) -> np.ndarray | None:
        """The embedding of a whole medium (an enrolment sample: any format the run accepts), computed once per
        file version; None when it gives no voice (`problem(path)` says why)."""
        try:
            stat = path.stat()
        except OSError as exc:
            self._problems[str(path)] = f"{path}: no voice evidence from it: cannot be read ({exc.strerror or exc})"
            return None
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._files:
            self._files[key] = self._embed_medium(path)
        return self._files[key]

    def _embed_medium(self, path: Path) -> np.ndarray | None:
        decoded = read_audio(path)
        vector = self.embed(decoded.samples) if decoded.samples is not None else None
        if decoded.problem is not None:
            self._problems[str(path)] = decoded.problem
        elif vector is None:
            self._problems[str(path)] = f"{path}: no voice evidence from it: shorter than {MIN_SECONDS:g} s"
        else:
            self._problems.pop(str(path), None)
        return vector

    def problem(self, path: Path) -> str | None:
        """Why `embed_file(path)` gave None, as one sentence naming the file (None when it gave a voice)."""
        return self._problems.get(str(path))

    def embed(self, samples: np.ndarray) -> np.ndarray | None:
        """A unit vector for this speech, or None when there is less than a second of it."""
        return self._model.embed(samples)

    def embed_each(self, pieces: list[np.ndarray]) -> np.ndarray:
        """(len(pieces), 192) unit vectors, one per piece of at least a second (shorter pieces are dropped)."""
        vectors = [v for p in pieces if (v := self._model.embed(p)) is not None]
        return np.array(vectors) if vectors else np.zeros((0, 192))
