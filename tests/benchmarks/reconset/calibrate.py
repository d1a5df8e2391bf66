"""Measure same-person and different-person cosines of the project's voice embeddings; write calibration.json.

    python -m tests.benchmarks.reconset.calibrate              # rewrite reconcile/calibration.json
    python -m tests.benchmarks.reconset.calibrate --quick --out /tmp/c.json   # a small run, to try things

On the calibration voices only (calibset: speech set dev voices and corpus voices, never an evaluation voice),
with exactly the project's code: `reconcile.voice.embedder.Embedder` for embeddings and
`reconcile.voice.consistency` (`samples_of`, `measure`) for mixed members. Classes:
- enrolment: a member sample against an enrolment sample, same person / different person;
- enrolment_centred: the same pairs centred as `reconcile.cohort` centres them (`add_centred`);
- member_centred: member pairs centred the same way (`add_member_centred`);
- profile_centred: members against directory-like profiles, centred by the other profiles (`add_profile_centred`);
- member: two member samples (never sharing a sentence when they are one person's), same / different;
- consistency: `measure(embed_each(samples_of(...)))` of one-voice members (up to 10 % of another voice at
  turn edges) and two-voice members (the minority holding 20-50 %): the `cosine` field, and `minority`;
- by_length: the enrolment classes by the member's length (3-8, 8-20, 20+ s), and the same for the others;
- by_condition: every class by the member's condition (clean, mild, noisy; member pairs: the worse one);
- by_engines: the different-person classes split into pairs of two espeak-ng voices and all other pairs.
Every pair of samples that fits a class is counted (n counts pairs; the distinct samples are in `setup`).
Deterministic: every sample is made from its own seed, embedding runs on one onnxruntime thread per process,
and results are put back in the specs' order. Samples are made and embedded in `--jobs` processes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import pickle
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tests.benchmarks.reconset import calibset, pieces, stats
from tests.benchmarks.reconset.calibset import Spec
from tests.benchmarks.speechset import scene
from tests.benchmarks.speechset.scene import Condition, Voice

ROOT = calibset.ROOT
OUT = ROOT / "reconcile" / "calibration.json"
CACHE = ROOT / ".cache" / "reconset-calibration"
ODDS_CACHE = ROOT / ".cache" / "reconset-odds.pickle"  # the samples' results, in the order of calibset.specs
SEED = 20_240_611
BUCKETS = (("3-8", 0.0, 8.0), ("8-20", 8.0, 20.0), ("20+", 20.0, 1e9))
FULL = {"members": 20, "enrolments": 6, "twos": 30}  # per voice (members: per pool A and B)
QUICK = {"members": 3, "enrolments": 2, "twos": 3}
CONDITIONS = ("clean", "mild", "noisy")
NAMES = (
    "enrolment_same",
    "enrolment_different",
    "member_same",
    "member_different",
    "consistency_one",
    "consistency_two",
)
CLOSEST = 8  # voice pairs of different people listed by their mean member-vs-enrolment cosine

Result = tuple[NDArray[np.float64] | None, tuple[float, float, int] | None, float, float]
_WORKER: dict[str, Any] = {}


def _init(cache: str) -> None:
    """A worker's state: the cast, pools and pieces (from the cache the parent filled) and one embedder."""
    from reconcile.voice.embedder import Embedder  # noqa: PLC0415 - onnxruntime loads in the workers only

    cast = calibset.calibration_cast()
    pools = calibset.sentence_pools(cast, SEED)
    wanted = [(voice, text) for (voice, _), texts in pools.items() for text in texts]
    conditions = {c.name: c for c in _conditions()}
    _WORKER.update(
        cast=cast,
        pools=pools,
        pieces=pieces.synthesize_all(wanted, cast, Path(cache), 1),
        conditions=conditions,
        embedder=Embedder(threads=1),
    )


def _conditions() -> tuple[Condition, ...]:
    import tomllib  # noqa: PLC0415

    return scene.parse_scenes(tomllib.loads((calibset.SPEECHSET / "scenes.toml").read_text())).conditions


def _work(spec: Spec) -> Result:
    """(embedding of the speech, (cosine, minority, windows) of its windows, seconds, foreign seconds)."""
    from reconcile.voice.consistency import measure, samples_of  # noqa: PLC0415

    sample = calibset.make(spec, _WORKER["cast"], _WORKER["pools"], _WORKER["pieces"], _WORKER["conditions"])
    embedder = _WORKER["embedder"]
    vector = embedder.embed(sample.speech) if spec.kind != "two" else None
    found = None
    if spec.windows:
        measured = measure(embedder.embed_each(samples_of(sample.audio, sample.spans)))
        found = (measured.cosine, measured.minority, measured.windows) if measured is not None else None
    return vector, found, calibset.seconds_of(sample), sample.foreign


def run(todo: Sequence[Spec], jobs: int) -> list[Result]:
    context = multiprocessing.get_context("spawn")
    results: list[Result] = []
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init, initargs=(str(CACHE),)) as pool:
        for i, result in enumerate(pool.map(_work, todo, chunksize=4), 1):
            results.append(result)
            if i % 100 == 0 or i == len(todo):
                print(f"  {i}/{len(todo)} samples, {time.monotonic() - started:.0f} s", file=sys.stderr)
    return results


def bucket(seconds: float) -> str:
    return next(name for name, low, high in BUCKETS if low <= seconds < high)


def first_of_each_person(specs: Sequence[tuple[Spec, Result]], source: Mapping[str, str]) -> dict[str, int]:
    """Person -> the index of their first sample in `specs`; its voice stands for them (one voice per person)."""
    first: dict[str, int] = {}
    for j, (spec, _) in enumerate(specs):
        first.setdefault(source[spec.voice], j)
    return first


def profiles(pools: Mapping[str, Sequence[NDArray[np.float64]]], trials: int) -> list[dict[str, NDArray[np.float64]]]:
    """`trials` draws of directory-like profiles: key -> the normalised mean of 1-3 (by trial) of its vectors in
    `pools`, as the identity directory averages the members it learned (seeded: the same draws every run)."""
    draw = np.random.default_rng(SEED)
    found = []
    for trial in range(trials):
        drawn = {}
        for key in sorted(pools):
            chosen = draw.choice(len(pools[key]), size=1 + trial % 3, replace=False)
            mean = np.mean([pools[key][i] for i in chosen], axis=0)
            drawn[key] = mean / np.linalg.norm(mean)
        found.append(drawn)
    return found


def add_centred(
    members: Sequence[tuple[Spec, Result]],
    enrols: Sequence[tuple[Spec, Result]],
    source: Mapping[str, str],
    against: NDArray[np.float64],
    add: Callable[[str, float, float, str], None],
) -> None:
    """`add(class, centred score, member's seconds, member's condition)` for every member x enrolment pair, as
    `reconcile.cohort` centres them at run time: the enrolment's cosine with the member, less its mean cosine with
    one enrolment of every other person (each person's sample of the same position, as one trial has one sample
    per person on file). For a different-person pair the member's own person is left out of that cohort too: the
    harder case of a guest, whose voice is not on file."""
    first = {person: enrols[j][0].voice for person, j in first_of_each_person(enrols, source).items()}
    position: dict[int, int] = {}
    by_voice: dict[str, list[int]] = {}
    for j, (spec, _) in enumerate(enrols):
        position[j] = len(by_voice.setdefault(spec.voice, []))
        by_voice[spec.voice].append(j)
    vectors = np.array([r[0] for _, r in enrols])
    between = vectors @ vectors.T
    for j, (es, _) in enumerate(enrols):
        cohort = {
            person: float(between[j, by_voice[voice][position[j] % len(by_voice[voice])]])
            for person, voice in first.items()
            if person != source[es.voice]
        }
        for i, (ms, mr) in enumerate(members):
            if source[ms.voice] == source[es.voice] and ms.voice != es.voice:
                continue  # one person's two voices: in neither class
            kept = [c for person, c in cohort.items() if person != source[ms.voice]]
            name = "enrolment_centred_same" if ms.voice == es.voice else "enrolment_centred_different"
            add(name, float(against[i, j]) - float(np.mean(kept)), mr[2], ms.condition)


PROFILE_TRIALS = 6  # profiles drawn per person for the profile-centred classes


def add_profile_centred(
    members: Sequence[tuple[Spec, Result]],
    source: Mapping[str, str],
    add: Callable[[str, float, float, str], None],
) -> None:
    """`add(class, centred score, member's seconds, member's condition)` for members scored against identity-
    directory profiles, as `reconcile.cohort` centres them when too few people have enrolment samples: each
    person's profile is the mean of 1-3 of their pool-A member samples (as the directory averages the members it
    learned), a pool-B member is scored against every person's profile, less that profile's mean cosine with the
    other people's profiles (for two people, the member's own person left out too: a voice not on file)."""
    first = {person: members[j][0].voice for person, j in first_of_each_person(members, source).items()}
    people = sorted(first)
    pool_a = {
        p: [r[0] for spec, r in members if spec.voice == first[p] and spec.pool == "A" and r[0] is not None]
        for p in people
    }
    scored = [(spec, r) for spec, r in members if spec.pool == "B" and spec.voice == first[source[spec.voice]]]
    vectors = np.array([r[0] for _, r in scored])
    for drawn in profiles(pool_a, PROFILE_TRIALS):
        matrix = np.array([drawn[person] for person in people])
        between, against = matrix @ matrix.T, vectors @ matrix.T
        for i, (spec, r) in enumerate(scored):
            own = people.index(source[spec.voice])
            for x in range(len(people)):
                left_out = {x} if x == own else {x, own}
                centre = float(np.mean([between[x, y] for y in range(len(people)) if y not in left_out]))
                kind = "same" if x == own else "different"
                add(f"profile_centred_{kind}", float(against[i, x]) - centre, r[2], spec.condition)


def add_member_centred(
    members: Sequence[tuple[Spec, Result]],
    enrols: Sequence[tuple[Spec, Result]],
    source: Mapping[str, str],
    between: NDArray[np.float64],
    add: Callable[[str, float, float, str], None],
) -> None:
    """`add(class, centred score, shorter member's seconds, worse condition)` for every pair of members, as
    `reconcile.cohort` centres them at run time: their cosine less the mean of each member's mean cosine with one
    enrolment sample of every person. Conservative both ways: for two people, both members' own people are left
    out of the cohort (a lower centre, a higher score: the case of people without a sample); for one person, their
    own sample stays in (a higher centre, a lower score: the case of someone enrolled)."""
    first = first_of_each_person(enrols, source)  # person -> the index of their first enrolment sample
    people = sorted(first)
    vectors = np.array([r[0] for _, r in members])
    cohort = vectors @ np.array([enrols[first[person]][1][0] for person in people]).T  # member x person
    own = np.array([[source[spec.voice] == person for person in people] for spec, _ in members])
    everyone = cohort.mean(axis=1)
    for i, (a, ar) in enumerate(members):
        for j in range(i + 1, len(members)):
            b, br = members[j]
            shorter, worse = min(ar[2], br[2]), max(a.condition, b.condition, key=CONDITIONS.index)
            if a.voice == b.voice and a.pool != b.pool:
                add("member_centred_same", float(between[i, j]) - (everyone[i] + everyone[j]) / 2, shorter, worse)
            elif source[a.voice] != source[b.voice]:
                centre = (_without(cohort[i], own[i] | own[j]) + _without(cohort[j], own[i] | own[j])) / 2
                add("member_centred_different", float(between[i, j]) - centre, shorter, worse)


def _without(cosines: NDArray[np.float64], left_out: NDArray[np.bool_]) -> float:
    return float(cosines[~left_out].mean())


def measure_all(cast: Mapping[str, Voice], todo: Sequence[Spec], results: Sequence[Result]) -> dict[str, Any]:
    """The classes of the module docstring from the samples' results."""
    source = {k: v.source for k, v in cast.items()}
    members = [(s, r) for s, r in zip(todo, results, strict=True) if s.kind == "member" and r[0] is not None]
    enrols = [(s, r) for s, r in zip(todo, results, strict=True) if s.kind == "enrolment" and r[0] is not None]
    twos = [(s, r) for s, r in zip(todo, results, strict=True) if s.kind == "two"]
    m = np.array([r[0] for _, r in members])
    e = np.array([r[0] for _, r in enrols])
    classes: dict[str, list[tuple[float, str]]] = {}  # class -> (cosine, length bucket)

    def engines(a: str, b: str) -> str:
        return "espeak_pair" if cast[a].engine == cast[b].engine == "espeak-ng" else "other_pair"

    def add(name: str, value: float, seconds: float, condition: str) -> None:
        """Into class `name` and into its per-condition class `name@condition`."""
        for key in (name, f"{name}@{condition}"):
            classes.setdefault(key, []).append((value, bucket(seconds)))

    def worse(a: Spec, b: Spec) -> str:
        return max(a.condition, b.condition, key=CONDITIONS.index)

    against = m @ e.T
    by_pair: dict[tuple[str, str], list[float]] = {}
    for i, (ms, mr) in enumerate(members):
        for j, (es, _) in enumerate(enrols):
            if ms.voice == es.voice:
                add("enrolment_same", float(against[i, j]), mr[2], ms.condition)
            elif source[ms.voice] != source[es.voice]:
                add("enrolment_different", float(against[i, j]), mr[2], ms.condition)
                add(f"enrolment_different_{engines(ms.voice, es.voice)}", float(against[i, j]), mr[2], ms.condition)
                pair = (min(ms.voice, es.voice), max(ms.voice, es.voice))
                by_pair.setdefault(pair, []).append(float(against[i, j]))
    add_centred(members, enrols, source, against, add)
    closest = sorted(by_pair.items(), key=lambda item: -float(np.mean(item[1])))[:CLOSEST]
    between = m @ m.T
    add_member_centred(members, enrols, source, between, add)
    add_profile_centred(members, source, add)
    for i, (a, ar) in enumerate(members):
        for j in range(i + 1, len(members)):
            b, br = members[j]
            shorter = min(ar[2], br[2])
            if a.voice == b.voice and a.pool != b.pool:
                add("member_same", float(between[i, j]), shorter, worse(a, b))
            elif source[a.voice] != source[b.voice]:
                add("member_different", float(between[i, j]), shorter, worse(a, b))
                add(f"member_different_{engines(a.voice, b.voice)}", float(between[i, j]), shorter, worse(a, b))
    minority: dict[str, list[float]] = {"one": [], "two": [], "two_true": []}
    for kind, pairs in (("one", members), ("two", twos)):
        for spec, r in pairs:
            if r[1] is not None:
                add(f"consistency_{kind}", r[1][0], r[2], spec.condition)
                minority[kind].append(r[1][1])
                if kind == "two":
                    minority["two_true"].append(r[3] / r[2])
    return {
        "classes": classes,
        "minority": minority,
        "samples": {
            "member": len(members),
            "enrolment": len(enrols),
            "two": len(twos),
            "one_measured": len(classes.get("consistency_one", [])),
            "two_measured": len(classes.get("consistency_two", [])),
            "member_seconds": stats.summary(r[2] for _, r in members),
            "member_foreign_share": stats.summary(r[3] / r[2] for _, r in members),
            "closest_different_people": [
                {"voices": list(pair), "mean": round(float(np.mean(v)), 4), "max": round(float(np.max(v)), 4)}
                for pair, v in closest
            ],
        },
    }


def document(cast: Mapping[str, Voice], measured: Mapping[str, Any], counts: Mapping[str, int]) -> dict[str, Any]:
    classes = measured["classes"]

    def s(name: str, length: str | None = None) -> dict[str, Any]:
        return stats.summary(v for v, b in classes.get(name, []) if length is None or b == length)

    def by_length(name: str) -> dict[str, Any]:
        return {label: s(name, label) for label, _, _ in BUCKETS}

    def by_condition(name: str) -> dict[str, Any]:
        return {condition: s(f"{name}@{condition}") for condition in CONDITIONS}

    people = len({v.source for v in cast.values()})
    samples = measured["samples"]
    about = (
        f"Measured by `python -m tests.benchmarks.reconset.calibrate` (seed {SEED}) with "
        "the project's own code: reconcile.voice.embedder.Embedder (CAM++) and reconcile.voice.consistency "
        f"(samples_of, measure). Calibration voices only: {len(cast)} voices of {people} people, the speech set's "
        "dev voices and the project corpus's voices (festival's and flite's 'slt' are one person: pairs between "
        "them are in neither class); no evaluation (speech set test) voice. Sentences: the speech set's meeting "
        "phrases with seeded slots, disjoint pools for enrolment and for each of two member halves. "
        f"Per voice: {counts['members']} member samples in each of two pools (3-60 s of speech, lengths even over "
        "3-8, 8-20 and 20-60 s, conditions even over the speech set's clean, mild (20 dB SNR, RT60 0.25 s) and "
        "noisy (10 dB, RT60 0.4 s, hum); 70 % of them with 1-10 % of another voice at turn edges), "
        f"{counts['enrolments']} clean enrolment samples of 8-15 s, and {counts['twos']} two-voice members (5-60 s, "
        "the minority voice holding 20-50 %). Members are laid out with pauses, mixed, degraded, written to 16-bit "
        "and cut back to their spans, as reconciliation cuts a member from its segment. "
        f"Distinct samples: {samples['member']} members, {samples['enrolment']} enrolments, {samples['two']} "
        "two-voice members; n counts every pair that fits a class (enrolment: member x enrolment; member: member x "
        "member, same-person pairs only across the two sentence pools), consistency counts members with at least "
        "6 windows. by_length buckets a pair by the member's seconds of speech (member pairs: the shorter one), "
        "by_condition by the member's condition (member pairs: the worse one)."
    )
    return {
        "about": about,
        "enrolment": {"same": s("enrolment_same"), "different": s("enrolment_different")},
        "enrolment_centred": {
            "about": "member x enrolment scores centred as reconcile.cohort does (the enrolment's mean cosine with "
            "one enrolment of every other person subtracted; for different people the member's person left out)",
            "same": s("enrolment_centred_same"),
            "different": s("enrolment_centred_different"),
        },
        "member": {"same": s("member_same"), "different": s("member_different")},
        "profile_centred": {
            "about": "a member against identity-directory profiles (the mean of 1-3 of a person's member samples "
            "of the other sentence pool), centred by the profile's mean cosine with the other people's profiles "
            "(for different people the member's person left out)",
            "same": s("profile_centred_same"),
            "different": s("profile_centred_different"),
        },
        "member_centred": {
            "about": "member x member cosines centred as reconcile.cohort does (less the mean of each member's mean "
            "cosine with one enrolment of every person; for different people both members' people left out, for "
            "one person their own sample kept)",
            "same": s("member_centred_same"),
            "different": s("member_centred_different"),
        },
        "consistency": {
            "one": s("consistency_one"),
            "two": s("consistency_two"),
            "minority": {k: stats.summary(v) for k, v in measured["minority"].items()},
        },
        "by_engines": {
            "about": "different-person pairs split by synthesizer: both espeak-ng voices, or any other pairing",
            "enrolment_different": {k: s(f"enrolment_different_{k}") for k in ("espeak_pair", "other_pair")},
            "member_different": {k: s(f"member_different_{k}") for k in ("espeak_pair", "other_pair")},
        },
        "by_condition": {
            "about": "the member's condition (member pairs: the worse of the two; enrolment samples are clean)",
            **{name: by_condition(name) for name in NAMES},
        },
        "by_length": {
            "enrolment_same": by_length("enrolment_same"),
            "enrolment_different": by_length("enrolment_different"),
            "member_same": by_length("member_same"),
            "member_different": by_length("member_different"),
            "consistency_one": by_length("consistency_one"),
            "consistency_two": by_length("consistency_two"),
        },
        "setup": {"seed": SEED, "voices": calibset.describe(cast), "per_voice": dict(counts), "samples": samples},
    }


def printable(doc: Mapping[str, Any]) -> str:
    rows = {
        "enrolment same": doc["enrolment"]["same"],
        "enrolment different": doc["enrolment"]["different"],
        "enrolment centred same": doc["enrolment_centred"]["same"],
        "enrolment centred different": doc["enrolment_centred"]["different"],
        "member same": doc["member"]["same"],
        "member different": doc["member"]["different"],
        "profile centred same": doc["profile_centred"]["same"],
        "profile centred different": doc["profile_centred"]["different"],
        "member centred same": doc["member_centred"]["same"],
        "member centred different": doc["member_centred"]["different"],
        "consistency one (cosine)": doc["consistency"]["one"],
        "consistency two (cosine)": doc["consistency"]["two"],
        "consistency one (minority)": doc["consistency"]["minority"]["one"],
        "consistency two (minority)": doc["consistency"]["minority"]["two"],
        "two: true minority share": doc["consistency"]["minority"]["two_true"],
    }
    for kind in ("espeak_pair", "other_pair"):
        rows[f"enrol diff, {kind}"] = doc["by_engines"]["enrolment_different"][kind]
    for name, label in (("enrolment_same", "enrol same"), ("enrolment_different", "enrol diff")):
        for condition, block in doc["by_condition"][name].items():
            rows[f"{label} {condition}"] = block
    for name, label in (("enrolment_same", "enrol same"), ("enrolment_different", "enrol diff")):
        for length, block in doc["by_length"][name].items():
            rows[f"{label} {length} s"] = block
    return stats.table(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, help=f"where to write (default {OUT.relative_to(ROOT)}; --quick: none)")
    parser.add_argument("--quick", action="store_true", help="a few samples per voice, to try the pipeline")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    args = parser.parse_args(argv)
    started = time.monotonic()
    counts = QUICK if args.quick else FULL
    cast = calibset.calibration_cast()
    pools = calibset.sentence_pools(cast, SEED)
    wanted = [(voice, text) for (voice, _), texts in pools.items() for text in texts]
    pieces.synthesize_all(wanted, cast, CACHE, args.jobs)
    print(f"{len(wanted)} sentences ready ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    todo = calibset.specs(cast, SEED, **counts)
    results = run(todo, args.jobs)
    if not args.quick:  # the odds benchmark reads the same results instead of embedding everything again
        ODDS_CACHE.write_bytes(pickle.dumps(results))
    doc = document(cast, measure_all(cast, todo, results), counts)
    print(printable(doc))
    out = args.out if args.out or args.quick else OUT
    if out is not None:
        out.write_text(json.dumps(doc, indent=1) + "\n")
        print(f"wrote {out} ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
