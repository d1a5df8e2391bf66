"""The reconciliation planner: table-driven cases and properties, no event loop, no API."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reconcile import Evidence, Member, Person, Settings, plan

ROSTER = [
    Person("John Doe", "john@example.com"),
    Person("Alice Walker", "alice@example.com"),
    Person("May Lin", "may@example.com"),
]
JOHN, ALICE, MAY = (p.email for p in ROSTER)


def member(member_id: str, segment: int = 0, name: str = "Speaker 1", email: str | None = None) -> Member:
    return Member("c1", member_id, name, email, segment, 10.0, ("hello",))


def voice(best: str, score: float = 0.9, others: float = 0.5) -> dict[str, float]:
    return {p.email: (score if p.email == best else others) for p in ROSTER}


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
    """One introduction names the person; two different introductions send the member to review."""
    result = plan([Evidence(member("a"), introduced=(MAY,)), Evidence(member("b"), introduced=(JOHN, ALICE))], ROSTER)
    assert result.assignments == {"a": MAY}
    assert [item.member_id for item in result.review] == ["b"]


def test_voice_decides_by_margin_not_by_level() -> None:
    """A clear lead decides even at a modest level; a narrow lead does not, however high."""
    clear = Evidence(member("a"), voice=voice(ALICE, 0.62, 0.45))
    narrow = Evidence(member("b", segment=1), voice={JOHN: 0.95, ALICE: 0.90, MAY: 0.2})
    result = plan([clear, narrow], ROSTER)
    assert result.assignments == {"a": ALICE} and [i.member_id for i in result.review] == ["b"]


def test_voice_needs_a_reference_for_every_candidate() -> None:
    """If someone who could be speaking has no voice on file, the ranking proves nothing: review."""
    result = plan([Evidence(member("a"), voice={JOHN: 0.9, ALICE: 0.4})], ROSTER)
    assert result.assignments == {} and result.review[0].candidates[0].email == JOHN


def test_sources_that_disagree_go_to_review() -> None:
    """An introduction says Alice, the voice clearly says May: a person decides."""
    result = plan([Evidence(member("a"), introduced=(ALICE,), voice=voice(MAY))], ROSTER)
    assert result.assignments == {} and len(result.review) == 1


def test_two_members_of_one_segment_are_two_people_unless_their_voices_say_split() -> None:
    """Both point at John: without split evidence both go to review; when they sound alike, they merge."""
    a, b = member("a"), member("b")
    apart = [
        Evidence(a, voice=voice(JOHN), voice_peers={"b": 0.3}),
        Evidence(b, voice=voice(JOHN), voice_peers={"a": 0.3}),
    ]
    assert plan(apart, ROSTER).assignments == {}
    alike = [
        Evidence(a, voice=voice(JOHN), voice_peers={"b": 0.95}),
        Evidence(b, voice=voice(JOHN), voice_peers={"a": 0.95}),
    ]
    result = plan(alike, ROSTER)
    assert result.assignments == {"a": JOHN, "b": JOHN}
    assert [op.kind for op in result.operations] == ["rename", "merge"]


def test_the_survivor_is_the_earliest_segment_and_is_renamed_first() -> None:
    """Across appends: the first segment's member survives; later ones merge into it, after its rename."""
    result = plan(
        [
            Evidence(member("late", segment=2), introduced=(JOHN,)),
            Evidence(member("early", segment=0), introduced=(JOHN,)),
            Evidence(member("mid", segment=1), voice=voice(JOHN)),
        ],
        ROSTER,
    )
    ops = [(op.kind, op.member_id, op.survivor_id) for op in result.operations]
    assert ops == [("rename", "early", "early"), ("merge", "mid", "early"), ("merge", "late", "early")]


def test_participants_restrict_the_candidates_and_strangers_stay_unmerged() -> None:
    """Only listed participants can be chosen; a voice with no roster match is never merged into anyone."""
    result = plan([Evidence(member("a"), introduced=(MAY,))], ROSTER, participants=[JOHN, ALICE])
    assert result.assignments == {} and result.review[0].candidates == ()
    assert result.operations == ()


def test_voice_and_introductions_can_be_switched_off() -> None:
    """Settings decide which evidence counts (the accuracy suite uses voice alone)."""
    evidence = [Evidence(member("a"), introduced=(MAY,), voice=voice(MAY))]
    assert plan(evidence, ROSTER, settings=Settings(use_voice=False)).assignments == {"a": MAY}
    assert plan(evidence, ROSTER, settings=Settings(use_introductions=False)).assignments == {"a": MAY}
    assert plan(evidence, ROSTER, settings=Settings(use_voice=False, use_introductions=False)).assignments == {}


EMAILS = st.sampled_from([JOHN, ALICE, MAY])
evidence_lists = st.lists(
    st.builds(
        lambda i, seg, intro, scores, peers: (i, seg, intro, scores, peers),
        st.integers(0, 5),
        st.integers(0, 2),
        st.lists(EMAILS, max_size=2, unique=True),
        st.dictionaries(EMAILS, st.floats(0, 1), max_size=3),
        st.floats(0, 1),
    ),
    max_size=6,
    unique_by=lambda t: t[0],
)


def _build(items: list[tuple[int, int, list[str], dict[str, float], float]]) -> list[Evidence]:
    ids = [f"m{i}" for i, *_ in items]
    return [
        Evidence(
            member(f"m{i}", seg),
            introduced=tuple(intro),
            voice=scores,
            voice_peers={o: peers for o in ids if o != f"m{i}"},
        )
        for i, seg, intro, scores, peers in items
    ]


@given(evidence_lists)
def test_plans_are_deterministic_and_complete(items: list[tuple[int, int, list[str], dict[str, float], float]]) -> None:
    """The same evidence gives the same plan; every member is either assigned or listed for review."""
    evidence = _build(items)
    first, second = plan(evidence, ROSTER), plan(list(reversed(evidence)), ROSTER)
    assert first.assignments == second.assignments and set(first.operations) == set(second.operations)
    assert set(first.assignments) | {i.member_id for i in first.review} == {e.member.id for e in evidence}


@given(evidence_lists)
def test_never_merges_two_members_of_one_segment_that_the_evidence_separates(
    items: list[tuple[int, int, list[str], dict[str, float], float]],
) -> None:
    """Two members of one segment share a person only if their voices are closer to each other than to others."""
    evidence = _build(items)
    result = plan(evidence, ROSTER)
    by_id = {e.member.id: e for e in evidence}
    for a, email in result.assignments.items():
        for b, other in result.assignments.items():
            if a < b and email == other and by_id[a].member.segment == by_id[b].member.segment:
                together = by_id[a].voice_peers[b]
                rivals = [s for ev in (by_id[a], by_id[b]) for e, s in ev.voice.items() if e != email]
                assert together >= max(rivals, default=0.0) + 0.1
    for op in result.operations:
        assert result.assignments[op.member_id] == result.assignments[op.survivor_id] == op.email
