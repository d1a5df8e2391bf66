"""The run's judgement calls (batch.decisions), as tables: what was observed in, what to do out."""

from __future__ import annotations

import pytest

from batch import decisions
from batch.decisions import AppendVerdict, CreateVerdict


@pytest.mark.parametrize(
    ("found", "window_over", "verdict"),
    [
        ([], False, CreateVerdict.WAIT),  # a slow server may still act: keep listing
        ([], True, CreateVerdict.NOT_CREATED),  # nothing by the end of the window: send again, same name
        (["c1"], False, CreateVerdict.OURS),
        (["c1"], True, CreateVerdict.OURS),
        (["c1", "c2"], False, CreateVerdict.AMBIGUOUS),  # the server duplicated it: a person decides
    ],
)
def test_which_lost_create_is_ours(found: list[str], window_over: bool, verdict: CreateVerdict) -> None:
    assert decisions.lost_create(found, window_over=window_over) is verdict


@pytest.mark.parametrize(
    ("new", "previous", "window_over", "verdict"),
    [
        (set(), None, False, AppendVerdict.WAIT),
        ({"m1"}, None, False, AppendVerdict.WAIT),  # new messages, but maybe still arriving
        ({"m1"}, {"m1"}, False, AppendVerdict.HAPPENED),  # settled: the job ran and completed
        ({"m1", "m2"}, {"m1"}, False, AppendVerdict.WAIT),  # still changing
        ({"m1"}, {"m1"}, True, AppendVerdict.HAPPENED),
        (set(), None, True, AppendVerdict.UNDECIDED),  # nothing in the window: stuck, never resent blindly
        ({"m1", "m2"}, {"m1"}, True, AppendVerdict.UNDECIDED),
    ],
)
def test_when_a_lost_append_is_settled(
    new: set[str], previous: set[str] | None, window_over: bool, verdict: AppendVerdict
) -> None:
    seen = None if previous is None else frozenset(previous)
    assert decisions.lost_append(frozenset(new), seen, window_over=window_over) is verdict


@pytest.mark.parametrize(
    ("asked", "cap", "pause"),
    [(None, 300.0, None), (-5.0, 300.0, 0.0), (3.0, 300.0, 3.0), (100_000_000.0, 300.0, 300.0), (9.0, 0.5, 0.5)],
)
def test_a_server_asked_pause_is_bounded(asked: float | None, cap: float, pause: float | None) -> None:
    assert decisions.capped_pause(asked, cap) == pause


@pytest.mark.parametrize(
    ("elapsed", "wait", "timeout", "over"), [(0, 10, 100, False), (95, 10, 100, True), (100, 0, 100, False)]
)
def test_job_timeout(elapsed: float, wait: float, timeout: float, over: bool) -> None:
    assert decisions.job_timed_out(elapsed, wait, timeout) is over


def test_budgets_and_windows() -> None:
    assert [decisions.tries_exhausted(n, 3) for n in (1, 2, 3, 4)] == [False, False, True, True]
    assert decisions.settling_window(600.0, 100.0, 0.1) == pytest.approx(630.0)


def test_intent_names_are_unique_and_keep_the_conversation_name() -> None:
    names = {decisions.intent_name("Weekly sync") for _ in range(1000)}
    assert len(names) == 1000
    assert all(n.startswith("Weekly sync [symbl-batch ") and n.endswith("]") for n in names)
