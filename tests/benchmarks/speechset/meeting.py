"""Long meetings composed from phrases.toml: an opening, introductions, then agenda blocks until the build says
the meeting is long enough, then a closing.

Pure and seeded: `Composer(meeting, cast, phrases)` yields the same lines for the same inputs. The talk walks
`NEXT_MOVE`, a table of which move may follow which (a question addressed to someone is answered by that person),
and never repeats a sentence while a fresh one can be drawn.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from tests.benchmarks.speechset.scene import Line, Meeting, Voice

# move -> (next move, weight); "ask" hands the turn to the person it names.
NEXT_MOVE: dict[str, tuple[tuple[str, float], ...]] = {
    "agenda": (("ask", 0.5), ("statement", 0.3), ("question", 0.2)),
    "ask": (("answer", 1.0),),
    "answer": (("agree", 0.2), ("statement", 0.25), ("ask", 0.25), ("action", 0.3)),
    "statement": (("agree", 0.3), ("question", 0.2), ("statement", 0.2), ("action", 0.3)),
    "question": (("answer", 0.6), ("statement", 0.4)),
    "agree": (("action", 0.5), ("ask", 0.3), ("statement", 0.2)),
    "action": (("agree", 0.3), ("ask", 0.3), ("statement", 0.2), ("action", 0.2)),
}
BLOCK_MOVES = (5, 11)  # moves per agenda block, between the agenda line and the follow-up
RETRIES = 30


class Composer:
    """Lines of one meeting; `block()` gives the next agenda item, `opening()` and `closing()` the edges."""

    def __init__(self, meeting: Meeting, cast: Mapping[str, Voice], phrases: Mapping[str, Any]) -> None:
        self._speakers = meeting.speakers
        self._names = {key: cast[key].name for key in meeting.speakers}
        self._slots: Mapping[str, Sequence[str]] = phrases["slots"]
        self._moves: Mapping[str, Sequence[str]] = phrases["moves"]
        self._rng = np.random.default_rng(meeting.seed)
        self._teams = {key: self._pick(self._slots["team"]) for key in meeting.speakers}
        self._said: set[str] = set()

    def opening(self) -> list[Line]:
        chair = self._speakers[0]
        lines = [Line(chair, self._say("open", chair, None))]
        return lines + [Line(key, self._say("intro", key, None)) for key in self._speakers]

    def closing(self) -> list[Line]:
        return [Line(self._speakers[0], self._say("close", self._speakers[0], None))]

    def blocks(self) -> Iterator[list[Line]]:
        while True:
            yield self.block()

    def block(self) -> list[Line]:
        chair, topic = self._speakers[0], self._pick(self._slots["topic"])
        lines = [Line(chair, self._say("agenda", chair, None, topic))]
        move, handed = "agenda", None
        for _ in range(int(self._rng.integers(*BLOCK_MOVES))):
            move = self._next(move)
            speaker = handed or self._other(lines[-1].speaker)  # the person just asked answers
            handed = self._other(speaker) if move == "ask" else None
            text = self._say(move, speaker, handed, topic)
            if move == "answer" and self._rng.random() < 0.25:
                text += " " + self._say("action", speaker, None, topic)
            lines.append(Line(speaker, text))
        closer = handed or self._other(lines[-1].speaker)
        return [*lines, Line(closer, self._say("follow", closer, None, topic))]

    def _next(self, move: str) -> str:
        options = NEXT_MOVE[move]
        weights = np.array([w for _, w in options])
        return options[int(self._rng.choice(len(options), p=weights / weights.sum()))][0]

    def _other(self, speaker: str) -> str:
        return self._pick([key for key in self._speakers if key != speaker])

    def _pick(self, items: Sequence[str]) -> str:
        return items[int(self._rng.integers(len(items)))]

    def _say(self, move: str, speaker: str, addressee: str | None, topic: str = "") -> str:
        text = ""
        for _ in range(RETRIES):
            text = self._pick(self._moves[move]).format(
                name=self._names[speaker], person=self._names[addressee or self._other(speaker)].split()[0],
                topic=topic, thing=self._pick(self._slots["thing"]), day=self._pick(self._slots["day"]),
                when=self._pick(self._slots["when"]),
                team=self._teams[speaker] if move == "intro" else self._pick(self._slots["team"]))
            if text not in self._said:
                break
        self._said.add(text)
        return text
