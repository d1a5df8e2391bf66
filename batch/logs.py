"""Log lines for events: JSON (one object per line, for cron and machines) or text (for people). Pure formatting.

Levels: error (failed, stuck, blocked, unresolved, a failed reconciliation), warning (lost answers, 429s,
retries, timeouts, a reconciliation record that cannot be read), info (progress), debug (every poll). `-q` shows
warnings and errors, `-v` adds debug.
Besides the run's events, a command writes records of its own in the same format: the `summary` of a run, and
why it stopped (`stopped`, `refused`, `locked`): in JSON every line of stderr is one object, whatever ended it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from batch.events import Event

ERROR = frozenset({"failed", "stuck", "blocked", "unresolved", "reconcile_failed"})
WARNING = frozenset(
    {
        "rate_limited",
        "retry_later",
        "unknown",
        "not_created",
        "poll_error",
        "save_failed",
        "timed_out",
        "reconcile_unreadable",
    }
)
DEBUG = frozenset({"polled"})
LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def level(event: Event) -> str:
    if event.event in ERROR:
        return "error"
    if event.event in WARNING:
        return "warning"
    return "debug" if event.event in DEBUG else "info"


def threshold(verbose: int, quiet: int) -> int:
    return LEVELS["debug"] if verbose else LEVELS["warning"] if quiet else LEVELS["info"]


def _utc(now: float | None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))


def as_json(event: Event, *, now: float | None = None) -> str:
    return orjson.dumps({"time": _utc(now), "level": level(event), **event.as_dict()}).decode()


def as_json_record(event: str, level: str, fields: Mapping[str, Any], *, now: float | None = None) -> str:
    """A line of the JSON log that is not a run event: a summary, or why the command stopped."""
    return orjson.dumps({"time": _utc(now), "level": level, "event": event, **fields}).decode()


def as_text_record(event: str, level: str, detail: str, *, now: float | None = None) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(time.time() if now is None else now))
    return f"{stamp} {level:<7} {event} - {detail}"


def as_text(event: Event, *, now: float | None = None) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(time.time() if now is None else now))
    parts = [stamp, f"{level(event):<7}", event.event]
    if event.segment:
        parts.append(event.segment)
    if event.line:
        parts.append(f"(line {event.line})")
    if event.job_id:
        parts.append(f"job {event.job_id[:8]}")
    if event.detail:
        parts.append(f"- {event.detail}")
    return " ".join(parts)
