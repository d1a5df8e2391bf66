"""Table-driven tests of the speech metrics (tests/benchmarks/speechmetrics.py): each row is a case small enough
to score by hand."""

from __future__ import annotations

import pytest

from tests.benchmarks.speechmetrics import (
    Diarization,
    Segment,
    TimedWord,
    by_speaker,
    cpwer,
    der,
    edit_distance,
    normalise,
    right_speaker,
    speaker_count,
    speaker_map,
    spread_words,
    text_of,
    wer,
)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("I'm sure it's fine.", ["i'm", "sure", "it's", "fine"]),
        ("Let\u2019s follow-up", ["let's", "follow", "up"]),
        ("'quoted' words", ["quoted", "words"]),
        ("5 engineers, 10%", ["5", "engineers", "10"]),
        ("  ...  ", []),
    ],
)
def test_normalise(text: str, words: list[str]) -> None:
    """Normalisation lowercases, drops punctuation, keeps inner apostrophes and leaves numbers alone."""
    assert normalise(text) == words


@pytest.mark.parametrize(
    ("ref", "hyp", "distance"),
    [
        ("", "", 0),
        ("a b c", "", 3),
        ("", "a b", 2),
        ("a b c", "a b c", 0),
        ("a b c", "a x c", 1),
        ("a b c", "a c", 1),
        ("a b c", "a b c d", 1),
        ("a b c d", "b c d a", 2),
        ("kitten sat on the mat", "sitting sat the mat now", 3),
        ("a a a a", "b", 4),
    ],
)
def test_edit_distance(ref: str, hyp: str, distance: int) -> None:
    """The word-level Levenshtein distance counts substitutions, deletions and insertions at cost one each."""
    assert edit_distance(ref.split(), hyp.split()) == distance
    assert edit_distance(hyp.split(), ref.split()) == distance


@pytest.mark.parametrize(
    ("ref", "hyp", "errors", "words"),
    [
        ("Good morning, everyone.", "good morning everyone", 0, 3),
        ("I will send it by Friday.", "I'll send it by Friday", 2, 6),
        ("Two engineers.", "2 engineers", 1, 2),
        ("Hello there", "", 2, 2),
    ],
)
def test_wer(ref: str, hyp: str, errors: int, words: int) -> None:
    """WER is scored after normalisation, so case and punctuation are free but contractions and digits are not."""
    score = wer(ref, hyp)
    assert (score.errors, score.words) == (errors, words)
    assert score.rate == pytest.approx(errors / words)


@pytest.mark.parametrize(
    ("ref", "hyp", "errors", "words"),
    [
        ({"a": "x y", "b": "z w"}, {"1": "z w", "0": "x y"}, 0, 4),  # labels are arbitrary: best pairing wins
        # one speaker for two: a's words match, z w are inserted there and deleted from the unpaired b
        ({"a": "x y", "b": "z w"}, {"0": "x y z w"}, 4, 4),
        ({"a": "x y z"}, {"0": "x y", "1": "z"}, 2, 3),  # one speaker split in two: z deleted, then inserted
        ({"a": "x y", "b": "z"}, {"0": "x z", "1": "y"}, 2, 3),  # words swapped: two substitutions
        ({"a": "x"}, {}, 1, 1),
    ],
)
def test_cpwer(ref: dict[str, str], hyp: dict[str, str], errors: int, words: int) -> None:
    """cpWER pairs speakers to minimise errors; unpaired speakers cost all their words."""
    score = cpwer(ref, hyp)
    assert (score.errors, score.words) == (errors, words)


def test_text_and_speaker_concatenation_follow_time() -> None:
    """Transcripts and per-speaker texts are read in time order, whatever order the segments come in."""
    segments = [Segment("b", 2.0, 3.0, "third"), Segment("a", 0.0, 1.0, "first"), Segment("b", 1.0, 2.0, "second")]
    assert text_of(segments) == "first second third"
    assert by_speaker(segments) == {"a": "first", "b": "second third"}
    assert by_speaker([Segment(None, 0, 1, "who")]) == {"?": "who"}


A_B = [Segment("a", 0.0, 2.0), Segment("b", 2.0, 4.0)]  # 400 reference speaker-frames
OVERLAP = [Segment("a", 0.0, 2.0), Segment("b", 1.0, 3.0)]  # 1-2 s is overlapped: 400 speaker-frames


@pytest.mark.parametrize(
    ("ref", "hyp", "collar", "counts"),
    [
        (A_B, [Segment("1", 0.0, 2.0), Segment("0", 2.0, 4.0)], 0.0, Diarization(400, 0, 0, 0)),
        (A_B, [Segment("x", 0.0, 4.0)], 0.0, Diarization(400, 0, 0, 200)),  # one speaker for two
        (A_B, [Segment("1", 0.0, 1.0), Segment("0", 2.0, 4.0)], 0.0, Diarization(400, 100, 0, 0)),
        (A_B, [Segment("1", 0.0, 2.0), Segment("0", 2.0, 5.0)], 0.0, Diarization(400, 0, 100, 0)),
        (A_B, [Segment("1", 0.0, 2.5), Segment("0", 2.5, 4.0)], 0.0, Diarization(400, 0, 0, 50)),
        # the 0.5 s error sits inside the +-0.5 s collar around the boundary at 2 s, which leaves 400 - 4 x 50
        (A_B, [Segment("1", 0.0, 2.5), Segment("0", 2.5, 4.0)], 0.5, Diarization(200, 0, 0, 0)),
        (A_B, [], 0.0, Diarization(400, 400, 0, 0)),
        ([], [Segment("1", 0.0, 1.0)], 0.0, Diarization(0, 0, 100, 0)),
        (OVERLAP, [Segment("1", 0.0, 2.0), Segment("0", 1.0, 3.0)], 0.0, Diarization(400, 0, 0, 0)),
        (OVERLAP, [Segment("1", 0.0, 1.0), Segment("0", 1.0, 3.0)], 0.0, Diarization(400, 100, 0, 0)),
        (OVERLAP, [Segment("1", 0.0, 3.0)], 0.0, Diarization(400, 100, 0, 100)),
    ],
)
def test_der(ref: list[Segment], hyp: list[Segment], collar: float, counts: Diarization) -> None:
    """DER counts missed, false-alarm and confused speaker-frames separately, overlap included, after the best
    one-to-one speaker mapping; a collar removes frames around reference boundaries."""
    assert der(ref, hyp, collar=collar) == counts


def test_der_rate_and_mapping() -> None:
    """The DER rate is errors over reference speaker-frames, and the mapping pairs speakers by co-active time."""
    hyp = [Segment("7", 0.0, 2.5), Segment("3", 2.5, 4.0)]
    assert der(A_B, hyp).rate == pytest.approx(50 / 400)
    assert speaker_map(A_B, hyp) == {"7": "a", "3": "b"}
    assert speaker_map(A_B, [Segment("7", 0.0, 4.0), Segment("9", 10.0, 11.0)]) == {"7": "a"}
    assert Diarization(0, 0, 0, 0).rate == 0.0 and Diarization(0, 0, 5, 0).rate == 1.0


def test_spread_words_spread_by_length() -> None:
    """Reference word times split the utterance span in proportion to each word's characters plus one."""
    words = spread_words([Segment("a", 1.0, 2.0, "Hi, everyone!")])
    assert [(w.text, w.speaker) for w in words] == [("hi", "a"), ("everyone", "a")]
    assert words[0].start == 1.0 and words[0].end == pytest.approx(1.25) and words[1].end == 2.0


REF_WORDS = [TimedWord("x", 0.0, 0.5, "a"), TimedWord("y", 0.5, 1.0, "a"), TimedWord("z", 2.0, 2.5, "b")]


@pytest.mark.parametrize(
    ("hyp", "mapping", "hits"),
    [
        ([TimedWord("x", 0.0, 0.5, "0"), TimedWord("y", 0.5, 1.0, "0"), TimedWord("z", 2.0, 2.5, "1")],
         {"0": "a", "1": "b"}, 3),
        ([TimedWord("x", 0.0, 0.5, "0"), TimedWord("y", 0.55, 1.0, "1"), TimedWord("z", 2.0, 2.5, "1")],
         {"0": "a", "1": "b"}, 2),  # the last word of a's turn given to b
        ([TimedWord("xy", 0.1, 0.9, "0")], {"0": "a"}, 2),  # text does not matter, time does
        ([TimedWord("z", 2.1, 2.6, "1")], {"1": "b"}, 1),  # nothing near x and y
        ([TimedWord("z", 2.6, 2.8, "1")], {"1": "b"}, 1),  # within the slack after z
        ([TimedWord("x", 0.0, 1.0, "9"), TimedWord("z", 2.0, 2.5, None)], {"1": "b"}, 0),  # unmapped, None
    ],
)
def test_right_speaker(hyp: list[TimedWord], mapping: dict[str, str], hits: int) -> None:
    """A reference word counts as given to the right speaker when its most-overlapping hypothesis word's speaker
    maps to the reference speaker."""
    share = right_speaker(REF_WORDS, hyp, mapping)
    assert (share.hits, share.total) == (hits, 3)


def test_speaker_count_ignores_unattributed() -> None:
    """The member count is the number of distinct attributed speakers."""
    assert speaker_count([Segment("0", 0, 1), Segment("1", 1, 2), Segment("0", 2, 3), Segment(None, 3, 4)]) == 2
    assert speaker_count([]) == 0
