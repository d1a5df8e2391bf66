"""From recognised words (with voices) to utterances: the messages of a transcript.

Rule: a new utterance starts where the voice changes, after a word that ends a sentence (. ? !), or after a
pause longer than `PAUSE` seconds; a lone sentence end inside an abbreviation-like token ("Mr.") is not special-
cased, Whisper writes few of them. Utterance text is its words joined by spaces, as recognised (case and
punctuation kept).
"""

from __future__ import annotations

from collections.abc import Sequence

from speech.models import Utterance, Word

PAUSE = 1.5
SENTENCE_ENDS = (".", "?", "!")


def utterances(words: Sequence[Word]) -> tuple[Utterance, ...]:
    groups: list[list[Word]] = []
    for word in words:
        previous = groups[-1][-1] if groups else None
        if (
            previous is None
            or previous.speaker != word.speaker
            or previous.text.endswith(SENTENCE_ENDS)
            or word.start - previous.end > PAUSE
        ):
            groups.append([word])
        else:
            groups[-1].append(word)
    return tuple(
        Utterance(g[0].speaker, g[0].start, g[-1].end, " ".join(w.text for w in g), tuple(g)) for g in groups
    )
