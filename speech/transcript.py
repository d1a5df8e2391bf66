"""From recognised words (with voices) to utterances: the messages of a transcript.

Rule: a new utterance starts where the voice changes, after a word that ends a sentence (. ? !), or after a
pause longer than `PAUSE` seconds; a lone sentence end inside an abbreviation-like token ("Mr.") is not special-
cased, Whisper writes few of them. Utterance text is its words joined by spaces, as recognised (case and
punctuation kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from speech.models import Utterance, Word

PAUSE = 1.5
SNAP = 0.5  # seconds: an utterance edge this close to the edge of its speech span moves onto it
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


def snapped(utterances: Sequence[Utterance], spans: Sequence[tuple[float, float]]) -> tuple[Utterance, ...]:
    """Utterance edges moved onto the detected speech they sit in, when the span edge is within SNAP seconds
    and no neighbouring utterance is in the way: word times from the recogniser start and end a little off,
    the voice-activity edges are sharper. Words keep their own times."""
    out = list(utterances)
    for i, utt in enumerate(out):
        span = next(((a, b) for a, b in spans if a - SNAP <= utt.start <= b), None)
        if span is None:
            continue
        low = out[i - 1].end if i else float("-inf")
        high = out[i + 1].start if i + 1 < len(out) else float("inf")
        start = span[0] if 0 < utt.start - span[0] <= SNAP and span[0] >= low else utt.start
        end_span = next(((a, b) for a, b in spans if a <= utt.end <= b + SNAP), span)
        end = end_span[1] if 0 < end_span[1] - utt.end <= SNAP and end_span[1] <= high else utt.end
        out[i] = replace(utt, start=start, end=end)
    return tuple(out)
