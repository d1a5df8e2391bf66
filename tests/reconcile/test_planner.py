"""The reconciliation planner: table-driven cases and safety properties (hypothesis), no event loop, no API.

Cosines are placed relative to the calibrated bars (reconcile/calibration.json), so the cases say what they
mean whatever the measured distributions are: HIGH clears `accept`/`same_person`, LOW is below `reject`.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile import Consistency, Evidence, Member, Person, Settings, plan
from reconcile.calibration import default

ROSTER = [
    Person("John Doe", "john@example.com"),
    Person("Alice Walker", "alice@example.com"),
    Person("May Lin", "may@example.com"),
    Person("Raj Patel", "raj@example.com"),
]
JOHN, ALICE, MAY, RAJ = (p.email for p in ROSTER)
CAL, DEFAULTS = default(), Settings()
HIGH = min(1.0, max(CAL.enrolment.bar(DEFAULTS.accept), CAL.member.bar(DEFAULTS.same_person)) + 0.03)
SPLIT = min(1.0, CAL.member.bar(DEFAULTS.split) + 0.01)
LOW = min(CAL.enrolment.bar(0.001), CAL.member.bar(0.001)) - 0.1
MIDDLE = (CAL.enrolment.bar(0.3) + CAL.enrolment.bar(0.7)) / 2
ONE_VOICE = Consistency(0.95, 0.3, 20)
TWO_VOICES = Consistency(LOW - 0.3, 0.4, 20)


def member(member_id: str, segment: int = 0, name: str = "Speaker 1", email: str | None = None) -> Member:
    return Member("c1", member_id, name, email, segment, 10.0, ("hello",))


def on_file(best: str, score: float = HIGH, others: float = LOW) -> dict[str, float]:
    return {p.email: (score if p.email == best else others) for p in ROSTER}


def peers(**cosines: float) -> dict[str, float]:
    return dict(cosines)


def review_ids(result: object) -> list[list[str]]:
    return [[m.id for m in item.members] for item in result.review]  # type: ignore[attr-defined]


def test_known_email_and_exact_roster_name_decide() -> None:
    """A member already carrying a roster email, or named exactly as one roster person, is that person."""
    result = plan(
        [
            Evidence(member("a", email=JOHN, name="John Doe"), known=JOHN),
            Evidence(member("b", name="Alice Walker"), known=ALICE),
        ],
        ROSTER,
    )
    assert result.assignments == {"a": JOHN, "b": ALICE}
    assert [(op.kind, op.member_id, op.email) for op in result.operations] == [("rename", "b", ALICE)]


def test_a_self_introduction_decides_and_contradictions_go_to_review() -> None:
    result = plan([Evidence(member("a"), introduced=(MAY,)), Evidence(member("b"), introduced=(JOHN, ALICE))], ROSTER)
    assert result.assignments == {"a": MAY}
    assert review_ids(result) == [["b"]] and "different people" in result.review[0].reason


def test_a_strong_voice_match_is_named_even_when_others_have_no_sample() -> None:
    """The case users reported: 0.96 against an enrolled person, 0.51 for the next, two people without samples."""
    result = plan([Evidence(member("a"), voice={JOHN: 0.96, ALICE: 0.51})], ROSTER)
    assert result.assignments == {"a": JOHN}
    assert "voice matches" in result.reasons["a"]


def test_a_narrow_lead_or_a_middling_match_goes_to_review() -> None:
    narrow = Evidence(member("a"), voice={JOHN: HIGH, ALICE: HIGH - 0.01})
    middling = Evidence(member("b", segment=1), voice={JOHN: MIDDLE, ALICE: LOW})
    result = plan([narrow, middling], ROSTER)
    assert result.assignments == {}
    assert sorted(review_ids(result)) == [["a"], ["b"]]
    why = {item.members[0].id: item.reason for item in result.review}  # how close each came, in the settings' terms
    assert why["a"].startswith(f"its voice is most like {JOHN} (P=") and f"; next {ALICE}, P=" in why["a"]
    assert why["b"].startswith(f"its voice is most like {JOHN} (P=") and "under the bar (accept = 0.97)" in why["b"]


def test_two_voices_of_one_segment_are_named_together_when_each_explains_the_other() -> None:
    """Each voice sounds most like one person and a little like the other; judged alone neither is sure enough
    (P = 0.95), but the diarizer heard two people, so together each is its own (P = 0.99)."""
    a = Evidence(member("a"), voice={JOHN: 0.88, ALICE: 0.75, MAY: LOW, RAJ: LOW})
    b = Evidence(member("b", name="Speaker 2"), voice={ALICE: 0.88, JOHN: 0.75, MAY: LOW, RAJ: LOW})
    assert plan([a], ROSTER).assignments == {}  # alone: asked
    result = plan([a, b], ROSTER)
    assert result.assignments == {"a": JOHN, "b": ALICE} and not result.review
    assert "P=0.99" in result.reasons["a"]


def test_an_introduction_against_the_voice_on_file_goes_to_review() -> None:
    """The sales call: a member introduces itself as Kenji while Kenji's enrolment says it is not Kenji."""
    result = plan([Evidence(member("a"), introduced=(JOHN,), voice={JOHN: LOW, ALICE: LOW})], ROSTER)
    assert result.assignments == {} and "is not this voice" in result.review[0].reason


def test_an_introduction_and_a_voice_for_different_people_go_to_review() -> None:
    result = plan([Evidence(member("a"), introduced=(JOHN,), voice=on_file(ALICE))], ROSTER)
    assert result.assignments == {} and "different people" in result.review[0].reason


def test_a_mixed_member_is_never_named_or_merged() -> None:
    """Its own speech is two voices: even a perfect introduction does not name it."""
    mixed = Evidence(member("a"), introduced=(JOHN,), voice=on_file(JOHN), consistency=TWO_VOICES)
    twin = Evidence(member("b", segment=1), voice=on_file(JOHN), peers=peers(a=HIGH), consistency=ONE_VOICE)
    result = plan([mixed, twin], ROSTER)
    assert "a" not in result.assignments and result.assignments == {"b": JOHN}
    assert review_ids(result) == [["a"]] and "more than one voice" in result.review[0].reason
    assert all("a" not in (op.member_id, op.survivor_id) for op in result.operations)


def test_members_of_one_voice_across_segments_become_one_question() -> None:
    """Nobody enrolled: two segments' members with one voice are one review entry, with every candidate."""
    a = Evidence(member("a"), peers=peers(b=HIGH, c=LOW))
    b = Evidence(member("b", segment=1), peers=peers(a=HIGH, c=LOW))
    c = Evidence(member("c", segment=1), peers=peers(a=LOW, b=LOW))
    result = plan([a, b, c], ROSTER, participants=[JOHN, ALICE])
    assert sorted(review_ids(result)) == [["a", "b"], ["c"]]
    assert {cand.email for cand in result.review[0].candidates} == {JOHN, ALICE}


def test_one_named_member_names_its_voice_in_other_segments() -> None:
    a = Evidence(member("a", email=JOHN, name="John Doe"), known=JOHN, peers=peers(b=HIGH))
    b = Evidence(member("b", segment=1, name="Speaker 2"), peers=peers(a=HIGH))
    result = plan([a, b], ROSTER)
    assert [(op.kind, op.member_id, op.survivor_id) for op in result.operations] == [("merge", "b", "a")]


def test_two_members_of_one_segment_are_two_people_unless_a_detected_split() -> None:
    alike = SPLIT if SPLIT <= 1.0 else 1.0
    apart = Evidence(member("a"), voice=on_file(JOHN), peers=peers(b=LOW))
    other = Evidence(member("b"), voice=on_file(JOHN), peers=peers(a=LOW))
    assert plan([apart, other], ROSTER).assignments == {}
    split_a = Evidence(member("a"), peers=peers(b=alike), introduced=(JOHN,))
    split_b = Evidence(member("b"), peers=peers(a=alike))
    result = plan([split_a, split_b], ROSTER)
    if CAL.p_member(alike) >= DEFAULTS.split:
        assert result.assignments == {"a": JOHN, "b": JOHN}
    else:  # the calibration never reaches the split bar: a split is never detected, both stay apart
        assert "b" not in result.assignments


def test_elimination_names_the_one_participant_without_a_sample() -> None:
    """John and Alice enrolled and found; May has no sample; the one voice left matches nobody on file: May."""
    john = Evidence(member("a"), voice={JOHN: HIGH, ALICE: LOW}, peers=peers(b=LOW, c=LOW))
    alice = Evidence(member("b"), voice={ALICE: HIGH, JOHN: LOW}, peers=peers(a=LOW, c=LOW))
    may = Evidence(member("c"), voice={JOHN: LOW, ALICE: LOW}, peers=peers(a=LOW, b=LOW))
    result = plan([john, alice, may], ROSTER, participants=[JOHN, ALICE, MAY])
    assert result.assignments == {"a": JOHN, "b": ALICE, "c": MAY}
    assert result.reasons["c"].startswith("elimination")
    # no participants listed: anyone on the roster (or outside it) could be speaking, so no elimination
    assert "c" not in plan([john, alice, may], ROSTER).assignments
    # two participants without a sample: nothing to eliminate
    assert "c" not in plan([john, alice, may], ROSTER, participants=[JOHN, ALICE, MAY, RAJ]).assignments


def test_elimination_needs_exactly_one_unresolved_voice() -> None:
    john = Evidence(member("a"), voice={JOHN: HIGH, ALICE: LOW}, peers=peers(b=LOW, c=LOW))
    left1 = Evidence(member("b"), voice={JOHN: LOW, ALICE: LOW}, peers=peers(a=LOW, c=LOW))
    left2 = Evidence(member("c"), voice={JOHN: LOW, ALICE: LOW}, peers=peers(a=LOW, b=LOW))
    result = plan([john, left1, left2], ROSTER, participants=[JOHN, ALICE, MAY])
    assert result.assignments == {"a": JOHN}


LEANING = CAL.enrolment.bar(0.9)  # one cosine at P = 0.9: more likely this participant than not, under `accept`


def test_elimination_needs_the_other_unresolved_voices_to_lean_to_participants_on_file() -> None:
    """John and Alice have samples, May has none. John's voice is not sure enough to be named, but it is more
    likely John than not; the one voice that matches neither sample is May. Without that lean it could be May
    too, so nothing is eliminated."""
    john = Evidence(member("a"), voice={JOHN: LEANING, ALICE: LOW}, peers=peers(b=LOW))
    may = Evidence(member("b"), voice={JOHN: LOW, ALICE: LOW}, peers=peers(a=LOW))
    result = plan([john, may], ROSTER, participants=[JOHN, ALICE, MAY])
    assert result.assignments == {"b": MAY}  # John's voice stays a question: it was not named
    assert result.reasons["b"].startswith("elimination") and "every other voice left" in result.reasons["b"]
    unsure = Evidence(member("a"), voice={JOHN: MIDDLE, ALICE: MIDDLE}, peers=peers(b=LOW))
    assert "b" not in plan([unsure, may], ROSTER, participants=[JOHN, ALICE, MAY]).assignments


def test_a_voice_likely_someone_on_file_but_not_listed_is_not_eliminated() -> None:
    """Raj is on file but not listed: a voice that matches none of the participants but sounds like Raj is more
    likely Raj (uninvited) than May, so it is asked about."""
    john = Evidence(member("a"), voice={JOHN: HIGH, ALICE: LOW, RAJ: LOW}, peers=peers(b=LOW))
    raj_like = Evidence(member("b"), voice={JOHN: LOW, ALICE: LOW, RAJ: HIGH}, peers=peers(a=LOW))
    result = plan([john, raj_like], ROSTER, participants=[JOHN, ALICE, MAY])
    assert result.assignments == {"a": JOHN} and review_ids(result) == [["b"]]


def test_a_voice_that_matches_a_person_answered_as_new_is_not_eliminated() -> None:
    john = Evidence(member("a"), voice={JOHN: HIGH, "new:zoe": LOW}, peers=peers(b=LOW))
    guest = Evidence(member("b"), voice={JOHN: LOW, "new:zoe": HIGH}, peers=peers(a=LOW))
    result = plan([john, guest], ROSTER, participants=[JOHN, MAY])
    assert result.assignments == {"a": JOHN} and review_ids(result) == [["b"]]  # asked, never eliminated as May


def test_answers_win_and_settled_members_are_not_asked_again() -> None:
    a, b = Evidence(member("a"), introduced=(JOHN,)), Evidence(member("b", segment=1))
    result = plan([a, b], ROSTER, forced={"a": ALICE}, settled=frozenset({"b"}))
    assert result.assignments == {"a": ALICE} and result.review == ()


def test_a_question_asked_stays_the_same_question() -> None:
    a = Evidence(member("a", email=JOHN, name="John Doe"), known=JOHN, peers=peers(b=HIGH))
    b = Evidence(member("b", segment=1), peers=peers(a=HIGH))
    result = plan([a, b], ROSTER, asked={"b": ("voice-b", "why")})
    assert result.operations == () and review_ids(result) == [["b"]] and result.review[0].reason == "why"


def test_two_voices_named_by_voice_alone_are_not_merged() -> None:
    """A guest who sounds like John's sample must not be merged into John for good: two voices the grouping did
    not hear as one, each named John by voice alone, are not merged; the likelier keeps the name, the other is
    asked. Heard as one voice, they merge."""
    a = Evidence(member("a"), voice=on_file(JOHN), peers=peers(b=MIDDLE))
    b = Evidence(member("b", segment=1), voice=on_file(JOHN, score=HIGH - 0.005), peers=peers(a=MIDDLE))
    result = plan([a, b], ROSTER)
    assert result.assignments == {"a": JOHN} and review_ids(result) == [["b"]]
    assert [op.kind for op in result.operations] == ["rename"]
    assert "not heard as one voice" in result.review[0].reason and result.review[0].candidates[0].email == JOHN
    one = plan([replace(a, peers=peers(b=HIGH)), replace(b, peers=peers(a=HIGH))], ROSTER)
    assert [(op.kind, op.member_id) for op in one.operations] == [("rename", "a"), ("merge", "b")]


def test_a_voice_named_by_voice_alone_is_not_merged_into_an_introduced_one() -> None:
    a = Evidence(member("a"), introduced=(JOHN,), peers=peers(b=MIDDLE))
    b = Evidence(member("b", segment=1), voice=on_file(JOHN), peers=peers(a=MIDDLE))
    result = plan([a, b], ROSTER)
    assert result.assignments == {"a": JOHN} and review_ids(result) == [["b"]]
    both = replace(b, introduced=(JOHN,))  # introduced too: the same person by their own words, merged
    assert [op.kind for op in plan([a, both], ROSTER).operations] == ["rename", "merge"]


# ----------------------------------------------------------------------------------------------- properties

EMAILS = [p.email for p in ROSTER]
cosine = st.sampled_from([LOW, MIDDLE, HIGH - 0.03, HIGH, SPLIT, 1.0]) | st.floats(-1.0, 1.0)


def drawn_member(draw: st.DrawFn, member_id: str, email: str | None = None) -> Member:
    """A member in one of three segments with any talk time."""
    return Member("c1", member_id, "Speaker 1", email, draw(st.integers(0, 2)), draw(st.floats(0, 60)), ())


def symmetric(found: list[Evidence]) -> None:
    """Peers are symmetric: copy each drawn cosine to the other side."""
    for e in found:
        for other in found:
            if other.member.id in e.peers:
                other.peers[e.member.id] = e.peers[other.member.id]


@st.composite
def conversations(draw: st.DrawFn) -> tuple[list[Evidence], list[str]]:
    count = draw(st.integers(1, 6))
    ids = [f"m{i}" for i in range(count)]
    found = []
    for i, member_id in enumerate(ids):
        email = draw(st.sampled_from([None, None, None, *EMAILS]))
        m = drawn_member(draw, member_id, email)
        voice = draw(st.dictionaries(st.sampled_from([*EMAILS, "new:zoe"]), cosine, max_size=4))
        mixed = draw(st.sampled_from([None, ONE_VOICE, TWO_VOICES]))
        found.append(
            Evidence(
                m,
                known=email,
                introduced=tuple(draw(st.lists(st.sampled_from(EMAILS), max_size=2, unique=True))),
                voice=voice,
                peers={o: draw(cosine) for o in ids[:i]},
                consistency=mixed,
            )
        )
    symmetric(found)
    participants = draw(st.sampled_from([[], EMAILS[:2], EMAILS[:3], EMAILS]))
    return found, participants


@settings(max_examples=400, deadline=None)
@given(conversations())
def test_safety_rules_hold_for_any_evidence(case: tuple[list[Evidence], list[str]]) -> None:
    evidence, participants = case
    result = plan(evidence, ROSTER, participants)
    by_id = {e.member.id: e for e in evidence}
    allowed = set(participants) or set(EMAILS)
    for member_id, email in result.assignments.items():
        e = by_id[member_id]
        assert email in allowed  # only people who may be in the conversation
        assert e.known in (None, email)  # a member carrying an identity is never someone else
        assert set(e.introduced) <= {email}  # nor one that introduced itself as someone else
        assert not (e.consistency is TWO_VOICES and e.consistency.minority >= 0.2)  # mixed: never decided
    for op in result.operations:
        if op.kind != "merge":
            continue
        a, b = by_id[op.member_id], by_id[op.survivor_id]
        assert a.member.email in (None, op.email) and b.member.email in (None, op.email)
        if a.member.segment == b.member.segment:  # one segment: only a detected split
            assert CAL.p_member(a.peers.get(b.member.id, -1.0)) >= DEFAULTS.split
    for item in result.review:  # one question per voice, every allowed participant a candidate
        assert {c.email for c in item.candidates} == allowed
    asked = [m.id for item in result.review for m in item.members]
    assert len(asked) == len(set(asked)) and not set(asked) & set(result.assignments)


@settings(max_examples=300, deadline=None)
@given(conversations())
def test_planning_again_after_applying_proposes_nothing_new(case: tuple[list[Evidence], list[str]]) -> None:
    """Apply the plan as the server would (renamed members carry the email, merged ones are gone, voices put to
    review are remembered as asked): planning again proposes no operation and asks the same questions."""
    evidence, participants = case
    first = plan(evidence, ROSTER, participants)
    gone = {op.member_id for op in first.operations if op.kind == "merge"}
    renamed = {op.member_id: op for op in first.operations if op.kind == "rename"}
    after = []
    for e in evidence:
        if e.member.id in gone:
            continue
        m = e.member
        if m.id in renamed:
            op = renamed[m.id]
            m = Member(m.conversation_id, m.id, op.name, op.email, m.segment, m.talk_seconds, m.texts)
        known = m.email if m.email in EMAILS else None
        kept = {o: c for o, c in e.peers.items() if o not in gone}
        after.append(Evidence(m, known, e.introduced, e.voice, kept, e.consistency))
    asked = first.held
    second = plan(after, ROSTER, participants, asked=asked)
    assert second.operations == (), (first.operations, second.operations)
    assert sorted(review_ids(second)) == sorted(review_ids(first))


@st.composite
def heard_only(draw: st.DrawFn) -> tuple[list[Evidence], list[str]]:
    """Members with nothing but voices: each sounds much like one person on file, peers anything."""
    count = draw(st.integers(2, 5))
    ids = [f"m{i}" for i in range(count)]
    found = []
    for i, member_id in enumerate(ids):
        m = drawn_member(draw, member_id)
        like = draw(st.sampled_from(EMAILS[:2]))
        voice = on_file(like, score=draw(st.sampled_from([HIGH, HIGH + 0.01, 1.0, MIDDLE])))
        found.append(Evidence(m, voice=voice, peers={o: draw(cosine) for o in ids[:i]}))
    symmetric(found)
    return found, draw(st.sampled_from([[], EMAILS[:2], EMAILS[:3]]))


@settings(max_examples=300, deadline=None)
@given(heard_only())
def test_by_voice_alone_only_members_heard_as_one_voice_merge(case: tuple[list[Evidence], list[str]]) -> None:
    """With no identity carried and no introduction, every merge joins two members whose own voices are one
    person at the grouping's bar: a look-alike of someone on file is never merged into them."""
    evidence, participants = case
    by_id = {e.member.id: e for e in evidence}
    for op in plan(evidence, ROSTER, participants).operations:
        if op.kind == "merge":
            cosine = by_id[op.member_id].peers.get(op.survivor_id, -1.0)
            assert CAL.p_member(cosine) >= DEFAULTS.same_person


def test_a_voice_in_the_segment_of_an_answered_one_is_not_that_person() -> None:
    """A person answered that member a is John; member b of the same segment also sounds like John's sample:
    b is not merged into John (two people of one segment), it is asked about."""
    a = Evidence(member("a"), peers=peers(b=LOW))
    b = Evidence(member("b"), voice=on_file(JOHN), peers=peers(a=LOW))
    result = plan([a, b], ROSTER, forced={"a": JOHN})
    assert result.assignments == {"a": JOHN} and review_ids(result) == [["b"]]


def test_the_manifest_schema_and_the_planner_have_the_same_defaults() -> None:
    from dataclasses import asdict  # noqa: PLC0415

    from batch.schema import ReconcileIn  # noqa: PLC0415

    assert asdict(Settings()) == ReconcileIn().model_dump()
