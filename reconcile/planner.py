"""Who is who, decided from evidence: a pure function from (members + evidence + roster) to a Plan.

Rules (a wrong merge cannot be undone, so the defaults are conservative):
- a member that already carries a roster email, or whose name is exactly one roster person's, is that person;
- a self-introduction names a candidate; two different introductions contradict each other;
- voice is decided by rank and margin, never by an absolute threshold: the nearest person counts only when
  they are at least `voice_margin` ahead of the runner-up (a `voice_floor` only rules out silence and noise);
- sources that point at different people send the member to review;
- a member is assigned only when its best candidate reaches `decide_at` and leads the second by `min_gap`;
- within one segment two members are two people, unless their voices are closer to each other than to anyone
  else by `voice_margin` and both point at the same person (the diarizer split one person): then they merge;
- `participants`, when given, restrict the candidates; people outside the roster are never merged into anyone;
- the survivor of a merge is the person's member from the earliest segment (the one already holding the
  email, if any, since the API keeps that one), renamed first; every other member of that person then merges
  into it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconcile.models import Candidate, Evidence, Operation, Person, Plan, ReviewItem

KNOWN, INTRODUCED, VOICE_STRONG, VOICE_WEAK = 1.0, 0.9, 0.85, 0.4


@dataclass(frozen=True, slots=True)
class Settings:
    voice_margin: float = 0.10
    voice_floor: float = 0.50
    decide_at: float = 0.8
    min_gap: float = 0.3
    use_voice: bool = True
    use_introductions: bool = True


def candidates(evidence: Evidence, allowed: set[str], settings: Settings) -> list[Candidate]:
    """Every person this member could be, best first, with the reasons."""
    scores: dict[str, float] = {}
    reasons: dict[str, list[str]] = {}

    def vote(email: str, score: float, reason: str) -> None:
        if email in allowed:
            scores[email] = max(scores.get(email, 0.0), score)
            reasons.setdefault(email, []).append(reason)

    if evidence.known:
        vote(evidence.known, KNOWN, "already carries this identity")
    if settings.use_introductions:
        for email in evidence.introduced:
            vote(email, INTRODUCED if len(evidence.introduced) == 1 else 0.5, "introduced themself")
    if settings.use_voice and evidence.voice:
        ranked = sorted(((s, e) for e, s in evidence.voice.items() if e in allowed), reverse=True)
        complete = allowed <= set(evidence.voice)  # rank means nothing if someone allowed has no voice on file
        for position, (cosine, email) in enumerate(ranked[:3]):
            lead = cosine - (ranked[1][0] if len(ranked) > 1 else 0.0)
            strong = complete and position == 0 and lead >= settings.voice_margin and cosine >= settings.voice_floor
            vote(email, VOICE_STRONG if strong else VOICE_WEAK * max(0.0, cosine), f"voice {cosine:.2f}")
    found = [Candidate(e, round(s, 3), tuple(reasons[e])) for e, s in scores.items()]
    return sorted(found, key=lambda c: (-c.score, c.email))


def _conflicting(evidence: Evidence, allowed: set[str], settings: Settings) -> bool:
    """Strong sources that name different people."""
    strong = set()
    if evidence.known:
        strong.add(evidence.known)
    if settings.use_introductions and len(evidence.introduced) == 1:
        strong.add(evidence.introduced[0])
    if settings.use_introductions and len(evidence.introduced) > 1:
        return True
    if settings.use_voice and len(evidence.voice) > 1 and allowed <= set(evidence.voice):
        ranked = sorted(evidence.voice.items(), key=lambda item: -item[1])
        if ranked[0][1] - ranked[1][1] >= settings.voice_margin and ranked[0][1] >= settings.voice_floor:
            strong.add(ranked[0][0])
    return len(strong) > 1


def _decide(evidence: Evidence, found: list[Candidate], allowed: set[str], settings: Settings) -> str | None:
    if not found or _conflicting(evidence, allowed, settings):
        return None
    best, second = found[0].score, found[1].score if len(found) > 1 else 0.0
    return found[0].email if best >= settings.decide_at and best - second >= settings.min_gap else None


def _split(a: Evidence, b: Evidence, email: str, settings: Settings) -> bool:
    """Two members of one segment that are one person: closer to each other than to anyone else, by the margin."""
    together = a.voice_peers.get(b.member.id)
    if together is None:
        return False
    others = [s for e, s in a.voice.items() if e != email] + [s for e, s in b.voice.items() if e != email]
    return together >= max(others, default=0.0) + settings.voice_margin


def _one_to_one(decided: dict[str, str], by_id: dict[str, Evidence], settings: Settings) -> dict[str, str]:
    """Within a segment, two members may share a person only as a detected split; otherwise both go to review."""
    kept = dict(decided)
    groups: dict[tuple[int, str], list[str]] = {}
    for member_id, email in decided.items():
        groups.setdefault((by_id[member_id].member.segment, email), []).append(member_id)
    for (_, email), ids in groups.items():
        pairs_ok = all(_split(by_id[x], by_id[y], email, settings) for x in ids for y in ids if x < y)
        if len(ids) > 1 and not pairs_ok:
            for member_id in ids:
                kept.pop(member_id)
    return kept


def _operations(decided: dict[str, str], by_id: dict[str, Evidence], people: dict[str, Person]) -> list[Operation]:
    operations = []
    for email in sorted(set(decided.values())):
        members = sorted(
            (by_id[i].member for i, e in decided.items() if e == email),
            key=lambda m: (m.email != email, m.segment, -m.talk_seconds, m.id),
        )
        survivor, person = members[0], people[email]
        if (survivor.name, survivor.email) != (person.name, person.email):
            operations.append(
                Operation("rename", survivor.conversation_id, survivor.id, person.name, email, survivor.id)
            )
        operations += [
            Operation("merge", m.conversation_id, m.id, person.name, email, survivor.id) for m in members[1:]
        ]
    return sorted(operations, key=lambda op: (op.kind != "rename", by_id[op.member_id].member.segment, op.member_id))


def _review(evidence: Evidence, found: list[Candidate]) -> ReviewItem:
    m = evidence.member
    return ReviewItem(
        m.conversation_id, m.id, m.name, m.segment, round(m.talk_seconds, 1), m.texts[:3], tuple(found[:3])
    )


def plan(
    evidence: Sequence[Evidence],
    roster: Sequence[Person],
    participants: Sequence[str] = (),
    settings: Settings | None = None,
    *,
    forced: Mapping[str, str] | None = None,
) -> Plan:
    """The plan for one conversation's members; `forced` (member id -> roster email) are a person's answers."""
    settings = settings or Settings()
    people = {p.email: p for p in roster}
    allowed = set(participants) & set(people) if participants else set(people)
    by_id = {e.member.id: e for e in evidence}
    found = {e.member.id: candidates(e, allowed, settings) for e in evidence}
    decided = {i: email for i, e in by_id.items() if (email := _decide(e, found[i], allowed, settings)) is not None}
    decided = _one_to_one(decided, by_id, settings)
    decided |= {i: e for i, e in (forced or {}).items() if i in by_id and e in people}
    review = tuple(
        _review(by_id[i], found[i])
        for i in sorted(by_id, key=lambda i: (by_id[i].member.segment, i))
        if i not in decided
    )
    notes = tuple(
        f"{by_id[i].member.name} ({i[:8]}) has no voice evidence"
        for i in sorted(by_id)
        if settings.use_voice and not by_id[i].voice
    )
    return Plan(tuple(_operations(decided, by_id, people)), review, decided, notes)
