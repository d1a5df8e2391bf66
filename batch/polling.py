"""When to ask for a job's status: as soon as it has probably ended, and seldom before. Pure: no clock, no I/O.

Rules:
- until one job of the run has been seen to end, nothing is known about the service's speed: poll at
  `first` x growth^k seconds after the submission (1 s, 1.5 s, 2.3 s, ... up to `cap`);
- then the first poll of a job is at its predicted end (speed x media seconds, however far away: the wait is
  not cut into polls); a job not ended by then is polled again after `nudge` x the prediction, doubling each
  time (2 %, 4 %, 8 % ... of it, up to `cap`);
- the speed is a quantile tracker: a job that had ended when first asked moves it down a little, one that had
  not moves it up more, so that about `target` of the jobs have ended when first asked (most jobs cost one
  poll and are noticed a few per cent late);
- every answer also bounds the speed: a job found ended after t seconds took at most t (the speed falls to
  t / media at once), a late job found ended between two polls took about their midpoint (it rises to that at
  once);
- after `streak` jobs in a row had ended when first asked, the prediction may be far too long: a job is first
  asked at half of it (one such probe at a time), until one has not ended by then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class PollPlan:
    first: float = 1.0
    growth: float = 1.5
    cap: float = 30.0
    nudge: float = 0.02
    target: float = 0.8
    speed: float | None = None  # processing seconds per media second, once a job has been seen to end
    step: float = 0.02
    streak: int = 10
    _ended_in_a_row: int = 0
    _probe_out: bool = False  # a job is being asked early; the next probe waits for its (or any) first answer

    def predicted(self, media_seconds: float) -> float | None:
        return None if self.speed is None else self.speed * media_seconds

    @property
    def probing(self) -> bool:
        return self._ended_in_a_row >= self.streak

    def wait(self, media_seconds: float, elapsed: float, polls: int, late: int) -> float:
        """Seconds until the next poll of a job submitted `elapsed` seconds ago, polled `polls` times so far,
        `late` of them at or after its predicted end. Asked once per poll (it may hand out the probe)."""
        predicted = self.predicted(media_seconds)
        if predicted is None:
            return min(self.cap, self.first * float(self.growth) ** polls)
        if polls == 0 and self.probing and not self._probe_out:
            self._probe_out = True  # one job at a time: with many slots, every new job would pay a poll
            predicted /= 2
        if late == 0 and elapsed < max(predicted, self.first):
            return max(predicted, self.first) - elapsed
        return min(self.cap, max(self.first * self.nudge, self.nudge * predicted * 2.0 ** max(0, late - 1)))

    def is_late(self, media_seconds: float, elapsed: float) -> bool:
        """Whether a poll now is at or after the predicted end."""
        predicted = self.predicted(media_seconds)
        return predicted is not None and elapsed >= predicted * 0.999

    def first_answer(self, media_seconds: float, elapsed: float, ended: bool) -> None:
        """The answer to a job's first poll at or after its prediction, or the first that found it ended."""
        self._probe_out = False
        if self.speed is None or media_seconds <= 0:
            return
        if ended:
            self._ended_in_a_row += 1
            self.speed = min(self.speed * math.exp(-self.step * (1 - self.target)), elapsed / media_seconds)
        else:
            self._ended_in_a_row = 0
            self.speed *= math.exp(self.step * self.target)

    def ended(self, media_seconds: float, between: tuple[float, float], late: int) -> None:
        """A job was found ended by a poll at `between[1]` seconds, the previous poll at `between[0]` having
        found it running; `late` polls were at or after its prediction."""
        if media_seconds <= 0:
            return
        midpoint = sum(between) / 2 / media_seconds
        if self.speed is None:
            self.speed = midpoint
        elif late > 1:  # it overran the prediction: it took about the midpoint
            self.speed = max(self.speed, midpoint)
