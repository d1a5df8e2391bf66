"""Centred voice scores (`reconcile.cohort`): a hub voice, like many people's, stops looking like everyone's match;
the evidence carries centred scores only when enough people are on file, and the planner then reads them with
their own calibrated classes."""

from __future__ import annotations

import numpy as np
import pytest

from reconcile import Evidence, Member, Person, plan
from reconcile.calibration import default
from reconcile.cohort import COHORT_MIN, centres, scoring
from reconcile.evidence import Heard, VoiceBook, gather

DIMENSIONS = 16


def unit(vector: np.ndarray) -> np.ndarray:
    return np.asarray(vector / np.linalg.norm(vector))


def voices(count: int, seed: int = 7) -> dict[str, np.ndarray]:
    """`count` distinct people ("p0"...) plus a hub ("hub"): the normalised sum of all of them."""
    rng = np.random.default_rng(seed)
    people = {f"p{i}": unit(rng.standard_normal(DIMENSIONS)) for i in range(count)}
    return people | {"hub": unit(np.sum(list(people.values()), axis=0))}


def test_too_few_enrolment_samples_leave_scores_raw() -> None:
    refs = voices(COHORT_MIN)  # COHORT_MIN people and the hub
    few = dict(list(refs.items())[:COHORT_MIN])
    assert centres(refs, few) is None  # COHORT_MIN samples: each enrolled person has one other too few
    assert centres(refs, refs) is not None  # COHORT_MIN + 1: each has COHORT_MIN others


def test_a_hub_is_centred_down_and_a_distinct_voice_is_not() -> None:
    refs = voices(6)
    centre = centres(refs, refs)
    assert centre is not None
    assert centre["hub"] > max(centre[f"p{i}"] for i in range(6))
    # a member exactly as close (by cosine) to the hub as to p0: centred, p0 is the better match
    member = unit(refs["hub"] + refs["p0"])
    raw_hub, raw_p0 = float(member @ refs["hub"]), float(member @ refs["p0"])
    assert raw_hub == pytest.approx(raw_p0, abs=0.05) or raw_hub > raw_p0
    assert raw_p0 - centre["p0"] > raw_hub - centre["hub"]


def test_each_centre_is_the_mean_cosine_with_everyone_elses_enrolment_sample() -> None:
    refs = voices(6)
    samples = {key: refs[key] for key in ("p0", "p1", "p2", "p3", "p4")}  # p5 and the hub: directory only
    centre = centres(refs, samples)
    assert centre is not None and set(centre) == set(refs)
    for key, ref in refs.items():
        others = [float(ref @ other) for k, other in samples.items() if k != key]
        assert centre[key] == pytest.approx(np.mean(others))


def _book(enrolled: dict[str, np.ndarray], directory: dict[str, np.ndarray]) -> VoiceBook:
    book = VoiceBook(None)
    book.enrolments.update(enrolled)  # as `enrol` leaves them, without an embedder
    for key, vector in (enrolled | directory).items():
        book.add(key, vector.tolist())
    return book


def test_gather_centres_scores_when_enough_people_have_samples_and_says_so() -> None:
    refs = {f"{k}@example.com": v for k, v in voices(6).items()}
    roster = [Person(key.split("@")[0], key) for key in refs]
    members = [Member("c1", "m1", "Speaker 1", None, 0, 10.0, ("hello",))]
    heard = Heard(vectors={"m1": unit(refs["p0@example.com"] + 0.3 * refs["p1@example.com"])})
    (evidence,) = gather(members, roster, heard, _book(refs, {}))
    centre = centres(refs, refs)
    assert evidence.centred == "samples" and centre is not None
    for key, ref in refs.items():
        assert evidence.voice[key] == pytest.approx(float(heard.vectors["m1"] @ ref) - centre[key], abs=1e-4)
    # four samples and three voices from the identity directory: centred by every voice on file ("profiles")
    few = dict(list(refs.items())[:COHORT_MIN])
    (profiled,) = gather(members, roster, heard, _book(few, {k: v for k, v in refs.items() if k not in few}))
    assert profiled.centred == "profiles" and scoring(refs, few) == ("profiles", centre)
    assert profiled.voice == pytest.approx(evidence.voice, abs=1e-4)  # here the voices on file are the same
    # too few voices on file at all: raw cosines
    (raw,) = gather(members, roster, heard, _book(few, {}))
    assert raw.centred == "" and scoring(few, few) == ("", None)
    assert raw.voice == {key: pytest.approx(float(heard.vectors["m1"] @ ref), abs=1e-4) for key, ref in few.items()}


def test_the_planner_reads_centred_scores_with_the_centred_classes() -> None:
    """The same score means different odds on the two scales; the plan's reasons name the scale it read."""
    cal = default()
    centred = cal.centred()
    roster = [Person("John Doe", "john@example.com"), Person("Alice Walker", "alice@example.com")]
    bar = centred.enrolment.bar(0.99)
    assert cal.enrolment(bar) != pytest.approx(centred.enrolment(bar), abs=1e-3)
    scores = {"john@example.com": min(1.0, bar + 0.05), "alice@example.com": -0.3}
    member = Member("c1", "m1", "Speaker 1", None, 0, 20.0, ("hello",))
    result = plan([Evidence(member, voice=scores, centred="samples")], roster)
    assert result.assignments == {"m1": "john@example.com"}
    assert "centred cosine" in result.reasons["m1"]
    profiles = cal.centred("profiles")
    assert profiles.member is cal.member  # members' cosines stay raw against profiles
    assert profiles.enrolment(bar) != pytest.approx(centred.enrolment(bar), abs=1e-4)


def test_gather_centres_two_members_cosine_by_their_likeness_to_everyones_sample() -> None:
    refs = {f"{k}@example.com": v for k, v in voices(6).items()}
    roster = [Person(key.split("@")[0], key) for key in refs]
    members = [Member("c1", m, "Speaker 1", None, s, 10.0, ("hello",)) for m, s in (("m1", 0), ("m2", 1))]
    a, b = (
        unit(refs["p0@example.com"] + 0.5 * refs["hub@example.com"]),
        unit(refs["p0@example.com"] + refs["p2@example.com"]),
    )
    heard = Heard(vectors={"m1": a, "m2": b})
    first, second = gather(members, roster, heard, _book(refs, {}))
    mean = {key: float(np.mean([v @ ref for ref in refs.values()])) for key, v in (("m1", a), ("m2", b))}
    expected = float(a @ b) - (mean["m1"] + mean["m2"]) / 2
    assert first.peers == {"m2": pytest.approx(expected, abs=1e-4)}
    assert second.peers == {"m1": pytest.approx(expected, abs=1e-4)}
    few = dict(list(refs.items())[:COHORT_MIN])
    raw, _ = gather(members, roster, heard, _book(few, {}))
    assert raw.peers == {"m2": pytest.approx(float(a @ b), abs=1e-4)}
    profiled, _ = gather(members, roster, heard, _book(few, {k: v for k, v in refs.items() if k not in few}))
    assert profiled.centred == "profiles" and profiled.peers == raw.peers  # members' cosines stay raw there
