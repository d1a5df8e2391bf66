"""The odds of reconciliation's voice rules, measured on the calibration samples (never the evaluation set).

    python -m tests.benchmarks.reconset.odds                 # after calibrate (its embeddings are cached)

For each bar it prints, over every member sample of the calibration voices:
- named by voice against every voice's enrolment (closed set: the person is on file): right, wrong, not named;
- named by voice when the person's own enrolment is left out (open set: someone without a sample): every name
  is wrong — the case of half-enrolled rosters;
- pairs of members of two people linked (probability >= same_person alone: an upper bound, the planner also
  weighs the other members of the segment), and pairs of one person's members linked;
- members of two voices held back as mixed, and members of one voice held back by mistake;
- with a participant list (`LISTED` people of the ten, drawn with a fixed seed, everyone on file): the speaker
  listed (named right, wrong); listed without a sample (every name wrong); on file but not listed, a roster
  person who came uninvited (a name is wrong unless it is them, which the planner would refuse as not listed);
  a guest, neither listed nor on file (every name wrong).
Each trial uses one of the enrolment samples per person; all trials are pooled. Every figure is measured three
ways: on raw cosines; on scores centred as reconciliation centres them when enough people have samples
(`reconcile.cohort`; keys ending ", centred"); and against directory-like profiles (each the mean of 1-3 of a
person's pool-A member samples, scoring the pool-B members) centred by the other profiles, as when the roster is
known from the identity directory (keys ending ", profiles").
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from reconcile import cohort
from reconcile.calibration import Calibration, default
from reconcile.planner import MIN_MINORITY, Settings, by_voice
from tests.benchmarks.reconset import calibrate, calibset

BARS = (0.8, 0.9, 0.95, 0.97, 0.98)
REGIMES = ("cosine", "centred", "profiles")  # raw; centred by samples; against profiles, centred by them
LISTED = 3  # participants listed per conversation in the listed trials (the evaluation's conversations list 2-4)


def scored(vector: np.ndarray | None, refs: dict[str, np.ndarray], regime: str) -> dict[str, float]:
    """Person -> the member's score against their voice on file, as reconciliation computes it in `regime`: the
    cosine, or the cosine less the person's mean cosine with the others on file (`reconcile.cohort.centres`, over
    exactly the people in `refs`)."""
    assert vector is not None  # members without an embedding were left out
    centre = cohort.centres(refs, refs) if regime != "cosine" else None  # the cohort: everyone in `refs`
    return {key: float(vector @ ref) - (centre[key] if centre else 0.0) for key, ref in refs.items()}


def calibration_for(regime: str) -> Calibration:
    return default() if regime == "cosine" else default().centred("samples" if regime == "centred" else "profiles")


def profiles_of(members: Sequence[tuple[calibset.Spec, calibrate.Result]], trials: int) -> dict[str, list[np.ndarray]]:
    """Voice -> `trials` directory-like profiles (`calibrate.profiles` of its pool-A member samples)."""
    pool_a: dict[str, list[np.ndarray]] = {}
    for spec, result in members:
        if spec.pool == "A" and result[0] is not None:
            pool_a.setdefault(spec.voice, []).append(result[0])
    drawn = calibrate.profiles(pool_a, trials)
    return {voice: [trial[voice] for trial in drawn] for voice in sorted(pool_a)}


@dataclass(frozen=True)
class Samples:
    """The calibration member samples (one voice per person) and each person's enrolment samples; `trials`: how
    many enrolment samples every person has (trial k uses each person's k-th)."""

    members: Sequence[tuple[calibset.Spec, calibrate.Result]]
    enrols: dict[str, list[np.ndarray]]
    trials: int


def listed_trials(samples: Samples, settings: Settings, regime: str) -> dict[str, float]:
    """Shares of member samples named right and wrong when the conversation lists its participants (see the
    module's docstring); the same seeded lists for every bar."""
    calibration, draw = calibration_for(regime), random.Random(20241203)
    members, enrols = samples.members, samples.enrols
    people = sorted(enrols)
    found = dict.fromkeys(("listed_right", "listed_wrong", "listed_unheard_wrong", "uninvited_wrong", "guest_wrong"), 0)
    count = 0
    for k in range(samples.trials):
        refs = {voice: vectors[k] for voice, vectors in enrols.items()}
        for spec, result in members:
            scores = scored(result[0], refs, regime)
            others = draw.sample([p for p in people if p != spec.voice], LISTED)
            listed = frozenset([spec.voice, *others[: LISTED - 1]])
            named = by_voice(scores, settings, calibration, allowed=listed)
            found["listed_right"] += named == spec.voice
            found["listed_wrong"] += named is not None and named != spec.voice
            unheard = scored(result[0], {key: ref for key, ref in refs.items() if key != spec.voice}, regime)
            named = by_voice(unheard, settings, calibration, unheard=1, allowed=listed)
            found["listed_unheard_wrong"] += named is not None
            named = by_voice(scores, settings, calibration, allowed=frozenset(others))
            found["uninvited_wrong"] += named is not None and named != spec.voice
            found["guest_wrong"] += by_voice(unheard, settings, calibration, allowed=frozenset(others)) is not None
            count += 1
    return {key: value / count for key, value in found.items()}


def by_bar(samples: Samples, settings: Settings, regime: str) -> dict[str, float]:
    """Closed set (everyone on file), open set (the speaker has no sample) and the participant-list trials."""
    calibration = calibration_for(regime)
    closed = {"right": 0, "wrong": 0, "none": 0}
    opened = {"wrong": 0, "none": 0}
    for k in range(samples.trials):
        refs = {voice: vectors[k] for voice, vectors in samples.enrols.items()}
        for spec, result in samples.members:
            found = by_voice(scored(result[0], refs, regime), settings, calibration)
            closed["none" if found is None else "right" if found == spec.voice else "wrong"] += 1
            # the person has no sample: one more person who may speak unheard, and one fewer in the cohort
            unheard = scored(result[0], {key: ref for key, ref in refs.items() if key != spec.voice}, regime)
            opened["none" if by_voice(unheard, settings, calibration, unheard=1) is None else "wrong"] += 1
    total = sum(closed.values())
    return {
        "closed_right": closed["right"] / total,
        "closed_wrong": closed["wrong"] / total,
        "open_wrong": opened["wrong"] / total,
        "trials": total,
    } | listed_trials(samples, settings, regime)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.reconset.odds", description=__doc__)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    cast = calibset.calibration_cast()
    todo = calibset.specs(cast, calibrate.SEED, **calibrate.FULL)
    cache = calibrate.ODDS_CACHE
    if cache.is_file():
        results = pickle.loads(cache.read_bytes())
    else:
        results = calibrate.run(todo, args.jobs)
        cache.write_bytes(pickle.dumps(results))
    source = {k: v.source for k, v in cast.items()}
    keep = {k for k in cast if k == min(v for v in cast if source[v] == source[k])}  # one voice per person
    members = [(s, r) for s, r in zip(todo, results, strict=True) if s.kind == "member" and s.voice in keep]
    members = [(s, r) for s, r in members if r[0] is not None]
    enrols: dict[str, list[np.ndarray]] = {}
    for s, r in zip(todo, results, strict=True):
        if s.kind == "enrolment" and s.voice in keep and r[0] is not None:
            enrols.setdefault(s.voice, []).append(r[0])
    trials = min(len(v) for v in enrols.values())
    calibration, base = default(), Settings()
    figures: dict[str, dict[str, float]] = {}
    by_regime = {  # against profiles: pool-B members only, the profiles being made of pool A
        "cosine": Samples(members, enrols, trials),
        "centred": Samples(members, enrols, trials),
        "profiles": Samples([(s, r) for s, r in members if s.pool == "B"], profiles_of(members, trials), trials),
    }
    for regime in REGIMES:
        for bar in BARS:
            named = by_bar(by_regime[regime], replace(base, accept=bar), regime)
            figures[f"accept {bar}" + ("" if regime == "cosine" else f", {regime}")] = named
    vectors = np.array([r[0] for _, r in members])
    between = vectors @ vectors.T
    voices = np.array([s.voice for s, _ in members])
    pools = np.array([s.pool for s, _ in members])
    upper = np.triu(np.ones_like(between, dtype=bool), 1)
    same_mask = upper & (voices[:, None] == voices[None, :]) & (pools[:, None] != pools[None, :])
    different_mask = upper & (voices[:, None] != voices[None, :])
    samples = {voice: found[0] for voice, found in enrols.items()}  # everyone enrolled, as at run time
    mean = cohort.member_centres({str(i): v for i, v in enumerate(vectors)}, samples)
    centre = np.array([mean[str(i)] for i in range(len(vectors))])
    for regime, scores in (("cosine", between), ("centred", between - (centre[:, None] + centre[None, :]) / 2)):
        for bar in (0.95, 0.97, 0.98):
            cosine = calibration_for(regime).member.bar(bar)
            figures[f"links at same_person {bar}" + ("" if regime == "cosine" else f", {regime}")] = {
                "bar_cosine": cosine,
                "different_linked": float(np.mean(scores[different_mask] >= cosine)),
                "same_linked": float(np.mean(scores[same_mask] >= cosine)),
                "pairs": int(different_mask.sum()),
            }
    mixed = {"one": [0, 0], "two": [0, 0]}
    for spec, result in zip(todo, results, strict=True):
        kind = {"member": "one", "two": "two"}.get(spec.kind)
        if kind and result[1] is not None:
            cosine, minority, _ = result[1]
            mixed[kind][0] += 1
            mixed[kind][1] += bool(minority >= MIN_MINORITY and calibration.p_mixed(cosine) >= base.mixed)
    figures["mixed"] = {
        "two_voice_members": mixed["two"][0],
        "two_held_back": mixed["two"][1] / max(1, mixed["two"][0]),
        "one_voice_members": mixed["one"][0],
        "one_held_back": mixed["one"][1] / max(1, mixed["one"][0]),
    }
    for name, values in figures.items():
        print(name, " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
