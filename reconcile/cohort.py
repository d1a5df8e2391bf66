"""Centred voice scores: a member's cosine with a person's voice, less how much that person's voice is like
everyone else's.

Some voices are hubs: they sound a little like many people (in the evaluation set one enrolled voice was the
closest match of most voices without a sample). A raw cosine cannot tell "sounds like X" from "X sounds like
everyone", so a hub's look-alikes hold real matches under the bar and a hub is named for voices that are not
theirs. The remedy is the one speaker verification calls T-normalisation, without the division by the cohort's
spread (measured once on the calibration embeddings, the division and a member-side normalisation separated
the classes less than the shift alone when the speaker has no sample):

    centred(member, X) = cosine(member, X) - mean over the cohort of cosine(X, sample)
    centred(a, b) = cosine(a, b) - (mean over the cohort of cosine(a, sample) + the same for b) / 2

The cohort is the enrolment samples of the people on file (X's own left out), the population the decision is
among, in the form the classes were measured on. With fewer than `COHORT_MIN` others the mean is too noisy;
then, when enough people have a voice on file at all (a roster known mostly from the identity directory), each
voice is centred by its mean cosine with the other voices on file, with classes measured on profiles (means of
a person's member samples) and members' cosines left raw; else scores stay raw cosines. Each kind of score has
its own calibrated classes (`reconcile.calibration`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

COHORT_MIN = 4  # other people with an enrolment sample needed before scores are centred


def centres(references: Mapping[str, np.ndarray], enrolled: Mapping[str, np.ndarray]) -> dict[str, float] | None:
    """Person key -> the mean cosine of their (unit) reference voice with every other person's enrolment sample
    (`enrolled`: key -> unit vector); None when fewer than `COHORT_MIN` others have one. Only enrolment samples
    make the cohort: the classes were measured against clean samples, and a directory profile (cut from meetings,
    averaged over several) is like everyone more than a sample is, which would centre its people too far."""
    if len(enrolled) - 1 < COHORT_MIN:
        return None
    keys = sorted(enrolled)
    cohort = np.array([enrolled[key] for key in keys], dtype=np.float64)
    found = {}
    for key, reference in references.items():
        cosines = [float(c) for other, c in zip(keys, cohort @ reference, strict=True) if other != key]
        found[key] = float(np.mean(cosines))
    return found


def scoring(
    references: Mapping[str, np.ndarray], enrolled: Mapping[str, np.ndarray]
) -> tuple[str, dict[str, float] | None]:
    """Which cohort centres a conversation's scores, and each person's centre: "samples" when more than
    `COHORT_MIN` people have enrolment samples; else "profiles" when more than `COHORT_MIN` people have a voice
    on file (the cohort is then every voice on file, mostly identity-directory profiles); else ("", None), raw
    cosines."""
    centre = centres(references, enrolled)
    if centre is not None:
        return "samples", centre
    centre = centres(references, references)
    return ("profiles", centre) if centre is not None else ("", None)


def member_centres(vectors: Mapping[str, np.ndarray], enrolled: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Member id -> the mean cosine of its (unit) voice with every enrolment sample (its own person's included:
    who it is, is what is being decided)."""
    if not enrolled:
        return dict.fromkeys(vectors, 0.0)
    cohort = np.array(list(enrolled.values()), dtype=np.float64)
    return {key: float(np.mean(cohort @ vector)) for key, vector in vectors.items()}
