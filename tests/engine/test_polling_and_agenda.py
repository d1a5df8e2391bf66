"""The parts that make the engine scale and poll cheaply: the incremental planner gives the same answers as the
whole-table one; the poll plan finds a job's end with few requests and little delay from any starting guess
(pure code, simulated services); a state transition is one committed write with its history."""

from __future__ import annotations

import random
import sqlite3
import statistics
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batch.lifecycle import Row, Status
from batch.models import Segment
from batch.planner import Agenda, blocked, ready
from batch.polling import PollPlan
from batch.store import Store

STATUSES = [Status.PENDING, Status.SUBMITTED, Status.SAVED, Status.FAILED, Status.STUCK]


def _segment(conv: str, index: int, duration: float) -> Segment:
    return Segment(f"{conv}/{index + 1}", conv, index, "audio", "x.wav", None, {}, None, 1, duration)


def _row(segment: Segment, status: Status) -> Row:
    return Row(segment.key, segment.conversation, segment.index, "fp", status, None, None, {}, [], 0, None)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.lists(st.integers(1, 4), min_size=1, max_size=8))
def test_the_agenda_answers_what_the_whole_table_planner_answers(seed: int, shape: list[int]) -> None:
    """After any sequence of status changes and busy keys, `best` is the first of `ready` minus the busy keys,
    and `update` reports exactly the blocked segments of the changed conversations (and only of those)."""
    rng = random.Random(seed)
    conversations = [[_segment(f"c{c}", i, rng.uniform(1, 100)) for i in range(n)] for c, n in enumerate(shape)]
    segments = [s for conv in conversations for s in conv]
    rows = {s.key: _row(s, Status.PENDING) for s in segments}
    agenda, busy = Agenda(conversations), set[str]()
    assert agenda.update(rows, rows, busy) == []
    started = Agenda(conversations)  # the run's way: every conversation at once, sorted into arrays, then changes
    assert started.update_all(rows, busy) == []
    for _ in range(40):
        changed = {rng.choice(segments).key for _ in range(rng.randint(1, 3))}
        for key in changed:
            rows[key] = _row(next(s for s in segments if s.key == key), rng.choice(STATUSES))
        toggled = rng.choice(segments).key
        busy ^= {toggled}
        touched = [conv for conv in conversations if any(s.key in changed | {toggled} for s in conv)]
        expected_blocked = {s.key for s in blocked(touched, rows, busy)}  # the runner moves them out of `pending`
        newly = {s.key for s in agenda.update(changed | {toggled}, rows, busy)}
        assert newly == expected_blocked
        assert {s.key for s in started.update(changed | {toggled}, rows, busy)} == expected_blocked
        expected = [s for s in ready(conversations, rows) if s.key not in busy]
        best = agenda.best()
        assert (best.key if best else None) == (expected[0].key if expected else None)
        assert started.best() == best
        assert [s.key for s in started.upcoming(3)] == [s.key for s in expected[:3]]
        if best is not None and rng.random() < 0.5:  # started: it leaves the agenda until a change returns it
            agenda.take(best)
            started.take(best)
            busy.add(best.key)


def _simulate(plan: PollPlan, truth: float, jobs: int, jitter: float, rng: random.Random) -> list[tuple[int, float]]:
    """Poll `jobs` jobs one after another on a service taking truth x media seconds (± jitter); return, per job,
    the status requests made and the detection delay as a fraction of the job's duration."""
    outcomes = []
    for _ in range(jobs):
        media = rng.uniform(10, 600)
        actual = truth * media * rng.uniform(1 - jitter, 1 + jitter)
        elapsed, polls, late, previous = 0.0, 0, 0, 0.0
        taught = False
        while True:
            elapsed += plan.wait(media, elapsed, polls, late)
            at_prediction = plan.is_late(media, elapsed)
            polls, late = polls + 1, late + at_prediction
            ended = elapsed >= actual
            if not taught and (at_prediction or ended):
                plan.first_answer(media, elapsed, ended)
                taught = True
            if ended:
                plan.ended(media, (previous, elapsed), late)
                outcomes.append((polls, (elapsed - actual) / actual))
                break
            previous = elapsed
    return outcomes


def test_polling_finds_the_end_with_few_requests_from_any_starting_guess() -> None:
    """Whether the speed starts unknown, 50x too high or 20x too low, after a warm-up of 100 jobs the median job
    is noticed within 2 % of its duration on a steady service (6 % when job times vary by ±5 %), with a median
    of one status request and at most 3 at the 95th percentile; waits longer than `cap` are not cut into polls."""
    for jitter, allowed in ((0.0, 0.02), (0.05, 0.06)):
        for start in (None, 0.1 * 50, 0.1 / 20):
            plan = PollPlan(first=1.0, cap=30.0, speed=start)  # many predictions are longer than the cap
            outcomes = _simulate(plan, truth=0.1, jobs=400, jitter=jitter, rng=random.Random(7))[100:]
            polls = sorted(p for p, _ in outcomes)
            delay = statistics.median(d for _, d in outcomes)
            assert delay <= allowed, (jitter, start, delay)
            assert statistics.median(polls) == 1 and polls[int(0.95 * len(polls))] <= 3, (jitter, start, polls[-9:])
            assert plan.speed is not None and 0.095 < plan.speed < 0.11


def test_until_a_job_ends_polls_back_off_and_later_ones_aim_at_the_prediction() -> None:
    """Unknown speed: poll_min x 1.5^k. Known: the first wait is the remaining prediction, then 2 %, 4 %, 8 %."""
    plan = PollPlan(first=1.0, growth=1.5, cap=30.0)
    assert [plan.wait(100, 0, k, 0) for k in range(4)] == [1.0, 1.5, 2.25, 3.375]
    plan.ended(100, (10.0, 30.0), 0)
    assert plan.speed == 0.2
    assert plan.wait(100, 5.0, 0, 0) == 15.0
    assert [round(plan.wait(100, 20.0, 1, late), 3) for late in (1, 2, 3)] == [0.4, 0.8, 1.6]
    assert plan.wait(10_000, 5000.0, 3, 20) == 30.0  # never more than poll_cap between polls


def test_every_transition_is_one_committed_write_with_its_history(tmp_path: Path) -> None:
    """A move is one UPDATE (its history row written by a trigger in the same statement), visible to another
    connection at once; a batch is all or nothing; a move without a reason keeps the last one (history records
    each reason once, when it is given)."""
    path = tmp_path / "state.sqlite"
    with Store(path) as store:
        store.insert("a/1", "a", 0, "fp")
        store.move("a/1", Status.SUBMITTING, evidence={"known": []})
        store.move("a/1", Status.PENDING, error="429: no job slot")
        store.move("a/1", Status.SUBMITTING, evidence={"known": ["x"]})
        reader = sqlite3.connect(path)
        history = reader.execute("SELECT status, detail FROM history WHERE key='a/1' ORDER BY seq").fetchall()
        assert history == [
            ("pending", None),
            ("submitting", None),
            ("pending", "429: no job slot"),
            ("submitting", None),
        ]
        assert reader.execute("SELECT status, error, evidence FROM segments").fetchall() == [
            ("submitting", "429: no job slot", '{"known": ["x"]}')
        ]
        assert store.row("a/1").error == "429: no job slot" and store.row("a/1").evidence == {"known": ["x"]}

        def interrupted_batch() -> None:
            with store.batched():
                store.insert("b/1", "b", 0, "fp")
                raise RuntimeError("interrupted")

        with pytest.raises(RuntimeError):
            interrupted_batch()
        assert "b/1" not in store.rows() and reader.execute("SELECT COUNT(*) FROM segments").fetchone() == (1,)
        reader.close()


def test_a_saved_row_is_kept_small_in_memory_and_read_whole_from_the_state(tmp_path: Path) -> None:
    """Memory keeps a saved row's status, ids and message count, not its message ids or evidence (a big run does
    not grow with what is done); `row(key)` reads it whole from the file, in this run and the next."""
    path = tmp_path / "state.sqlite"
    with Store(path) as store:
        store.insert("a/1", "a", 0, "fp")
        store.move("a/1", Status.SUBMITTING, evidence={"intent": "a [symbl-batch 1]"})
        store.move("a/1", Status.SUBMITTED, job_id="J", conversation_id="C")
        store.move("a/1", Status.FINISHED)
        whole = store.move("a/1", Status.SAVED, message_ids=["m1", "m2"])
        assert whole.message_ids == ["m1", "m2"] and whole.evidence == {"intent": "a [symbl-batch 1]"}
        _kept_small_read_whole(store)
    with Store(path) as store:  # the next run's
        _kept_small_read_whole(store)


def _kept_small_read_whole(store: Store) -> None:
    kept = store.rows()["a/1"]
    assert kept.settled and len(kept.message_ids) == 2 and not kept.evidence
    assert (kept.status, kept.job_id, kept.conversation_id, kept.fingerprint) == (Status.SAVED, "J", "C", "fp")
    with pytest.raises(LookupError, match=r"Store\.row"):
        list(kept.message_ids)
    again = store.row("a/1")
    assert (again.message_ids, again.evidence) == (["m1", "m2"], {"intent": "a [symbl-batch 1]"})
    assert not again.settled
