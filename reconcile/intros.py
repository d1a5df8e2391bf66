"""Self-introductions in a member's own words, matched against the roster. Pure.

Counted: first-person phrases — "I'm Alice", "I am Alice Walker", "my name is John Doe", "this is May
(speaking)", "Alice here". Not counted: being addressed ("Thanks Alice", "Hi John, ..."), which says nothing
about who is speaking. A first name counts only when exactly one roster person has it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from reconcile.models import Person

NAME = r"([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)"
PATTERNS = (
    re.compile(rf"\b(?:I'm|I am|my name is|My name is)\s+{NAME}"),
    re.compile(rf"(?:^|[.!?]\s+|,\s+)(?:[Tt]his is)\s+{NAME}(?:\s+speaking|[.,!])"),
    re.compile(rf"(?:^|[.!?]\s+){NAME}\s+here\b"),
)


def named(text: str) -> list[str]:
    """The names a speaker gives for themself in this text."""
    return [m.group(1) for pattern in PATTERNS for m in pattern.finditer(text)]


def match(name: str, roster: Sequence[Person]) -> Person | None:
    full = [p for p in roster if p.name.lower() == name.lower()]
    if len(full) == 1:
        return full[0]
    first = name.split(maxsplit=1)[0].lower()
    by_first = [p for p in roster if p.name.split()[0].lower() == first]
    if len(by_first) == 1 and (len(name.split()) == 1 or by_first[0].name.lower().startswith(name.lower())):
        return by_first[0]
    return None


def introduced(texts: Iterable[str], roster: Sequence[Person]) -> tuple[str, ...]:
    """Emails of the roster people these texts introduce their speaker as (several = contradictory)."""
    found = []
    for text in texts:
        for name in named(text):
            person = match(name, roster)
            if person is not None and person.email not in found:
                found.append(person.email)
    return tuple(found)
