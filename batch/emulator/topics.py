"""Topics of recognised speech (real mode): the content words a conversation keeps coming back to.

Rule: a topic is a word of at least four letters, not a stop word and not a name (a word written with a capital
inside a sentence, as the recogniser writes names), said in at least two messages; the five said in the most
messages (ties: the earlier first said) are the conversation's topics. Scripted media keep their declared topics.
"""

from __future__ import annotations

import re
from collections import Counter

STOP = frozenset(
    (
        "about", "above", "after", "again", "against", "also", "because", "been", "before", "being", "below",
        "between", "both", "cannot", "could", "does", "doing", "down", "during", "each", "from", "further",
        "have", "having", "here", "hers", "herself", "himself", "into", "itself", "just", "like", "more",
        "most", "much", "must", "myself", "need", "only", "other", "ought", "ours", "ourselves", "over", "same",
        "should", "some", "such", "than", "that", "their", "theirs", "them", "themselves", "then", "there",
        "these", "they", "this", "those", "through", "today", "tomorrow", "under", "until", "very", "want",
        "were", "what", "when", "where", "which", "while", "will", "with", "would", "your", "yours", "yourself",
        "yourselves", "okay", "yeah", "sure", "thanks", "thank", "really", "think", "know", "going", "good",
        "great", "right", "well", "maybe", "next", "week", "still", "first", "last", "something", "anything",
        "everyone", "everything", "people", "thing", "things", "time", "make", "made", "take", "look", "let's",
        "that's", "it's", "i'm", "we're", "you're", "they're", "don't", "can't", "won't", "i'll", "we'll",
        "hello", "morning", "afternoon", "name", "speaking", "team", "call", "meeting",
    )
)
WORD = re.compile(r"[a-z][a-z'-]{3,}")


NAME = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-Z][a-z'-]{3,})")


def topics(texts: list[str], *, limit: int = 5) -> tuple[str, ...]:
    seen: Counter[str] = Counter()
    first: dict[str, int] = {}
    names = {m.group(1).lower() for text in texts for m in NAME.finditer(text)}
    for index, text in enumerate(texts):
        for found in set(WORD.findall(text.lower())):
            word = found.strip("'-")
            if len(word) >= 4 and word not in STOP and word not in names:
                seen[word] += 1
                first.setdefault(word, index)
    ranked = sorted((w for w, n in seen.items() if n >= 2), key=lambda w: (-seen[w], first[w], w))
    return tuple(ranked[:limit])
