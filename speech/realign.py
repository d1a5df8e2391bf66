"""Changes of voice moved onto the sentence end next to them.

The diarizer judges 1 s windows every 0.75 s, so at a turn's edge a window holds both voices and the edge lands a
word or two off: the first words of a turn go to the voice before it, or the last words of a turn to the voice
after it. Cut into messages, each such slip is a short message of the wrong person. People hand over the word at
the end of a sentence, and the recogniser writes sentence ends, so:

Rule: at a change of voice between two words where the first does not end a sentence (. ? !), look up to `REACH`
words back and ahead, nearest first and back before ahead, for a word that does; when the words between it and
the change are all of one voice and last at most `MOST` seconds together, they go to the voice on the other side,
and the change sits on the sentence end. A change already at a sentence end, or with none near, stays where the
voices put it; a short turn of its own ("Sounds good.") is a sentence and keeps its voice.

Tuned on the speech set's dev split (reach 1-4 words, 1.2 or 2 s, each direction alone, a pause condition);
measured on the held-out test split by `python -m tests.benchmarks.speechedges` (docs/speech-backend.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from speech.models import Word
from speech.transcript import SENTENCE_ENDS

REACH = 3  # words looked at on each side of a change
MOST = 2.0  # seconds of speech that may change voice at one change
CLOSING = "\"')]"


def ends_sentence(word: Word) -> bool:
    return word.text.rstrip(CLOSING).endswith(SENTENCE_ENDS)


def realigned(words: Sequence[Word]) -> list[Word]:
    """`words` (in time order, with voices) with each change of voice moved onto a sentence end near it."""
    out = list(words)
    i = 1
    while i < len(out):
        before, after = out[i - 1].speaker, out[i].speaker
        if before is None or after is None or before == after or ends_sentence(out[i - 1]):
            i += 1
            continue
        edge = _sentence_edge(out, i, before, after)
        if edge is not None:
            low, high, voice = (edge, i, after) if edge < i else (i, edge, before)
            for k in range(low, high):
                out[k] = replace(out[k], speaker=voice)
            i = max(i, edge)
        i += 1
    return out


def _sentence_edge(words: Sequence[Word], i: int, before: int, after: int) -> int | None:
    """Where the change of voice at `i` (the first word of `after`) moves to: the index of the new first word."""
    for step in range(1, REACH + 1):
        back = i - step  # words back..i-1 would become `after`'s
        if back >= 1 and ends_sentence(words[back - 1]) and _movable(words[back:i], before):
            return back
        ahead = i + step  # words i..ahead-1 would become `before`'s
        if ahead < len(words) and ends_sentence(words[ahead - 1]) and _movable(words[i:ahead], after):
            return ahead
    return None


def _movable(moved: Sequence[Word], voice: int) -> bool:
    return all(w.speaker == voice for w in moved) and sum(w.end - w.start for w in moved) <= MOST
