"""A content-addressed store of speaker embeddings on disk, so the same speech is embedded once.

Rules:
- the key is the SHA-256 of the model file and of the exact samples given to the model (float32), so a hit is
  the vector the model would compute now: another model, or one changed sample, is another key;
- one small `.npy` file per key, written to a temporary name and renamed, so processes sharing the folder never
  read half a file; anything unreadable is a miss (computed again and rewritten), never an error;
- the folder is the caller's choice and off by default: it holds voice embeddings (192 numbers per piece of
  speech, never audio), which identify people, and nothing in it is tied to a person, so `reconcile forget`
  cannot reach it: delete the folder to forget everything it holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from functools import cache
from pathlib import Path

import numpy as np


@cache
def model_digest(model: Path) -> bytes:
    """SHA-256 of the model file, once per process."""
    digest = hashlib.sha256()
    with model.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


class EmbeddingCache:
    def __init__(self, folder: Path, model: Path) -> None:
        self.folder = folder
        self._model = model_digest(model)
        self.hits = self.misses = 0

    def key(self, samples: np.ndarray) -> str:
        digest = hashlib.sha256(self._model)
        digest.update(np.ascontiguousarray(samples, dtype=np.float32).tobytes())
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        try:
            vector = np.load(self._path(key), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            self.misses += 1
            return None
        if vector.shape != (192,) or not np.isfinite(vector).all():
            self.misses += 1
            return None
        self.hits += 1
        return np.asarray(vector, dtype=np.float64)

    def put(self, key: str, vector: np.ndarray) -> None:
        """Store `vector` under `key`; a folder that cannot be written is left alone (the cache is an aid)."""
        path, temporary = self._path(key), None
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as out:
                temporary = Path(out.name)
                np.save(out, np.asarray(vector, dtype=np.float64), allow_pickle=False)
            os.replace(temporary, path)
        except OSError:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    temporary.unlink(missing_ok=True)
