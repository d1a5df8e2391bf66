"""Insights derived from what was said, by simple text rules (they exist so renames and merges can be checked).

- question: an utterance ending with "?"
- action_item: an utterance with "I will", "I'll", "I can", "will you" or "please"; assignee = its speaker
- follow_up: an utterance with "follow up" or "get back to"; assignee = its speaker
- topics: the recording's declared topics (scripts) present in the text, each pointing at its messages
- topic hierarchy (parentRefs): a topic's parents are the topics mentioned in every message it is mentioned
  in and in at least one more (a strict superset of its messages): the broader subject it was discussed under
- topic sentiment: the mean polarity of the topic's messages ("calculated over the topic messages scope")
- phrases (detectPhrases): the words after "I will" up to the end of the clause, as an `action_phrase`
- sentiment: a tiny lexicon score in [-1, 1]
"""

from __future__ import annotations

import re

ACTION = re.compile(r"\b(i will|i'll|i can|will you|please)\b", re.IGNORECASE)
FOLLOW_UP = re.compile(r"\b(follow up|get back to)\b", re.IGNORECASE)
PHRASE = re.compile(r"\bI will ([^.,!?]+)")
POSITIVE = frozenset(["good", "great", "perfect", "thanks", "thank", "happy", "nice", "sure", "sounds", "agree"])
NEGATIVE = frozenset(["hardest", "errors", "problem", "leave", "late", "not", "no", "wrong"])


def kinds(text: str) -> list[str]:
    """The insight types an utterance produces, in a fixed order."""
    found = []
    if text.rstrip().endswith("?"):
        found.append("question")
    if ACTION.search(text):
        found.append("action_item")
    if FOLLOW_UP.search(text):
        found.append("follow_up")
    return found


def phrases(text: str) -> list[dict[str, str]]:
    return [{"type": "action_phrase", "text": m.group(1).strip()} for m in PHRASE.finditer(text)]


def polarity(text: str) -> float:
    words = re.findall(r"[a-z']+", text.lower())
    if not words:
        return 0.0
    score = sum(w in POSITIVE for w in words) - sum(w in NEGATIVE for w in words)
    return round(max(-1.0, min(1.0, score / 3)), 2)


def suggested(score: float) -> str:
    if score < -0.3:
        return "negative"
    return "positive" if score > 0.3 else "neutral"


def topic_hits(topics: tuple[str, ...], texts: list[str]) -> dict[str, list[int]]:
    """For each declared topic, the indexes of the texts that mention it (topics never mentioned are dropped)."""
    hits = {t: [i for i, text in enumerate(texts) if t.lower() in text.lower()] for t in topics}
    return {t: idx for t, idx in hits.items() if idx}


def topic_parents(hits: dict[str, list[int]]) -> dict[str, list[str]]:
    """For each topic, the other topics whose messages strictly contain its own, in declaration order."""
    sets = {t: set(idx) for t, idx in hits.items()}
    return {t: [p for p in sets if sets[t] < sets[p]] for t in sets}


def mean_polarity(scores: list[float]) -> float:
    return round(sum(scores) / len(scores), 2) if scores else 0.0
