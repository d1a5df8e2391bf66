"""The slot controller: how many jobs may run at once. Pure: the runner feeds it events and the clock's time.

Rules:
- it starts at the configured ceiling and never goes above it;
- a 429 proves the account is full at the number of jobs we hold: the ceiling drops multiplicatively
  (times `decrease`), but never below the jobs we hold (they were accepted), nor below 1; the recording is
  requeued, and submissions pause for a full-jitter backoff (or that call's Retry-After);
- after `probe_after` seconds in which every slot was busy and no 429 came, the ceiling rises by 1;
- jobs adopted from an earlier run occupy slots like any other;
- Retry-After only delays the next submission; it never moves the ceiling.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Decision:
    """A change of the ceiling or a pause, for the logs."""

    event: str
    ceiling: int
    in_use: int
    pause: float = 0.0


@dataclass(slots=True)
class SlotController:
    maximum: int
    decrease: float = 0.5
    probe_after: float = 30.0
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    rng: random.Random = field(default_factory=random.Random)
    ceiling: float = 0.0
    in_use: int = 0
    not_before: float = 0.0
    proven: int = 0  # the most jobs we have held at once with every submission accepted
    _busy_since: float | None = None
    _consecutive_429: int = 0

    def __post_init__(self) -> None:
        if self.maximum < 1:
            raise ValueError("the concurrency ceiling must be at least 1")
        self.ceiling = float(self.maximum)

    @property
    def limit(self) -> int:
        return max(1, math.floor(self.ceiling))

    def can_start(self, now: float) -> bool:
        return self.in_use < self.limit and now >= self.not_before

    def probing(self) -> bool:
        """True when one more job would exceed what the account has proven to accept."""
        return self.in_use + 1 > self.proven

    def wait_hint(self, now: float) -> float:
        """Seconds until a start could be allowed by time alone (0 when only a free slot is missing)."""
        return max(0.0, self.not_before - now)

    def started(self, now: float) -> None:
        """A submission is about to be sent (or a job was adopted): it holds a slot until `released`."""
        self.in_use += 1
        self._note_busy(now)

    def accepted(self, now: float) -> None:
        self._consecutive_429 = 0
        self.proven = max(self.proven, self.in_use)
        self._note_busy(now)

    def released(self, now: float) -> None:
        """A job ended: the account has room again, so a 429 pause ends here too."""
        self.in_use = max(0, self.in_use - 1)
        self.not_before = min(self.not_before, now)
        self._note_busy(now)

    def rejected(self, now: float, retry_after: float | None) -> Decision:
        """The submission that held a slot got 429: lower the ceiling, free the slot, pause."""
        self.in_use = max(0, self.in_use - 1)
        self.proven = min(self.proven, self.in_use)
        self.ceiling = max(1.0, float(self.in_use), self.ceiling * self.decrease)
        if now >= self.not_before:  # 429s of one burst, answered inside the same pause, count once
            self._consecutive_429 += 1
        if retry_after is not None:
            pause = retry_after
        else:
            pause = self.rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (self._consecutive_429 - 1)))
        self.not_before = max(self.not_before, now + pause)
        self._busy_since = None
        return Decision("429: ceiling lowered", self.limit, self.in_use, pause)

    def pause(self, now: float, seconds: float) -> None:
        """Hold submissions for a while without moving the ceiling (a failed read before a submit)."""
        self.not_before = max(self.not_before, now + seconds)

    def tick(self, now: float) -> Decision | None:
        """Raise the ceiling by one after a sustained busy period without 429s."""
        self._note_busy(now)
        if self._busy_since is None or now - self._busy_since < self.probe_after or self.limit >= self.maximum:
            return None
        self.ceiling = min(float(self.maximum), math.floor(self.ceiling) + 1.0)
        self._busy_since = now
        return Decision("sustained full use without 429: ceiling raised", self.limit, self.in_use)

    def _note_busy(self, now: float) -> None:
        if self.in_use >= self.limit:
            if self._busy_since is None:
                self._busy_since = now
        else:
            self._busy_since = None


class Lease:
    """One job slot held by one segment: taken when made, given back exactly once — `release` (the job ended or
    nothing was sent) or `rejected` (429) — however the segment's work ends (a `finally` calls `release`)."""

    def __init__(self, slots: SlotController, clock: Callable[[], float], wake: Callable[[], None]) -> None:
        self._slots, self._clock, self._wake = slots, clock, wake
        self._held = True
        slots.started(clock())

    @property
    def held(self) -> bool:
        return self._held

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots.released(self._clock())
            self._wake()

    def rejected(self, retry_after: float | None) -> Decision:
        """The submission got 429: the slot goes back with the ceiling lowered and submissions paused."""
        assert self._held, "a lease is given back once"
        self._held = False
        decision = self._slots.rejected(self._clock(), retry_after)
        self._wake()
        return decision
