"""From a cosine to a probability, by measured distributions (`reconcile/calibration.json`).

The file holds, for each comparison reconciliation makes, the mean and spread of the cosine when the two sides
are one person and when they are two: a member's voice against a person's enrolment or directory profile
(`enrolment`), two members' voices (`member`), and the two halves of one member's speech (`consistency`:
`one` voice or `two`). They were measured on a calibration set of voices the evaluation never uses
(`python -m tests.benchmarks.reconset.calibrate` rewrites the file).

Rules:
- the odds that one cosine is one person, not two, are the ratio of the two classes' normal fits (equal
  priors), made monotone (a higher cosine never means lower odds); `Curve` gives them as a probability;
- a decision among alternatives uses all of them, every person who may be speaking equally likely beforehand:
  the posterior that a voice is person j is odds_j / (sum of the odds of everyone with a voice on file + one
  for each person who may be speaking without one + `OUTSIDER` for a guest off the roster) (`posterior`), so
  two alike candidates share the belief instead of each looking certain, and people without a sample keep
  their share;
- the bars people set in `[reconcile]` are these probabilities; `Curve.bar()` gives the cosine a single
  candidate needs for one;
- scores are *centred* when more than `reconcile.cohort.COHORT_MIN` people have enrolment samples: a member's
  cosine with a person's voice less that voice's mean cosine with the others' samples, and two members' cosine
  less the mean of their mean cosines with everyone's samples, so a voice that sounds a little like everyone no
  longer looks like everyone's match; with fewer samples but more than `COHORT_MIN` people with a voice on
  file, a member's cosine with a person's voice is centred by that voice's mean cosine with the other voices on
  file instead (members' cosines stay raw); centred scores have their own measured classes (`enrolment_centred`,
  `member_centred`, `profile_centred`), and `Calibration.centred(cohort)` is the calibration that reads them.
Measured here: the fits cap the odds of one cosine at about 75:1 (P = 0.987): a different person's voice can
score as high as 0.97 against an enrolment (the different-person class is wide), so no bar above that exists.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from reconcile.errors import ReconcileError

FILE = Path(__file__).with_name("calibration.json")
OUTSIDER = 0.25  # prior weight of someone off the roster speaking, against 1 for each listed participant
GRID = np.linspace(-1.0, 1.0, 2001)


@dataclass(frozen=True, slots=True)
class Curve:
    """P(the positive class | cosine), monotone increasing in the cosine."""

    grid: np.ndarray
    probability: np.ndarray

    @classmethod
    def fit(cls, positive: dict[str, Any], negative: dict[str, Any]) -> Curve:
        def log_density(stats: dict[str, Any]) -> np.ndarray:
            mean, sd = float(stats["mean"]), max(float(stats["sd"]), 1e-3)
            return np.asarray(-0.5 * ((GRID - mean) / sd) ** 2 - math.log(sd))

        ratio = np.clip(log_density(negative) - log_density(positive), -700, 700)
        return cls(GRID, np.maximum.accumulate(1.0 / (1.0 + np.exp(ratio))))

    def __call__(self, cosine: float) -> float:
        return float(np.interp(cosine, self.grid, self.probability))

    def odds(self, cosine: float) -> float:
        p = min(self(cosine), 1.0 - 1e-12)
        return p / (1.0 - p)

    def bar(self, probability: float) -> float:
        """The lowest cosine whose probability reaches `probability` (above 1.0: never)."""
        reached = np.flatnonzero(self.probability >= probability)
        return float(self.grid[reached[0]]) if len(reached) else 1.01


@dataclass(frozen=True, slots=True)
class Calibration:
    enrolment: Curve  # a member against a person's reference voice: P(same person)
    member: Curve  # two members: P(same person)
    mixed: Curve  # the halves of one member's speech: P(two voices), increasing as the cosine FALLS
    enrolment_centred: Curve | None = None  # the same for centred scores (None: not measured)
    member_centred: Curve | None = None
    profile_centred: Curve | None = None  # a member against directory profiles, centred by the other profiles
    scale: str = "cosine"  # what the scores of `enrolment` are, as the reasons name them

    def centred(self, cohort: str = "samples") -> Calibration:
        """The calibration that reads scores centred against `cohort` (`reconcile.cohort`): "samples" (member vs
        person and member vs member centred by enrolment samples) or "profiles" (member vs person centred by the
        voices on file; members' cosines stay raw)."""
        curves = (
            (self.enrolment_centred, self.member_centred)
            if cohort == "samples"
            else (self.profile_centred, self.member)
        )
        if curves[0] is None or curves[1] is None:
            raise ReconcileError(f"{FILE}: no centred classes; run python -m tests.benchmarks.reconset.calibrate")
        return replace(
            self,
            enrolment=curves[0],
            member=curves[1],
            enrolment_centred=None,
            member_centred=None,
            profile_centred=None,
            scale="centred cosine",
        )

    def p_enrolment(self, cosine: float) -> float:
        return self.enrolment(cosine)

    def p_member(self, cosine: float) -> float:
        return self.member(cosine)

    def p_mixed(self, cosine: float) -> float:
        return self.mixed(-cosine)


def posterior(odds: dict[str, float], *, unheard: float = 1.0) -> dict[str, float]:
    """Each candidate's probability of being the one, every person equally likely beforehand: `odds` are the
    candidates with a voice on file (their likelihood ratio), `unheard` the weight of everyone who may be speaking
    without one (each counts 1: no evidence for or against them)."""
    total = unheard + sum(odds.values())
    return {key: value / total for key, value in odds.items()}


def _negated(stats: dict[str, Any]) -> dict[str, Any]:
    return {"mean": -float(stats["mean"]), "sd": float(stats["sd"])}


def from_document(document: dict[str, Any]) -> Calibration:
    enrolment, member, consistency = document["enrolment"], document["member"], document["consistency"]
    centred, members_centred = document.get("enrolment_centred"), document.get("member_centred")
    profiles = document.get("profile_centred")
    return Calibration(
        Curve.fit(enrolment["same"], enrolment["different"]),
        Curve.fit(member["same"], member["different"]),
        Curve.fit(_negated(consistency["two"]), _negated(consistency["one"])),
        Curve.fit(centred["same"], centred["different"]) if centred else None,
        Curve.fit(members_centred["same"], members_centred["different"]) if members_centred else None,
        Curve.fit(profiles["same"], profiles["different"]) if profiles else None,
    )


@cache
def default() -> Calibration:
    return from_document(json.loads(FILE.read_text()))
