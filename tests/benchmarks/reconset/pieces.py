"""Synthesized speech pieces, made in parallel and cached on disk, for the set's build and for calibration.

Rule: a piece is `speechset.synth.synthesize(voice, text)` (16 kHz mono int16, trimmed, peak-normalised); its
cache file is named by the SHA-256 of the voice's settings, the text and the source of `speechset/synth.py`, so
a changed voice, sentence or synthesizer step never reuses a stale piece. The synthesizers are deterministic, so
a cached piece equals a fresh one. Runs are independent subprocesses: `jobs` of them at once (threads).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tests.benchmarks.speechset import synth
from tests.benchmarks.speechset.scene import Voice

Pieces = dict[tuple[str, str], NDArray[np.int16]]  # (voice key, text) -> samples
_SYNTH_SOURCE = hashlib.sha256(inspect.getsource(synth).encode()).hexdigest()


def cache_name(voice: Voice, text: str) -> str:
    settings = [voice.engine, voice.voice, voice.pitch, voice.rate, voice.stretch, text, _SYNTH_SOURCE]
    return hashlib.sha256(json.dumps(settings).encode()).hexdigest()[:32] + ".npy"


def synthesize_all(
    wanted: Iterable[tuple[str, str]], cast: Mapping[str, Voice], cache: Path, jobs: int = os.cpu_count() or 1
) -> Pieces:
    """The samples of every (voice key, text) in `wanted`, from `cache` where present, else synthesized (and
    saved there)."""
    cache.mkdir(parents=True, exist_ok=True)
    todo = sorted(set(wanted))
    pieces: Pieces = {}
    missing = []
    for key, text in todo:
        path = cache / cache_name(cast[key], text)
        if path.exists():
            pieces[key, text] = np.load(path).astype(np.int16)
        else:
            missing.append((key, text))
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:

        def one(i: int) -> NDArray[np.int16]:
            work = Path(tmp) / str(i)
            work.mkdir()
            key, text = missing[i]
            samples = synth.synthesize(cast[key], text, work)
            final = cache / cache_name(cast[key], text)
            partial = final.with_name(f"{final.name}.{os.getpid()}-{i}.part")
            with partial.open("wb") as handle:
                np.save(handle, samples)
            os.replace(partial, final)  # a cache file is whole or absent
            return samples

        for item, samples in zip(missing, pool.map(one, range(len(missing))), strict=True):
            pieces[item] = samples
    return pieces
