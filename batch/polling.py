"""When to ask for a job's status: as soon as it has probably ended, and seldom before. Pure: no clock, no I/O.

Rules:
- until one job of the run has been seen to end, nothing is known about the service's speed: poll at
  `first` x growth^k seconds after the submission (1 s, 1.5 s, 2.3 s, ... up to `cap`);
- then the first poll of a job is at its predicted end (speed x media seconds); a job not ended by then is
  polled again after `nudge` x the prediction, doubling each time (2 %, 4 %, 8 % ... of it, up to `cap`);
- the speed is a quantile tracker: a job that had ended at its first poll at the prediction moves it down a
  little, one that had not moves it up more, so that about `target` of the jobs have ended when first asked
  (most jobs cost one poll and are noticed at most a few per cent late). Its step doubles while the moves
  keep one direction (far from the truth) and halves when they alternate (near it).
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
    step: float = 0.1
    min_step: float = 0.01
    max_step: float = 1.0
    _direction: int = 0

    def predicted(self, media_seconds: float) -> float | None:
        return None if self.speed is None else self.speed * media_seconds

    def wait(self, media_seconds: float, elapsed: float, polls: int, late: int) -> float:
        """Seconds until the next poll of a job submitted `elapsed` seconds ago, polled `polls` times so far,
        `late` of them at or after its predicted end."""
        predicted = self.predicted(media_seconds)
        if predicted is None:
            return min(self.cap, self.first * float(self.growth) ** polls)
        if late == 0 and elapsed < predicted:
            return min(self.cap, predicted - elapsed)
        return min(self.cap, max(self.first * self.nudge, self.nudge * predicted * 2.0 ** max(0, late - 1)))

    def is_late(self, media_seconds: float, elapsed: float) -> bool:
        """Whether a poll now is at or after the predicted end (only those teach the tracker)."""
        predicted = self.predicted(media_seconds)
        return predicted is not None and elapsed >= predicted * 0.999

    def first_answer(self, ended: bool) -> None:
        """The answer to a job's first poll at or after its prediction: move the speed towards the target."""
        if self.speed is None:
            return
        direction = -1 if ended else 1
        if self._direction == direction:
            self.step = min(self.max_step, self.step * 2)
        elif self._direction:
            self.step = max(self.min_step, self.step / 2)
        self._direction = direction
        self.speed *= math.exp(-self.step * (1 - self.target) if ended else self.step * self.target)

    def explored(self, media_seconds: float, elapsed: float) -> None:
        """A job ended while the speed was unknown: it ended within `elapsed` seconds; start from there."""
        if self.speed is None and media_seconds > 0:
            self.speed = elapsed / media_seconds
