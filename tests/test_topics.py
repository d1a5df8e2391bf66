"""Topics of recognised speech (real mode): repeated content words, never stop words or names."""

from __future__ import annotations

from batch.emulator.topics import topics


def test_topics_are_repeated_content_words_in_order_of_use() -> None:
    """Words said in two or more messages rank by how many; stop words, short words and names never count."""
    said = [
        "Thanks Maria, the budget review is next week.",
        "Is the budget ready for the review?",
        "Maria will send the budget and the roadmap.",
        "The roadmap is almost done.",
    ]
    assert topics(said) == ("budget", "review", "roadmap")


def test_no_topics_without_repetition() -> None:
    """A word said once is not a topic; an empty conversation has none."""
    assert topics(["Hello there, nice weather."]) == ()
    assert topics([]) == ()
