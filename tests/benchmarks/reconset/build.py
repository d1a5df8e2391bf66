"""Build the reconciliation evaluation set from scenes.toml: media, truth, enrolment samples, four manifests.

    python -m tests.benchmarks.reconset.build                # the full set into .cache/reconset/
    python -m tests.benchmarks.reconset.build --small        # the quick one into .cache/reconset-small/
    python -m tests.benchmarks.reconset.build --out DIR [--force] [--jobs N]
    python -m tests.benchmarks.reconset.build --check        # rebuild from nothing in a temporary folder and
                                                             # compare every byte with the folder's build.json

Written under the set's folder: `media/<conversation>[.part<k>].<ext>` with `<media>.json` (the truth) beside
each, `enrol/<person>.<ext>` (with its truth), `everyone.toml`, `half.toml`, `nobody.toml`, `second.toml`,
`truth.json` (conversations -> segments -> media and truth files, the roster, the outsider, who is enrolled in
which scenario) and `build.json` (a stamp of the inputs and the SHA-256 of every file). Synthesized pieces are
cached in `.synth/`; a second build with the same inputs finds build.json current and returns at once.
Voices: the speech set's held-out `test` voices only (never a calibration voice). Determinism: see
speechset/build.py; every draw here is seeded too. Needs flite, espeak-ng, festival, sox and ffmpeg.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import shutil
import sys
import tempfile
import time
import tomllib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from reconcile import intros
from tests.benchmarks.reconset import formats, manifests, pieces, plan, recordings
from tests.benchmarks.reconset.plan import Conversation, Plan
from tests.benchmarks.reconset.recordings import Job
from tests.benchmarks.speechset import acoustics, recording, scene, synth
from tests.benchmarks.speechset.recording import Studio
from tests.benchmarks.speechset.scene import Condition, Line, Scenes, Voice

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
SPEECHSET = HERE.parent / "speechset"
DEFAULT_OUT = {"full": ROOT / ".cache" / "reconset", "small": ROOT / ".cache" / "reconset-small"}
ENROL_SEED = 4242
ENROL_CHUNK = 4  # sentences set aside per roster person; a sample uses the longest prefix that fits
OUTSIDER_SECONDS = 10.0
SOURCES = (plan, formats, manifests, pieces, recordings, acoustics, recording, scene, synth)


def load(which: str) -> tuple[Plan, Scenes, dict[str, Voice]]:
    scenes, cast, _ = scene.load(SPEECHSET, ROOT / "corpus" / "cast.toml")
    data = tomllib.loads((HERE / "scenes.toml").read_text())
    return plan.parse(data, cast, which), scenes, cast


def stamp(which: str) -> str:
    """SHA-256 of everything the build's bytes depend on (declarations and code)."""
    digest = hashlib.sha256(which.encode())
    for path in (HERE / "scenes.toml", SPEECHSET / "cast.toml", SPEECHSET / "scenes.toml"):
        digest.update(path.read_bytes())
    for module in (*SOURCES, sys.modules[__name__]):
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()


def enrolment_lines(p: Plan) -> dict[str, tuple[str, ...]]:
    """The sentences set aside for each roster person: a seeded shuffle of the pool, in chunks by roster order."""
    order = np.random.default_rng(ENROL_SEED).permutation(len(p.enrol_lines))
    pool = [p.enrol_lines[i] for i in order]
    return {person.key: tuple(pool[i * ENROL_CHUNK : (i + 1) * ENROL_CHUNK]) for i, person in enumerate(p.roster)}


def media_name(conv: Conversation, part: int, fmt: str) -> str:
    stem = conv.id if len(conv.parts) == 1 else f"{conv.id}.part{part}"
    return f"media/{stem}{formats.FORMATS[fmt].suffix}"


def conversation_jobs(p: Plan, studio: Studio, conditions: Mapping[str, Condition]) -> list[Job]:
    """A job per part; refuses a conversation whose parts together fall outside the plan's seconds, and an
    outsider with less than OUTSIDER_SECONDS of speech."""
    jobs = []
    for conv in p.conversations:
        recs = [recordings.lay_out(studio, lines, conv.seed + k) for k, lines in enumerate(conv.parts, 1)]
        total = sum(r.duration for r in recs)
        if not p.seconds[0] <= total <= p.seconds[1]:
            raise plan.PlanError(f"{conv.id}: lasts {total:.1f} s, outside {p.seconds[0]:.0f}-{p.seconds[1]:.0f} s")
        if (
            p.outsider.key in conv.speakers
            and (spoken := sum(recordings.speech_seconds(r, p.outsider.key) for r in recs)) < OUTSIDER_SECONDS
        ):
            raise plan.PlanError(f"{conv.id}: the outsider speaks {spoken:.1f} s, under {OUTSIDER_SECONDS:.0f} s")
        for k, lines in enumerate(conv.parts, 1):
            info = {
                "kind": "conversation",
                "conversation": conv.id,
                "name": conv.name,
                "batch": conv.batch,
                "part": k,
                "parts": len(conv.parts),
                "participants": p.participants(conv),
            }
            jobs.append(
                Job(
                    media_name(conv, k, conv.format),
                    conv.format,
                    conditions[conv.condition],
                    lines,
                    conv.seed + k,
                    info,
                )
            )
    return jobs


def enrolment_jobs(p: Plan, studio: Studio, clean: Condition, chosen: Mapping[str, Sequence[str]]) -> list[Job]:
    """One clean sample per roster person: the longest prefix of its sentences whose file lasts at most the
    plan's upper bound (it must reach the lower one)."""
    jobs = []
    low, high = p.enrol_seconds
    for i, person in enumerate(p.roster):
        seed = ENROL_SEED + i
        lines = [Line(person.key, text) for text in chosen[person.key]]
        fits = [n for n in range(1, len(lines) + 1) if recordings.lay_out(studio, lines[:n], seed).duration <= high]
        best = max(fits, default=0)
        if not best or recordings.lay_out(studio, lines[:best], seed).duration < low:
            raise plan.PlanError(f"enrolment of {person.key}: no prefix of its sentences lasts {low:.0f}-{high:.0f} s")
        fmt = p.enrol_formats[i % len(p.enrol_formats)]
        info = {"kind": "enrolment", "person": person.key}
        jobs.append(
            Job(f"enrol/{person.key}{formats.FORMATS[fmt].suffix}", fmt, clean, tuple(lines[:best]), seed, info)
        )
    return jobs


def truth_index(p: Plan, written: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """truth.json: conversations -> segments, the roster with its samples, the outsider, the scenarios."""
    by_media = {t["media"]: t for t in written}
    enrol = {t["person"]: t for t in written if t["kind"] == "enrolment"}
    conversations = {}
    for conv in p.conversations:
        segments = [by_media[media_name(conv, k, conv.format)] for k in range(1, len(conv.parts) + 1)]
        conversations[conv.id] = {
            "name": conv.name,
            "batch": conv.batch,
            "format": conv.format,
            "condition": conv.condition,
            "speakers": conv.speakers,
            "participants": p.participants(conv),
            "outsider": p.outsider.key in conv.speakers,
            "introduces_self": sorted(
                {line.speaker for part in conv.parts for line in part if intros.named(line.text)}
            ),
            "duration": round(sum(s["duration"] for s in segments), 3),
            "segments": [
                {
                    "part": s["part"],
                    "media": s["media"],
                    "truth": s["media"] + ".json",
                    "speakers": sorted(s["speakers"]),
                    "diarizationSpeakerCount": s["diarizationSpeakerCount"],
                    "duration": s["duration"],
                }
                for s in segments
            ],
        }
    scenarios = {
        s.name: {
            "manifest": s.manifest,
            "batch": s.batch,
            "output": s.output,
            "state": s.state,
            "about": s.about,
            "enrolled": [q.email for q in p.roster if q.key in s.enrolled],
        }
        for s in manifests.scenarios(p)
    }
    roster = [
        {
            "key": q.key,
            "name": q.name,
            "email": q.email,
            "enrolment": {
                "file": enrol[q.key]["media"],
                "format": enrol[q.key]["format"],
                "duration": enrol[q.key]["duration"],
            },
            "enrolled_in": [s.name for s in manifests.scenarios(p) if q.key in s.enrolled],
            "conversations": [c.id for c in p.conversations if q.key in c.speakers],
        }
        for q in p.roster
    ]
    outsider = {
        "key": p.outsider.key,
        "name": p.outsider.name,
        "email": None,
        "conversations": [c.id for c in p.conversations if p.outsider.key in c.speakers],
    }
    return {
        "set": p.set,
        "rate": recordings.RATE,
        "roster": roster,
        "outsider": outsider,
        "scenarios": scenarios,
        "conversations": conversations,
    }


def write_manifests(p: Plan, out: Path, written: Sequence[dict[str, Any]]) -> list[Path]:
    from batch import manifest  # noqa: PLC0415 - the project's own reader checks every manifest written

    enrolment = {t["person"]: t["media"] for t in written if t["kind"] == "enrolment"}
    media: dict[str, list[str]] = {}
    counts: dict[str, list[int]] = {}
    for t in (t for t in written if t["kind"] == "conversation"):
        media.setdefault(t["conversation"], []).append(t["media"])
        counts.setdefault(t["conversation"], []).append(t["diarizationSpeakerCount"])
    paths = []
    for scenario in manifests.scenarios(p):
        path = out / scenario.manifest
        path.write_text(manifests.render(p, scenario, enrolment, media, counts))
        manifest.load(path, environ={})
        paths.append(path)
    return paths


def build(out: Path, which: str, *, jobs: int = os.cpu_count() or 1, cache: Path | None = None) -> dict[str, str]:
    """Write the set `which` into `out`; return the SHA-256 of every file written, by name under `out`."""
    p, scenes, cast = load(which)
    for old in ("media", "enrol"):
        shutil.rmtree(out / old, ignore_errors=True)
    chosen = enrolment_lines(p)
    wanted = [(line.speaker, line.text) for conv in p.conversations for part in conv.parts for line in part]
    wanted += [(key, text) for key, texts in chosen.items() for text in texts]
    studio = Studio(cast, pieces.synthesize_all(wanted, cast, cache or out / ".synth", jobs), scenes.timing, out)
    conditions = {c.name: c for c in scenes.conditions}
    todo = conversation_jobs(p, studio, conditions) + enrolment_jobs(p, studio, conditions["clean"], chosen)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        written = list(pool.map(lambda job: recordings.write(studio, p.people, job), todo))
    (out / "truth.json").write_text(json.dumps(truth_index(p, written), indent=1) + "\n")
    files = [out / "truth.json", *write_manifests(p, out, written)]
    for t in written:
        files += [out / t["media"], out / (t["media"] + ".json")]
    return {f.relative_to(out).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(files)}


def current(out: Path, which: str) -> bool:
    """True when `out` holds a finished build of these very inputs (build.json's stamp, every file present)."""
    try:
        record = json.loads((out / "build.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(record.get("stamp") == stamp(which) and all((out / name).is_file() for name in record["files"]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder of the set (default .cache/reconset[-small]/)")
    parser.add_argument("--small", action="store_true", help="the reduced set for a quick test")
    parser.add_argument("--force", action="store_true", help="rebuild even when build.json is current")
    parser.add_argument("--check", action="store_true", help="rebuild from nothing elsewhere, compare to build.json")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="work run at once")
    args = parser.parse_args(argv)
    which = "small" if args.small else "full"
    out: Path = args.out or DEFAULT_OUT[which]
    started = time.monotonic()
    if args.check:
        recorded = json.loads((out / "build.json").read_text())["files"]
        with tempfile.TemporaryDirectory() as tmp:
            fresh = build(Path(tmp), which, jobs=args.jobs)
        differ = sorted(k for k in fresh.keys() | recorded.keys() if fresh.get(k) != recorded.get(k))
        for name in differ:
            print(f"differs: {name}", file=sys.stderr)
        print(
            "reproducible bit for bit" if not differ else f"{len(differ)} files differ",
            f"({time.monotonic() - started:.0f} s)",
        )
        return 1 if differ else 0
    if not args.force and current(out, which):
        print(f"{out} is up to date ({time.monotonic() - started:.1f} s)")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    (out / "build.json").unlink(missing_ok=True)
    fresh = build(out, which, jobs=args.jobs)
    (out / "build.json").write_text(json.dumps({"set": which, "stamp": stamp(which), "files": fresh}, indent=1) + "\n")
    size = sum((out / name).stat().st_size for name in fresh)
    print(f"{len(fresh)} files, {size / 1e6:.1f} MB in {out}, {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
