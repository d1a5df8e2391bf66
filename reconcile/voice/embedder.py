"""Voice evidence for reconciliation: embeddings of enrolment files and of members' speech.

The model and its front end live in `speech.voice` (one copy, shared with the local speech service); this
module adds what reconciliation needs: the `voice` extra's check with reconciliation's own error, and a cache
of enrolment files by version (path, size, mtime).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reconcile.errors import VoiceUnavailable
from reconcile.voice.audio import read_wav
from speech.voice import model
from speech.voice.model import MODEL, SpeakerModel


def available() -> bool:
    return model.available()


class Embedder:
    def __init__(self, path: Path = MODEL, *, threads: int = 2) -> None:
        if not available():
            raise VoiceUnavailable("voice evidence needs the `voice` extra: pip install 'symbl-batch[voice]'")
        self._model = SpeakerModel(path, threads=threads)
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

    def embed(self, samples: np.ndarray) -> np.ndarray | None:
        """A unit vector for this speech, or None when there is less than a second of it."""
        return self._model.embed(samples)

    def embed_each(self, pieces: list[np.ndarray]) -> np.ndarray:
        """(len(pieces), 192) unit vectors, one per piece of at least a second (shorter pieces are dropped)."""
        vectors = [v for p in pieces if (v := self._model.embed(p)) is not None]
        return np.array(vectors) if vectors else np.zeros((0, 192))
