"""The run's judgement calls, as pure functions of what was observed (tested as tables in
tests/engine/test_decisions.py). `Flow` asks them and acts on the answer; none of them does I/O.

- which lost create is ours: a create carries a name unique to its intent (`intent_name`), so the listing by
  that name finds exactly our conversation, or nothing yet, or (a server that duplicated it) more than one;
- when a lost answer is settled: new messages that stopped changing between two reads mean the job ran;
  nothing by the end of the settling window means a create never took effect (safe to send again, with the
  same intent name) and an append is undecidable (stuck: a person decides, it is never resent blindly);
- how long that window is: the configured `undecided_after`, plus three times the predicted processing time;
- when a job has waited too long, when failed polls are too many, when 429s for one recording are too many,
  when sends that never took effect are too many; and how long any server-asked pause may be.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from enum import StrEnum

MAX_PAUSE = 300.0  # seconds: the longest a Retry-After may hold submissions or a read (a hostile value is capped)
TAG = "symbl-batch"


class CreateVerdict(StrEnum):
    OURS = "ours"  # exactly one conversation carries the intent's name
    WAIT = "wait"  # none yet; the window is still open (a slow server may still act)
    NOT_CREATED = "not_created"  # none by the end of the window: send again, with the same name
    AMBIGUOUS = "ambiguous"  # more than one: the server duplicated it; a person decides


class AppendVerdict(StrEnum):
    HAPPENED = "happened"  # new messages, unchanged since the previous read: the job ran and completed
    WAIT = "wait"
    UNDECIDED = "undecided"  # the window ended without settled new messages: stuck, never resent blindly


def intent_name(name: str) -> str:
    """The name a create is sent with: the conversation's name and a tag unique to this intent, so that two
    conversations of one name (or a re-run on fresh state) can never be taken for each other."""
    return f"{name} [{TAG} {secrets.token_hex(6)}]"


def lost_create(found: Collection[str], *, window_over: bool) -> CreateVerdict:
    if len(found) == 1:
        return CreateVerdict.OURS
    if len(found) > 1:
        return CreateVerdict.AMBIGUOUS
    return CreateVerdict.NOT_CREATED if window_over else CreateVerdict.WAIT


def lost_append(new: frozenset[str], previous: frozenset[str] | None, *, window_over: bool) -> AppendVerdict:
    """`new`: message ids the conversation has now and had not before the request; `previous`: the same set
    at the read before (None on the first read)."""
    if new and new == previous:
        return AppendVerdict.HAPPENED
    return AppendVerdict.UNDECIDED if window_over else AppendVerdict.WAIT


def settling_window(undecided_after: float, media_seconds: float, speed: float) -> float:
    """Seconds to watch a lost answer before deciding: long enough for a slow server to act and finish."""
    return undecided_after + 3.0 * media_seconds * speed


def job_timed_out(elapsed: float, next_wait: float, job_timeout: float) -> bool:
    """Whether the next poll would come after the job's deadline (the job keeps its id: a later run polls it)."""
    return elapsed + next_wait > job_timeout


def tries_exhausted(attempts: int, allowed: int) -> bool:
    """After `attempts` counted tries (sends that never took effect, failed polls, 429s), give up this run?"""
    return attempts >= allowed


def capped_pause(seconds: float | None, cap: float = MAX_PAUSE) -> float | None:
    """A server-asked pause (Retry-After), bounded: never negative, never longer than `cap`."""
    if seconds is None:
        return None
    return min(max(0.0, seconds), cap)
