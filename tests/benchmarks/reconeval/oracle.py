"""Answering review files from the truth, as a person listening to each voice's clip would. Pure but for I/O.

Rule: an entry's voice is the true speaker of most of its members' speech; when that speaker has at least
`CLEAR` of it, the answer is their roster email, or "new" with their name (and no email) for someone outside
the roster; a voice that is no one person ("mixed") is answered "skip".
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.benchmarks.reconeval.score import Said

CLEAR = 0.8


def answer(
    review: Path, said: Sequence[Said], names: Mapping[str, str], emails: Mapping[str, str | None]
) -> tuple[str, int]:
    """The review file's text with every entry answered, and how many were answered with a person."""
    text = review.read_text()
    entries = tomllib.loads(text).get("voice", [])
    seconds: dict[str, dict[str | None, float]] = {}
    for s in said:
        per = seconds.setdefault(s.member_after, {})
        per[s.speaker] = per.get(s.speaker, 0.0) + s.seconds
    blocks = text.split("[[voice]]")
    out, named = [blocks[0]], 0
    for entry, block in zip(entries, blocks[1:], strict=True):
        total: dict[str | None, float] = {}
        for member in entry["members"]:
            for speaker, value in seconds.get(member, {}).items():
                total[speaker] = total.get(speaker, 0.0) + value
        speaker, top = max(total.items(), key=lambda kv: kv[1], default=(None, 0.0))
        share = top / (sum(total.values()) or 1.0)
        if speaker is None or share < CLEAR:
            identity, new_name = "skip", ""
        elif emails.get(speaker):
            identity, new_name = str(emails[speaker]), ""
        else:
            identity, new_name = "new", names[speaker]
        named += identity != "skip"
        filled = block.replace('identity = ""', f'identity = "{identity}"', 1)
        out.append(filled.replace('new_name = ""', f'new_name = "{new_name}"', 1))
    return "[[voice]]".join(out), named
