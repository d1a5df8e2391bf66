"""Changes of voice move onto the sentence end next to them (speech.realign), and only there."""

from __future__ import annotations

from speech.models import Word
from speech.realign import realigned


def _words(spoken: str) -> list[Word]:
    """'A:Thanks. A:So B:we B:go.' -> words 0.3 s long, 0.1 s apart, each with its voice (A = 0, B = 1)."""
    out = []
    for n, token in enumerate(spoken.split()):
        voice, text = token.split(":", 1)
        out.append(Word(text, n * 0.4, n * 0.4 + 0.3, 0.9, speaker="AB".index(voice)))
    return out


def _voices(words: list[Word]) -> str:
    return "".join("AB"[w.speaker] for w in words if w.speaker is not None)


def test_the_first_words_of_a_turn_given_to_the_voice_before_go_to_the_turn() -> None:
    """'That is all. So we' heard as A's: the change moves back onto 'all.'."""
    words = _words("A:That A:is A:all. A:So A:we B:should B:go.")
    assert _voices(realigned(words)) == "AAABBBB"


def test_the_last_words_of_a_turn_given_to_the_voice_after_go_back() -> None:
    """'...for two days.' heard as B's from 'for': the change moves ahead onto 'days.'."""
    words = _words("A:It A:was A:down B:for B:two B:days. B:Why B:so?")
    assert _voices(realigned(words)) == "AAAAAABB"


def test_a_change_already_at_a_sentence_end_stays() -> None:
    """A short turn of its own is a sentence, and keeps its voice, as do the turns around it."""
    words = _words("A:We A:ship A:today. B:Sounds B:good. A:Then A:go.")
    assert realigned(words) == words


def test_a_change_with_no_sentence_end_near_stays() -> None:
    """An interruption in mid-sentence with no sentence end within reach is left where the voices put it."""
    words = _words("A:I A:think A:that A:we A:should B:wait B:for B:the B:next B:one B:first")
    assert realigned(words) == words


def test_no_more_than_a_few_words_change_voice() -> None:
    """Four words (more than REACH) between the change and the sentence end: nothing moves."""
    words = _words("A:Done. A:and A:then A:we A:also B:wait B:here.")
    assert realigned(words) == words


def test_a_fragment_of_a_third_voice_at_the_start_of_a_turn_joins_the_turn() -> None:
    """'Done. so we' with 'we' heard as a third voice and 'so' as the voice before: both join the turn after."""
    words = _words("A:Done. A:so A:we B:go B:on.")
    words[2] = Word("we", words[2].start, words[2].end, 0.9, speaker=2)
    assert [w.speaker for w in realigned(words)] == [0, 1, 1, 1, 1]


def test_long_words_do_not_move() -> None:
    """Words longer together than MOST seconds keep their voice even within reach."""
    words = [Word("Done.", 0.0, 0.3, 0.9, speaker=0), Word("extraordinarily", 0.4, 1.9, 0.9, speaker=0)]
    words += [Word("long", 2.0, 2.8, 0.9, speaker=0)]
    words += [
        Word(t, 3.0 + i * 0.4, 3.3 + i * 0.4, 0.9, speaker=1) for i, t in enumerate(["wait", "for", "the", "bus"])
    ]
    assert realigned(words) == words
