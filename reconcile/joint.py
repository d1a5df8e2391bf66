"""Beliefs about who each voice is, decided jointly: two voices of one segment are two people. Pure.

A voice's belief that it is person j, judged alone, counts every other voice of its segment as possibly j too;
but the diarizer separated them, so at most one of them is j. Here each segment's voices are assigned people at
once: an assignment gives each voice a person on file (weight: its odds for them, as `calibration.posterior`
counts them), one of the `unheard` people who may be speaking with no voice on file (weight 1 each, each at most
one voice), or a guest (weight `outsider`; any number of voices may be guests, each a different one); no person
is two voices of one segment. A voice's belief in j is the total weight of the assignments giving it j over the
total of all, and a voice heard in several segments keeps, for each person, the lowest of its segments' beliefs.
Alone in its segment, a voice's belief is exactly `calibration.posterior`'s.

Odds below `NEGLIGIBLE` are counted as a guest's (they are someone else, not worth a branch of their own), and a
segment with more than `LIMIT` assignments to add up is not judged jointly (None: the caller keeps the beliefs of
each voice alone, which are never higher).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

NEGLIGIBLE = 1e-4
LIMIT = 200_000


def beliefs(
    odds: Sequence[Mapping[str, float]],
    segments: Sequence[frozenset[int]],
    *,
    unheard: int,
    outsider: float,
) -> list[dict[str, float]] | None:
    """Per voice (`odds[i]`: person -> odds, heard in `segments[i]`), person -> P(this voice is them)."""
    found: list[dict[str, float]] = [{} for _ in odds]
    for segment in sorted(set().union(*segments)) if segments else []:
        members = [i for i, heard in enumerate(segments) if segment in heard]
        marginals = _segment([odds[i] for i in members], unheard=unheard, outsider=outsider)
        if marginals is None:
            return None
        for i, marginal in zip(members, marginals, strict=True):
            for person in odds[i]:
                p = marginal.get(person, 0.0)
                found[i][person] = min(found[i].get(person, p), p)
    return found


def _segment(odds: Sequence[Mapping[str, float]], *, unheard: int, outsider: float) -> list[dict[str, float]] | None:
    options = []
    size = 1
    for voice in odds:
        kept = [(person, value) for person, value in voice.items() if value >= NEGLIGIBLE]
        guest = outsider + sum(value for value in voice.values() if value < NEGLIGIBLE)
        options.append((kept, guest))
        size *= len(kept) + 2
        if size > LIMIT:
            return None
    weight_of: list[dict[str, float]] = [{} for _ in odds]
    total = 0.0
    chosen: list[str | None] = [None] * len(odds)

    def walk(i: int, weight: float, taken: frozenset[str], unheard_left: int) -> None:
        nonlocal total
        if i == len(odds):
            total += weight
            for k, person in enumerate(chosen):
                if person is not None:
                    weight_of[k][person] = weight_of[k].get(person, 0.0) + weight
            return
        kept, guest = options[i]
        for person, value in kept:
            if person not in taken:
                chosen[i] = person
                walk(i + 1, weight * value, taken | {person}, unheard_left)
        chosen[i] = None
        if unheard_left:
            walk(i + 1, weight * unheard_left, taken, unheard_left - 1)
        walk(i + 1, weight * guest, taken, unheard_left)

    walk(0, 1.0, frozenset(), unheard)
    return [{person: w / total for person, w in weights.items()} for weights in weight_of]
