"""Voices of one segment judged together (reconcile.joint): at most one of them is any one person."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile import joint
from reconcile.calibration import OUTSIDER, default, posterior

CURVE = default().enrolment
PEOPLE = ["ann", "bob", "cy", "dee"]


def test_a_voice_alone_in_its_segment_is_judged_as_alone() -> None:
    """With no other voice in its segment, the joint belief is exactly calibration.posterior's."""
    odds = {"ann": CURVE.odds(0.9), "bob": CURVE.odds(0.75)}
    (found,) = joint.beliefs([odds], [frozenset({1})], unheard=2, outsider=OUTSIDER) or []
    assert found == pytest.approx(posterior(odds, unheard=2 + OUTSIDER))


def test_the_other_voice_of_the_segment_takes_its_own_look_alike_away() -> None:
    """Ann's voice also sounds a little like Bob; Bob is the other voice of the segment, so it is Ann the more."""
    ann_like = {"ann": CURVE.odds(0.88), "bob": CURVE.odds(0.75)}
    bob_like = {"ann": CURVE.odds(0.75), "bob": CURVE.odds(0.88)}
    alone = posterior(ann_like, unheard=OUTSIDER)["ann"]
    found = joint.beliefs([ann_like, bob_like], [frozenset({0})] * 2, unheard=0, outsider=OUTSIDER)
    assert found is not None and found[0]["ann"] > 0.99 and alone < 0.97  # 0.97: the default bar
    apart = joint.beliefs([ann_like, bob_like], [frozenset({0}), frozenset({1})], unheard=0, outsider=OUTSIDER)
    assert apart is not None and apart[0]["ann"] == pytest.approx(alone)  # in different segments: no help


def test_two_voices_like_one_person_share_the_belief() -> None:
    """Both voices of a segment sound like Ann: neither can be sure, since at most one of them is her."""
    like = {"ann": CURVE.odds(0.9), "bob": CURVE.odds(0.3)}
    found = joint.beliefs([like, like], [frozenset({0})] * 2, unheard=0, outsider=OUTSIDER)
    assert found is not None and found[0]["ann"] + found[1]["ann"] <= 1.0 + 1e-9 and found[0]["ann"] < 0.6


def test_a_voice_heard_in_two_segments_keeps_the_lower_belief() -> None:
    ann_like = {"ann": CURVE.odds(0.88), "bob": CURVE.odds(0.75)}
    bob_like = {"ann": CURVE.odds(0.75), "bob": CURVE.odds(0.88)}
    found = joint.beliefs([ann_like, bob_like], [frozenset({0, 1}), frozenset({0})], unheard=0, outsider=OUTSIDER)
    alone = posterior(ann_like, unheard=OUTSIDER)["ann"]
    assert found is not None and found[0]["ann"] == pytest.approx(alone)  # segment 1 has no Bob to explain


def test_a_segment_too_large_to_add_up_is_not_judged_jointly() -> None:
    many = [dict.fromkeys(PEOPLE, 1.0) for _ in range(12)]
    assert joint.beliefs(many, [frozenset({0})] * 12, unheard=0, outsider=OUTSIDER) is None


odds_of_a_voice = st.dictionaries(st.sampled_from(PEOPLE), st.floats(0.0, 80.0), max_size=4)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(odds_of_a_voice, st.sets(st.integers(0, 2), min_size=1, max_size=2)), min_size=1, max_size=5),
    st.integers(0, 2),
)
def test_beliefs_are_probabilities_and_one_person_is_at_most_one_voice_of_a_segment(
    voices: list[tuple[dict[str, float], set[int]]], unheard: int
) -> None:
    odds = [o for o, _ in voices]
    segments = [frozenset(s) for _, s in voices]
    found = joint.beliefs(odds, segments, unheard=unheard, outsider=OUTSIDER)
    assert found is not None
    for beliefs in found:
        assert all(0.0 <= p <= 1.0 + 1e-9 for p in beliefs.values()) and sum(beliefs.values()) <= 1.0 + 1e-9
    for segment in set().union(*segments):
        here = [found[i] for i, s in enumerate(segments) if segment in s]
        for person in PEOPLE:
            assert sum(b.get(person, 0.0) for b in here) <= 1.0 + 1e-9
