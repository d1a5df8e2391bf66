"""Log lines for events: JSON (one object per line, for cron and machines) or text (for people). Pure formatting.

Levels: error (failed, stuck, blocked, unresolved), warning (lost answers, 429s, retries, timeouts), info
(progress), debug (every poll). `-q` shows warnings and errors, `-v` adds debug.
"""

from __future__ import annotations

import time

import orjson

from batch.events import Event

ERROR = frozenset({"failed", "stuck", "blocked", "unresolved", "reconcile_failed"})
WARNING = frozenset({"rate_limited", "retry_later", "unknown", "not_created", "poll_error", "save_failed", "timed_out"})
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


def as_json(event: Event, *, now: float | None = None) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))
    return orjson.dumps({"time": stamp, "level": level(event), **event.as_dict()}).decode()


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
