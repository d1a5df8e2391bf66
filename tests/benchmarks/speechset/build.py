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
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tests.benchmarks.speechset import recording, synth
from tests.benchmarks.speechset.meeting import Composer
from tests.benchmarks.speechset.recording import Recording, Studio
from tests.benchmarks.speechset.scene import SPLITS, Line, Meeting, SceneError, Scenes, load

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
DEFAULT_OUT = ROOT / ".cache" / "speechset"
LOCK = HERE / "lock.json"
CONVERSATION_SECONDS = (60.0, 180.0)
BATCH_BLOCKS = 8


def synthesize_all(lines: Iterable[Line], studio: Studio, jobs: int) -> None:
    """Add to the studio's pieces the samples of every (speaker, text) not yet there; runs are independent."""
    pieces = studio.pieces
    todo = sorted({(line.speaker, line.text) for line in lines} - pieces.keys())
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=jobs) as pool:

        def one(i: int) -> NDArray[np.int16]:
            work = Path(tmp) / str(i)
            work.mkdir()
            speaker, text = todo[i]
            return synth.synthesize(studio.cast[speaker], text, work)

        for key, samples in zip(todo, pool.map(one, range(len(todo))), strict=True):
            pieces[key] = samples


def conversations(studio: Studio, scenes: Scenes) -> list[dict[str, Any]]:
    entries = []
    for conv in scenes.conversations:
        rec = recording.lay_out(studio, conv.lines, rec_id=conv.id, split=conv.split, seed=conv.seed)
        low, high = CONVERSATION_SECONDS
        if not low <= rec.duration <= high:
            raise SceneError(f"scenes.toml {conv.id}: lasts {rec.duration:.0f} s, outside {low:.0f}-{high:.0f} s")
        entries += recording.write_conditions(studio, rec, scenes.conditions, conv.seed)
        if conv.formats:
            entries += recording.write_formats(studio, rec)
        if conv.split_at is not None:
            halves = (conv.lines[: conv.split_at], conv.lines[conv.split_at :])
            for part, lines in enumerate(halves, 1):
                half = recording.lay_out(studio, lines, rec_id=conv.id, split=conv.split, seed=conv.seed + part,
                                         part=part)
                entries.append(recording.write_clean(studio, half, "part"))
    return entries


def compose(studio: Studio, meeting: Meeting, phrases: Mapping[str, Any], jobs: int) -> Recording:
    """The meeting grown by whole agenda blocks until it lasts its `minutes`, then closed. Blocks are drawn a
    batch at a time so synthesis runs in parallel; unused blocks of the last batch are dropped, so the result
    does not depend on the batch size."""
    composer = Composer(meeting, studio.cast, phrases)
    lines = composer.opening()
    synthesize_all(lines, studio, jobs)

    def seconds(lines: Sequence[Line]) -> float:
        return recording.lay_out(studio, lines, rec_id=meeting.id, split=meeting.split, seed=meeting.seed).duration

    while seconds(lines) < meeting.minutes * 60:
        batch = [composer.block() for _ in range(BATCH_BLOCKS)]
        synthesize_all((line for block in batch for line in block), studio, jobs)
        for block in batch:
            lines = lines + block
            if seconds(lines) >= meeting.minutes * 60:
                break
    lines = lines + composer.closing()
    synthesize_all(lines, studio, jobs)
    return recording.lay_out(studio, lines, rec_id=meeting.id, split=meeting.split, seed=meeting.seed)


def build(out: Path, *, jobs: int = os.cpu_count() or 1) -> dict[str, str]:
    """Write the whole set into `out` and return the SHA-256 of every file by its name under `out`."""
    scenes, cast, phrases = load(HERE, ROOT / "corpus" / "cast.toml")
    for split in SPLITS:
        shutil.rmtree(out / split, ignore_errors=True)
    studio = Studio(cast, {}, scenes.timing, out)
    synthesize_all((line for conv in scenes.conversations for line in conv.lines), studio, jobs)
    entries = conversations(studio, scenes)
    for meeting in scenes.meetings:
        entries.append(recording.write_clean(studio, compose(studio, meeting, phrases, jobs), "long"))
    voices = {split: sorted({f"{v.engine} {v.voice}" for v in cast.values() if v.split == split}) for split in SPLITS}
    index = {"rate": recording.RATE, "voices": voices, "files": entries}
    (out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    return hashes(out)


def hashes(root: Path) -> dict[str, str]:
    """SHA-256 by name of every file a build writes (other files under `root` are not the set's)."""
    files = [root / "index.json", *(p for split in SPLITS for p in (root / split).rglob("*") if p.is_file())]
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(files)}


def locked() -> dict[str, str]:
    """The committed lock: SHA-256 by file name."""
    return dict(json.loads(LOCK.read_text()))


def differences(fresh: Mapping[str, str], locked: Mapping[str, str]) -> list[str]:
    return sorted(k for k in fresh.keys() | locked.keys() if fresh.get(k) != locked.get(k))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the set (default %(default)s)")
    parser.add_argument("--check", action="store_true", help="rebuild in a temporary folder, compare to lock.json")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="synthesizers run at once")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = build(Path(tmp), jobs=args.jobs)
        differ = differences(fresh, locked())
        for name in differ:
            print(f"differs: {name}", file=sys.stderr)
        print("speech set is bit-for-bit reproducible" if not differ else f"{len(differ)} files differ",
              f"({time.monotonic() - started:.0f} s)")
        return 1 if differ else 0
    previous = locked() if LOCK.exists() else {}
    fresh = build(args.out, jobs=args.jobs)
    LOCK.write_text(json.dumps(fresh, indent=1) + "\n")
    if changed := differences(fresh, previous):
        print(f"lock.json rewritten: {len(changed)} files differ from the previous lock", file=sys.stderr)
    size = sum((args.out / name).stat().st_size for name in fresh)
    print(f"{len(fresh)} files, {size / 1e6:.0f} MB in {args.out}, {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
