"""Who spoke how much in one conversation: talk time, share, words and turns per member. Pure: messages in.

Rule: a row per member (by member id, so two members both called "Speaker 2" after an append stay two rows,
labelled as the transcripts label them, `render.labels`); talk time is the sum of the member's message
durations; share is that over everyone's talk time; a turn is a run of consecutive messages by one member.
Rows go by talk time, longest first. Saved in `conversation.json` as `speakerSummary` and shown in
`transcript.md` and `report.md`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from batch import render

SUMMARY_KEY = "speakerSummary"  # its key in conversation.json


@dataclass(frozen=True, slots=True)
class SpeakerLine:
    member_id: str
    name: str
    talk_seconds: float
    share: float  # of all talk time, 0..1
    words: int
    turns: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "memberId": self.member_id,
            "name": self.name,
            "talkSeconds": round(self.talk_seconds, 2),
            "share": round(self.share, 4),
            "words": self.words,
            "turns": self.turns,
        }


def summary(messages: Sequence[dict[str, Any]]) -> list[SpeakerLine]:
    names = render.labels(messages)
    talk = dict.fromkeys(names, 0.0)
    words = dict.fromkeys(names, 0)
    turns = dict.fromkeys(names, 0)
    previous = None
    for message in messages:
        key = render.member_key(message)
        talk[key] += max(0.0, float(message.get("duration") or 0.0))
        words[key] += len(str(message.get("text") or "").split())
        turns[key] += key != previous
        previous = key
    total = sum(talk.values())
    lines = [SpeakerLine(k, names[k], talk[k], talk[k] / total if total else 0.0, words[k], turns[k]) for k in names]
    return sorted(lines, key=lambda line: (-line.talk_seconds, line.name))


def from_dicts(data: Any) -> list[SpeakerLine] | None:
    """A summary as `conversation.json` holds it, or None when it is not one (an older file, a hand edit)."""
    if not isinstance(data, list):
        return None
    found = []
    for row in data:
        try:
            found.append(
                SpeakerLine(
                    str(row["memberId"]), str(row["name"]), float(row["talkSeconds"]), float(row["share"]),
                    int(row["words"]), int(row["turns"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            return None
    return found


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


def markdown_table(lines: Sequence[SpeakerLine]) -> list[str]:
    """| speaker | talk time | share | words | turns |, names escaped for Markdown."""
    rows = ["| speaker | talk time | share | words | turns |", "|---|---:|---:|---:|---:|"]
    for line in lines:
        rows.append(
            f"| {render.markdown_text(line.name)} | {_duration(line.talk_seconds)} | {line.share:.0%} "
            f"| {line.words} | {line.turns} |"
        )
    return rows
