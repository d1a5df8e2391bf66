"""Who is who in one conversation, decided from evidence: a pure function from members, evidence and roster to a
Plan. A wrong merge cannot be undone on the server, so when in doubt the plan asks, once per voice; it never
guesses.

Rules:
- members are first grouped into voices (`reconcile.voices`): across segments by calibrated voice similarity,
  within a segment only as a detected split of one person;
- a member whose own speech is not one voice (the diarizer merged two people: its windows split into two halves
  unlike each other, probability `mixed`) is never renamed or merged automatically: it is a review entry alone;
- a voice is named from all its members' evidence: an identity a member already carries, self-introductions,
  and its voice against people's enrolment samples and identity-directory profiles (calibrated probability
  `accept`, and a lead of `voice_margin` in cosine over anyone else on file; the probability is judged with the
  other voices of its segments, at most one of which is any one person: `reconcile.joint`; scores that the
  evidence centred, `reconcile.cohort`, are read with the centred classes). It is named only
  when these point at exactly one roster person who may be in the conversation (its `participants`, when listed)
  and nothing says otherwise: a voice on file that is clearly not that person (probability at most `reject`)
  sends it to review;
- two voices named as one person are merged only when they never share a segment and do not sound like two
  different people; otherwise both go to review; and never on voice alone: a voice named only by its likeness to
  a sample is asked about rather than merged into another voice of that person (the likeliest keeps the name
  when every claim is by voice alone), so a guest who sounds like a participant is never merged into them;
- elimination: when the conversation lists its participants, exactly one of them has no voice on file and is not
  yet found, exactly one unresolved voice matches none of the participants' voices on file (and is not likely
  anyone else on file), and every other unresolved voice is more likely a participant on file than not (`LEANS`),
  that voice is them;
- answers from review (`forced`: member id -> email) win; members answered "new" or "skip" (`settled`) are
  neither decided nor asked again; an undecided voice is held (`Plan.held`: all its members, named or not),
  and held members (`asked`) stay that voice until answered, so planning again after applying proposes
  nothing new; its members without an identity are its review question;
- the survivor of a merge is the person's member from the earliest segment (the one already holding the email,
  if any), renamed first; every other member of that person then merges into it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reconcile import joint, voices
from reconcile.calibration import OUTSIDER, Calibration, default, posterior
from reconcile.models import Candidate, Evidence, Operation, Person, Plan, ReviewItem

MIN_MINORITY = 0.2  # a member is mixed only when the smaller half is at least this share of its windows
LEANS = 0.5  # elimination: a voice whose belief in a listed participant on file reaches this is taken as theirs
RUNNER_UP = 0.05  # a review reason names the runner-up person when their belief is at least this


@dataclass(frozen=True, slots=True)
class Settings:
    """`[reconcile]` in the manifest (the schema, `batch.schema.ReconcileIn`, has the same defaults and says what
    each means). Probabilities come from `reconcile/calibration.json`."""

    accept: float = 0.97
    same_person: float = 0.98
    split: float = 0.984
    reject: float = 0.01
    mixed: float = 0.99
    voice_margin: float = 0.05
    elimination: bool = True
    use_voice: bool = True
    use_introductions: bool = True


@dataclass(slots=True)
class _Voice:
    members: tuple[Evidence, ...]
    email: str | None = None
    reason: str = ""
    open: str = ""  # why it goes to review (empty: not decided yet or decided)
    scores: dict[str, float] = field(default_factory=dict)  # person key -> talk-weighted cosine
    given_key: str | None = None  # the key it was held under before
    beliefs: dict[str, float] | None = None  # person key -> P(it is them), judged with its segments' other voices
    basis: frozenset[str] = frozenset()  # the kinds of evidence it was named by ("voice matches", ...)

    @property
    def key(self) -> str:
        return self.given_key or "voice-" + self.members[0].member.id

    @property
    def segments(self) -> set[int]:
        return {e.member.segment for e in self.members}


@dataclass(frozen=True, slots=True)
class _Judge:
    settings: Settings
    calibration: Calibration
    unheard: int = 0  # people who may be speaking with no voice on file
    allowed: frozenset[str] | None = None  # who may be speaking (None: anyone on file)

    def odds(self, scores: Mapping[str, float]) -> dict[str, float]:
        """Person key -> the odds that this voice is them: each allowed person weighs 1 beforehand, anyone else on
        file (a person answered as new, someone on the roster but not listed for this conversation) as much as a
        guest (OUTSIDER)."""
        return {key: self.calibration.enrolment.odds(cosine) * self.prior(key) for key, cosine in scores.items()}

    def prior(self, key: str) -> float:
        return 1.0 if self.allows(key) else OUTSIDER

    def beliefs(self, scores: Mapping[str, float]) -> dict[str, float]:
        """Person key -> P(this voice is them), judged alone, against everyone else who may be speaking."""
        return posterior(self.odds(scores), unheard=self.unheard + OUTSIDER)

    def allows(self, key: str) -> bool:
        return self.allowed is None or key in self.allowed

    def strong(self, scores: Mapping[str, float], beliefs: Mapping[str, float] | None = None) -> str | None:
        """The person this voice is, by voice alone, or None; `beliefs`, when given, are the voice's beliefs
        judged with the other voices of its segments (`reconcile.joint`), else it is judged alone."""
        if not self.settings.use_voice or not scores:
            return None
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        best, cosine = ranked[0]
        lead = cosine - (ranked[1][1] if len(ranked) > 1 else -1.0)
        accepted = (self.beliefs(scores) if beliefs is None else beliefs).get(best, 0.0) >= self.settings.accept
        return best if accepted and lead >= self.settings.voice_margin else None

    def clearly_not(self, scores: Mapping[str, float], key: str) -> bool:
        return key in scores and self.calibration.p_enrolment(scores[key]) <= self.settings.reject

    def identities(self, e: Evidence) -> frozenset[str]:
        found = {e.known} if e.known else set()
        if self.settings.use_introductions:
            found |= set(e.introduced)
        strong = self.strong(e.voice)
        return frozenset(found | ({strong} if strong else set()))

    def mixed(self, e: Evidence) -> bool:
        c = e.consistency
        return (
            c is not None and c.minority >= MIN_MINORITY and self.calibration.p_mixed(c.cosine) >= self.settings.mixed
        )


def _scores(members: Sequence[Evidence]) -> dict[str, float]:
    """Person key -> the voice's cosine with them: members' cosines weighted by talk time."""
    totals: dict[str, float] = {}
    weights: dict[str, float] = {}
    for e in members:
        weight = max(e.member.talk_seconds, 0.1)
        for key, cosine in e.voice.items():
            totals[key] = totals.get(key, 0.0) + weight * cosine
            weights[key] = weights.get(key, 0.0) + weight
    return {key: round(totals[key] / weights[key], 4) for key in totals}


def _name(
    voice: _Voice,
    judge: _Judge,
    allowed: set[str],
    people: Mapping[str, Person],
    excluded: frozenset[str] = frozenset(),
) -> None:
    """Set the voice's email and reason, or why it stays open. `excluded`: people it cannot be (another voice of
    one of its segments is them), left out of the voice's alternatives."""
    known = {e.known for e in voice.members if e.known}
    introduced = {x for e in voice.members for x in e.introduced} if judge.settings.use_introductions else set()
    alternatives = {key: cosine for key, cosine in voice.scores.items() if key not in excluded}
    beliefs = judge.beliefs(alternatives) if excluded else _beliefs(voice, judge)
    strong = judge.strong(alternatives, beliefs)
    sources = {
        "already carries this identity": known,
        "introduced themself": introduced,
        "voice matches": {strong} if strong else set(),
    }
    pointed = set().union(*sources.values())
    if not pointed:
        return
    if len(pointed) > 1:
        voice.open = "the evidence names different people: " + "; ".join(
            f"{source} {', '.join(sorted(found))}" for source, found in sources.items() if found
        )
        return
    (email,) = pointed
    if email not in people:
        voice.open = f"its voice matches {email}, who is not on the roster"
        return
    if email not in allowed:
        voice.open = f"the evidence names {email}, who is not a participant of this conversation"
        return
    if judge.clearly_not(voice.scores, email):
        p = judge.calibration.p_enrolment(voice.scores[email])
        voice.open = f"named as {email}, but the voice on file for {email} is not this voice (P={p:.3f})"
        return
    voice.email = email
    voice.basis = frozenset(source for source, found in sources.items() if email in found)
    belief = beliefs.get(email)
    voice.reason = "; ".join(
        source
        + (
            f" (P={belief:.3f}, {judge.calibration.scale} {voice.scores[email]:.2f})"
            if source == "voice matches"
            else ""
        )
        for source, found in sources.items()
        if email in found
    )


def _one_voice_per_person(named: list[_Voice], judge: _Judge, contenders: Sequence[_Voice] = ()) -> None:
    """Voices named as one person merge only across segments and when they do not sound like two people.
    `contenders` (questions asked before, and answers) count as claims on the person they point at, but are not
    changed. A voice named by its voice alone is never merged into another voice of that person (the grouping did
    not hear them as one): a guest who sounds like a participant would be merged into them for good. It is asked
    instead; when every claim is by voice alone, the likeliest one keeps the name (a rename can be undone)."""
    by_email: dict[str, list[_Voice]] = {}
    for voice in named:
        if voice.email:
            by_email.setdefault(voice.email, []).append(voice)
    for voice in contenders:
        if voice.email:
            by_email.setdefault(voice.email, []).append(voice)
    for email, found in by_email.items():
        if len(found) < 2:
            continue
        segments = [s for v in found for s in v.segments]
        apart = any(
            judge.calibration.p_member(cosine) <= judge.settings.reject
            for v in found
            for w in found
            if v is not w
            for a in v.members
            for b in w.members
            if (cosine := a.peers.get(b.member.id)) is not None
        )
        if len(segments) != len(set(segments)) or apart:
            why = "in one segment" if len(segments) != len(set(segments)) else "that sound like different people"
            for voice in found:
                if voice not in contenders:
                    voice.email, voice.open = None, f"several voices {why} point at {email}"
            continue
        _one_claim_by_voice(email, [v for v in found if v not in contenders], len(found), judge)


def _one_claim_by_voice(email: str, named: list[_Voice], claims: int, judge: _Judge) -> None:
    """Of `claims` voices pointing at `email` (`named` of them decided now), those named by voice alone are asked,
    except the likeliest when no claim rests on anything else."""
    alone = [v for v in named if v.basis == {"voice matches"}]
    if not alone:
        return
    belief = {id(v): _beliefs(v, judge).get(email, 0.0) for v in alone}
    keep = max(alone, key=lambda v: (belief[id(v)], -min(v.segments))) if len(alone) == claims else None
    for voice in alone:
        if voice is not keep:
            p = belief[id(voice)]
            voice.email, voice.basis = None, frozenset()
            voice.open = (
                f"its voice matches {email} (P={p:.3f}), but another voice of this conversation is {email} and the"
                " two were not heard as one voice: a merge cannot be undone, so it is asked"
            )


def _exclusive(found: list[_Voice], judge: _Judge, allowed: set[str], people: Mapping[str, Person]) -> None:
    """Jointly: two voices of one segment are two people, so a voice not named yet cannot be anyone named in one
    of its segments; it is judged again without them, until nothing changes."""
    for _ in range(len(found)):
        changed = False
        for voice in found:
            if voice.email or voice.open:
                continue
            taken = frozenset(
                person
                for other in found
                if other is not voice and other.segments & voice.segments
                for person in ({other.email} if other.email else {e.known for e in other.members if e.known})
                if person
            )
            if taken & set(voice.scores):
                _name(voice, judge, allowed, people, taken)
                changed |= voice.email is not None
        if not changed:
            return


def _eliminate(voices_: list[_Voice], judge: _Judge, allowed: set[str], *, listed: bool, engaged: int) -> None:
    """Only where nobody has asked or answered anything yet (`engaged`: questions and answers on file)."""
    if not (judge.settings.elimination and judge.settings.use_voice and listed) or engaged:
        return
    on_file = {key for v in voices_ for e in v.members for key in e.voice}
    found = {v.email for v in voices_ if v.email} | {e.known for v in voices_ for e in v.members if e.known}
    unknown = sorted(allowed - on_file - found)
    unresolved = [v for v in voices_ if v.email is None and not any(e.member.email for e in v.members)]
    if len(unknown) != 1:
        return
    kinds = [_left(v, judge) for v in unresolved]
    if kinds.count("none") != 1 or "unclear" in kinds:
        return
    voice = unresolved[kinds.index("none")]
    best = max(judge.calibration.p_enrolment(c) for k, c in voice.scores.items() if judge.allows(k))
    voice.email = unknown[0]
    voice.reason = (
        f"elimination: {unknown[0]} is the only listed participant with no voice on file, this voice matches none"
        f" of the participants' voices on file (best P={best:.4f}) and every other voice left sounds like one of them"
    )


def _left(voice: _Voice, judge: _Judge) -> str:
    """What an unresolved voice is, for elimination: "none" (it matches none of the listed participants' voices
    on file, each at most `reject`, and is not likely anyone else on file), "participant" (it is more likely a
    listed participant on file than not), or "unclear" (no voice evidence, mixed, or neither)."""
    if not voice.scores or voice.open:
        return "unclear"
    beliefs = _beliefs(voice, judge)
    listed = [key for key in voice.scores if judge.allows(key)]
    if listed and max(beliefs.get(key, 0.0) for key in listed) >= LEANS:
        return "participant"
    others = [beliefs.get(key, 0.0) for key in voice.scores if not judge.allows(key)]
    if listed and all(judge.clearly_not(voice.scores, key) for key in listed) and max(others, default=0.0) < LEANS:
        return "none"
    return "unclear"


def _beliefs(voice: _Voice, judge: _Judge) -> Mapping[str, float]:
    return voice.beliefs if voice.beliefs is not None else judge.beliefs(voice.scores)


def _jointly(found: Sequence[_Voice], judge: _Judge, mixed: frozenset[str]) -> None:
    """The beliefs of the voices with voice evidence of one voice each, judged together (`reconcile.joint`): two
    of them in one segment are two people. A voice with no voice evidence (too little speech) and a mixed one
    take no part: they are often a piece of someone already heard there, so they say nothing about who the
    others are; they and every voice of a segment too large to add up are judged alone."""
    taking = [v for v in found if v.scores and v.members[0].member.id not in mixed]
    odds = [judge.odds(v.scores) for v in taking]
    judged = joint.beliefs(odds, [frozenset(v.segments) for v in taking], unheard=judge.unheard, outsider=OUTSIDER)
    for voice, beliefs in zip(taking, judged or [], strict=False):
        voice.beliefs = beliefs


def _unnamed(voice: _Voice, judge: _Judge) -> str:
    """Why a voice nothing else decided stays open: how close its voice came, in the terms of the settings."""
    beliefs = _beliefs(voice, judge) if judge.settings.use_voice else {}
    if not beliefs:
        return "no evidence names this voice"
    ranked = sorted(beliefs.items(), key=lambda item: (-item[1], item[0]))
    (best, p), runner_up = ranked[0], ranked[1] if len(ranked) > 1 else None
    said = f"its voice is most like {best} (P={p:.3f}"
    if runner_up is not None and runner_up[1] >= RUNNER_UP:
        said += f"; next {runner_up[0]}, P={runner_up[1]:.3f}"
    if not judge.allows(best):
        return said + f"), and {best} is not a participant of this conversation"
    if p < judge.settings.accept:
        return said + f"), under the bar (accept = {judge.settings.accept:g})"
    return said + f"), but another voice on file is within voice_margin = {judge.settings.voice_margin:g} of it"


def _candidates(voice: _Voice, judge: _Judge, allowed: set[str]) -> tuple[Candidate, ...]:
    beliefs = _beliefs(voice, judge)
    found = []
    for email in sorted(allowed):
        reasons, score = [], 0.0
        if any(e.known == email for e in voice.members):
            reasons.append("already carries this identity")
            score = 1.0
        if any(email in e.introduced for e in voice.members):
            reasons.append("introduced themself")
            score = 1.0
        if email in voice.scores:
            p = beliefs.get(email, 0.0)
            reasons.append(f"voice P={p:.3f} ({judge.calibration.scale} {voice.scores[email]:.2f})")
            score = max(score, p)
        else:
            reasons.append("no voice on file")
        found.append(Candidate(email, round(score, 4), tuple(reasons)))
    return tuple(sorted(found, key=lambda c: (-c.score, c.email)))


def _operations(
    decided: Mapping[str, str], by_id: Mapping[str, Evidence], people: Mapping[str, Person]
) -> list[Operation]:
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


def plan(
    evidence: Sequence[Evidence],
    roster: Sequence[Person],
    participants: Sequence[str] = (),
    settings: Settings | None = None,
    *,
    forced: Mapping[str, str] | None = None,
    settled: frozenset[str] = frozenset(),
    asked: Mapping[str, tuple[str, str]] | None = None,
    calibration: Calibration | None = None,
) -> Plan:
    """The plan for one conversation's members; `forced` (member id -> roster email) are a person's answers,
    `settled` members were answered "new" or "skip" and are left alone, `asked` (member id -> (voice key, reason)) were
    put to review before and stay there, grouped as they were, until answered."""
    people = {p.email: p for p in roster}
    allowed = set(participants) & set(people) if participants else set(people)
    on_file = {key for e in evidence for key in e.voice}
    judge = _Judge(settings or Settings(), _reading(evidence, calibration), len(allowed - on_file), frozenset(allowed))
    forced = {i: e for i, e in (forced or {}).items() if e in people}
    by_id = {e.member.id: e for e in evidence}
    asked = {i: key for i, key in (asked or {}).items() if i in by_id and i not in forced and i not in settled}
    open_ids = [
        e for e in evidence if e.member.id not in forced and e.member.id not in settled and e.member.id not in asked
    ]
    mixed = frozenset(e.member.id for e in open_ids if judge.mixed(e))
    groups = voices.group(
        open_ids,
        judge.calibration.member.odds if judge.settings.use_voice else (lambda _: 0.0),
        judge.identities,
        lambda e, person: judge.clearly_not(e.voice, person),
        same=judge.settings.same_person,
        split=judge.settings.split,
        alone=mixed,
    )
    found = [_Voice(tuple(by_id[i] for i in g)) for g in groups]
    for voice in found:
        voice.scores = _scores(voice.members)
    if judge.settings.use_voice:
        _jointly(found, judge, mixed)
    for voice in found:
        if voice.members[0].member.id in mixed:
            c = voice.members[0].consistency
            voice.open = (
                f"its speech sounds like more than one voice (halves cosine {c.cosine:.2f}, smaller half"
                f" {c.minority:.0%}): the diarizer may have merged two people"
                if c
                else "mixed"
            )
            continue
        _name(voice, judge, allowed, people)
    _exclusive(found, judge, allowed, people)
    earlier = []
    for key, _why in dict.fromkeys(asked.values()):
        voice = _Voice(tuple(by_id[i] for i in by_id if i in asked and asked[i][0] == key), given_key=key)
        voice.scores = _scores(voice.members)
        _name(voice, judge, allowed, people)  # the person it points at, as a claim only
        earlier.append(voice)
    answered = [  # a person's answers are claims too: a voice in one segment with an answered one is not them
        _Voice(tuple(by_id[i] for i, e in forced.items() if e == email and i in by_id), email=email)
        for email in sorted(set(forced.values()))
    ]
    _one_voice_per_person(found, judge, [*earlier, *(v for v in answered if v.members)])
    _eliminate(found, judge, allowed, listed=bool(participants), engaged=len(asked) + len(forced))
    for voice, (_, why) in zip(earlier, dict.fromkeys(asked.values()), strict=True):
        voice.email, voice.open = None, why
    found += earlier
    decided = {e.member.id: v.email for v in found if v.email for e in v.members}
    reasons = {e.member.id: v.reason for v in found if v.email for e in v.members}
    for member_id, email in forced.items():
        if member_id in by_id:
            decided[member_id], reasons[member_id] = email, "answered in review"
    review: list[ReviewItem] = []
    held: dict[str, tuple[str, str]] = {}
    for voice in found:  # an undecided voice is held as it is; its members without an identity are one question
        if voice.email is not None:
            continue
        why = voice.open or _unnamed(voice, judge)
        held |= {e.member.id: (voice.key, why) for e in voice.members}
        reasons |= {e.member.id: why for e in voice.members if e.member.email}
        unnamed = tuple(e.member for e in voice.members if not e.member.email)
        if unnamed:
            candidates = _candidates(voice, judge, allowed)
            review.append(ReviewItem(unnamed[0].conversation_id, voice.key, unnamed, why, candidates))
    notes = tuple(
        f"{by_id[i].member.name} ({i[:8]}) has no voice evidence"
        for i in sorted(by_id)
        if judge.settings.use_voice and not by_id[i].voice and not by_id[i].peers
    )
    return Plan(tuple(_operations(decided, by_id, people)), tuple(review), decided, reasons, notes, held)


def _reading(evidence: Sequence[Evidence], calibration: Calibration | None) -> Calibration:
    """The calibration that reads this evidence's scores: one `gather` centres all of a conversation's or none."""
    cohorts, base = {e.centred for e in evidence if e.centred}, calibration or default()
    return base.centred(cohorts.pop()) if cohorts else base


def by_voice(
    scores: Mapping[str, float],
    settings: Settings | None = None,
    calibration: Calibration | None = None,
    *,
    unheard: int = 0,
    allowed: frozenset[str] | None = None,
) -> str | None:
    """The person a voice is named as by its voice alone (person key -> cosine with their voice on file; `unheard`
    people may be speaking with none; `allowed`, the conversation's listed participants, None: anyone on file),
    or None: the planner's rule, for measuring it (reconset/odds.py)."""
    return _Judge(settings or Settings(), calibration or default(), unheard, allowed).strong(scores)
