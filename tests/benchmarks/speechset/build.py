"""Build the speech evaluation set bit for bit from cast.toml, scenes.toml and phrases.toml.

    python -m tests.benchmarks.speechset.build                 # write .cache/speechset/ and lock.json
    python -m tests.benchmarks.speechset.build --out DIR
    python -m tests.benchmarks.speechset.build --check         # rebuild in a temporary folder, compare to lock.json

Needs Debian's flite, espeak-ng, festival (festvox-kallpc16k, festvox-kdlpc16k, festvox-us-slt-hts), sox and
ffmpeg. Output, under the set's folder: `<split>/<recording>.<condition>.wav` (16 kHz mono 16-bit PCM) with
`<media>.json` beside it (the truth: speaker, start, end, text of every utterance, exact to the sample in the
WAV), format copies and append parts of some conversations, two long meetings, and `index.json` listing every
file. Determinism: synthesizers are deterministic, gaps and noise come from seeded generators (numpy PCG64),
sox runs with -R and ffmpeg single-threaded with bit-exact flags; lock.json holds the SHA-256 of every file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.benchmarks.speechset import recording, synth
from tests.benchmarks.speechset.meeting import Composer
from tests.benchmarks.speechset.recording import Recording
from tests.benchmarks.speechset.scene import Line, Scenes, SceneError, Voice, load

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
DEFAULT_OUT = ROOT / ".cache" / "speechset"
LOCK = HERE / "lock.json"
CONVERSATION_SECONDS = (60.0, 180.0)
Pieces = dict[tuple[str, str], Any]


def synthesize_all(lines: Iterable[Line], cast: Mapping[str, Voice], pieces: Pieces, jobs: int) -> None:
    """Add to `pieces` the samples of every (speaker, text) not yet there; synthesizer runs are independent."""
    todo = sorted({(line.speaker, line.text) for line in lines} - pieces.keys())
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=jobs) as pool:

        def one(i: int) -> Any:
            work = Path(tmp) / str(i)
            work.mkdir()
            speaker, text = todo[i]
            return synth.synthesize(cast[speaker], text, work)

        for key, samples in zip(todo, pool.map(one, range(len(todo))), strict=True):
            pieces[key] = samples


def conversations(scenes: Scenes, cast: Mapping[str, Voice], pieces: Pieces, out: Path) -> list[dict[str, Any]]:
    entries = []
    for conv in scenes.conversations:
        rec = recording.lay_out(conv.id, conv.split, conv.lines, pieces, scenes.timing, conv.seed)
        low, high = CONVERSATION_SECONDS
        if not low <= rec.duration <= high:
            raise SceneError(f"scenes.toml {conv.id}: lasts {rec.duration:.0f} s, outside {low:.0f}-{high:.0f} s")
        entries += recording.write_conditions(rec, cast, pieces, scenes.conditions, out, conv.seed)
        if conv.formats:
            entries += recording.write_formats(rec, out)
        if conv.split_at is not None:
            for part, lines in enumerate((conv.lines[: conv.split_at], conv.lines[conv.split_at :]), 1):
                piece = recording.lay_out(conv.id, conv.split, lines, pieces, scenes.timing, conv.seed + part)
                entries += recording.write_clean(piece, cast, pieces, out, part=part, kind="part")
    return entries


def meetings(scenes: Scenes, cast: Mapping[str, Voice], phrases: Mapping[str, Any], pieces: Pieces, out: Path,
             jobs: int) -> list[dict[str, Any]]:
    """Each meeting grows by whole agenda blocks until it lasts its `minutes`, then closes."""
    entries = []
    for meeting in scenes.meetings:
        composer = Composer(meeting, cast, phrases)
        lines = composer.opening()
        while _duration(meeting.id, meeting.split, lines, pieces, scenes, meeting.seed) < meeting.minutes * 60:
            batch = [line for _ in range(8) for line in composer.block()]  # synthesize a few blocks at a time
            synthesize_all(batch, cast, pieces, jobs)
            for block_end in _block_ends(lines, batch):
                if _duration(meeting.id, meeting.split, block_end, pieces, scenes, meeting.seed) >= meeting.minutes * 60:
                    lines = block_end
                    break
            else:
                lines = lines + batch
        lines = lines + composer.closing()
        synthesize_all(lines, cast, pieces, jobs)
        rec = recording.lay_out(meeting.id, meeting.split, lines, pieces, scenes.timing, meeting.seed)
        entries += recording.write_clean(rec, cast, pieces, out, part=None, kind="long")
    return entries


def _block_ends(lines: list[Line], batch: list[Line]) -> Iterable[list[Line]]:
    """`lines` extended by each prefix of `batch` that ends after an agenda block's follow-up line."""
    for i in range(1, len(batch) + 1):
        if i == len(batch) or _is_agenda(batch[i]):
            yield lines + batch[:i]


def _is_agenda(line: Line) -> bool:
    return line.speaker == "" or False


def _duration(rec_id: str, split: str, lines: Sequence[Line], pieces: Pieces, scenes: Scenes, seed: int) -> float:
    synthesize_ready = all((line.speaker, line.text) in pieces for line in lines)
    if not synthesize_ready or not lines:
        return 0.0
    return recording.lay_out(rec_id, split, lines, pieces, scenes.timing, seed).duration
