"""Grouping one conversation's members into voices: which members, across its segments, are one person. Pure.

Rules (a wrong link becomes a wrong merge, so linking is strict):
- two members of different segments are linked only when the calibrated probability that they are one person
  reaches `same`, judged against every member of the other's segment (a member is at most one of them, or
  none), from both sides; and nothing says otherwise: no two different identities (emails, introductions, or
  strong matches to different people's voices on file), and neither's voice clearly not the other's person;
- two members of one segment are two people (the diarizer separated them), unless their voices are so alike
  that the diarizer must have split one person (probability `split`, stricter than `same_person`);
- groups join by complete linkage: every member of one must be linked to every member of the other, so one
  look-alike pair never chains two people together;
- members with no voice evidence, and members whose own speech is not one voice, stay alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from reconcile.models import Evidence

Identities = Callable[[Evidence], frozenset[str]]
Doubts = Callable[[Evidence, str], bool]  # (member, person): the member's voice is clearly not that person's


def _among(a: Evidence, b: Evidence, segment: Sequence[Evidence], odds: Callable[[float], float]) -> float:
    """P(a is b) against every other member of b's segment and against none of them."""
    found = {c.member.id: odds(cosine) for c in segment if (cosine := a.peers.get(c.member.id)) is not None}
    return found.get(b.member.id, 0.0) / (1.0 + sum(found.values()))


def linked(
    a: Evidence,
    b: Evidence,
    by_segment: Mapping[int, Sequence[Evidence]],
    *,
    odds: Callable[[float], float],
    identities: Identities,
    doubts: Doubts,
    same: float,
    split: float,
) -> float | None:
    """The probability that `a` and `b` are one person when it clears its bar and nothing contradicts it."""
    cosine = a.peers.get(b.member.id)
    if cosine is None:
        return None
    if a.member.segment == b.member.segment:
        probability, bar = odds(cosine) / (1.0 + odds(cosine)), split
    else:
        from_a = _among(a, b, by_segment[b.member.segment], odds)
        probability, bar = min(from_a, _among(b, a, by_segment[a.member.segment], odds)), same
    ours, theirs = identities(a), identities(b)
    if probability < bar or (ours and theirs and ours != theirs):
        return None
    if any(doubts(b, person) for person in ours) or any(doubts(a, person) for person in theirs):
        return None
    if a.member.email and b.member.email and a.member.email != b.member.email:
        return None
    return probability


def group(
    evidence: Sequence[Evidence],
    odds: Callable[[float], float],
    identities: Identities,
    doubts: Doubts,
    *,
    same: float,
    split: float,
    alone: frozenset[str] = frozenset(),
) -> list[tuple[str, ...]]:
    """Member ids grouped into voices, each group in the order of `evidence`; `alone` are never grouped."""
    order = {e.member.id: i for i, e in enumerate(evidence)}
    by_segment: dict[int, list[Evidence]] = {}
    for e in evidence:
        by_segment.setdefault(e.member.segment, []).append(e)
    links: dict[tuple[str, str], float] = {}
    for a in evidence:
        for b in evidence:
            if order[a.member.id] < order[b.member.id] and not {a.member.id, b.member.id} & alone:
                found = linked(
                    a, b, by_segment, odds=odds, identities=identities, doubts=doubts, same=same, split=split
                )
                if found is not None:
                    links[a.member.id, b.member.id] = found
    groups: list[list[str]] = [[e.member.id] for e in evidence]
    while True:
        best: tuple[float, int, int] | None = None
        for i, g in enumerate(groups):
            for j in range(i + 1, len(groups)):
                weakest = _weakest(g, groups[j], links, order)
                if weakest is not None and (best is None or weakest > best[0]):
                    best = (weakest, i, j)
        if best is None:
            break
        _, i, j = best
        groups[i] = sorted(groups[i] + groups[j], key=order.__getitem__)
        del groups[j]
    return [tuple(g) for g in groups]


def _weakest(
    g: list[str], h: list[str], links: Mapping[tuple[str, str], float], order: Mapping[str, int]
) -> float | None:
    """The weakest link between every member of g and every member of h, or None when any pair is not linked."""
    weakest = 1.0
    for a in g:
        for b in h:
            key = (a, b) if order[a] < order[b] else (b, a)
            if key not in links:
                return None
            weakest = min(weakest, links[key])
    return weakest
