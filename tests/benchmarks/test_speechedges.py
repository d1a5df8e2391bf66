"""The turn-edge benchmark's scoring on a hand-made hearing: a turn's first word heard as the voice before it."""

from __future__ import annotations

from speech.models import Word
from speech.pipeline import Heard
from tests.benchmarks.speechedges import Tally, hypothesis
from tests.benchmarks.speechmetrics import Segment

TRUTH = (
    Segment("ann", 0.0, 2.0, "We ship on Monday."),
    Segment("bob", 2.2, 4.6, "So we need the tests done."),
)


def _heard() -> Heard:
    said = [("We", 0.0, 0.3), ("ship", 0.4, 0.8), ("on", 0.9, 1.1), ("Monday.", 1.2, 2.0)]
    said += [("So", 2.2, 2.5), ("we", 2.6, 2.9), ("need", 3.0, 3.3), ("the", 3.4, 3.6), ("tests", 3.7, 4.1)]
    said += [("done.", 4.2, 4.6)]
    voices = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]  # "So" heard as the voice before it
    words = tuple(Word(t, a, b, 0.9, speaker=v) for (t, a, b), v in zip(said, voices, strict=True))
    return Heard(4.6, words, ((0.0, 2.0), (2.2, 4.6)))


def test_as_heard_the_slip_is_a_wrong_message_under_a_second_and_realigned_it_is_gone() -> None:
    heard, realigned = Tally(), Tally()
    heard.add(TRUTH, hypothesis(_heard(), realign=False))
    realigned.add(TRUTH, hypothesis(_heard(), realign=True))
    assert (heard.messages_right, heard.messages, heard.short_wrong) == (2, 3, 1)
    assert (realigned.messages_right, realigned.messages, realigned.short_wrong) == (2, 2, 0)
    assert realigned.row()["words_right"] > heard.row()["words_right"]
