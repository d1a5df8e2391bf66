"""Scoring reconciliation against the truth. Pure: outputs and truth in, figures out.

Rules:
- a message's true speaker is the truth utterance it overlaps most, after its segment's messages are shifted
  (one shift per segment, the one that overlaps the truth most) since server times start at the first word;
- precision: of the messages whose member ends with a roster email, the share whose email is the true
  speaker's (a message over no true speech, e.g. a word of noise, has no true speaker and is not judged);
- recall: of the messages of roster people with at least `MIN_SPEECH` seconds of speech in the conversation,
  the share that end with that person's email;
- a merge is wrong when the duplicate's and the survivor's messages (before reconciliation) were mostly
  different people's; duplicates left: per conversation and true person, the members beyond the first whose
  messages are mostly theirs; review entries per unknown voice: entries written over (conversation, person)
  pairs left without a roster identity on most of their messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MIN_SPEECH = 8.0


@dataclass(frozen=True, slots=True)
class Truth:
    speaker: str  # a person key of the set
    email: str | None  # None for someone outside the roster
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Said:
    """One message as scored: its member before and after reconciliation and its true speaker."""

    conversation: str
    member_before: str
    member_after: str
    email_after: str | None
    speaker: str | None
    email_true: str | None
    seconds: float


@dataclass
class Figures:
    identified: int = 0
    right: int = 0
    recall_total: int = 0
    recall_right: int = 0
    merges: int = 0
    wrong_merges: int = 0
    renames: int = 0
    duplicates_left: int = 0
    review_entries: int = 0
    unknown_voices: int = 0
    unjudged: int = 0  # messages over no true speech
    seconds_identified: float = 0.0
    seconds_right: float = 0.0
    members_named: int = 0  # members ending with a roster email
    members_right: int = 0  # ... whose speech is mostly that person's (the decision was right)
    notes: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.right / self.identified if self.identified else None

    @property
    def seconds_precision(self) -> float | None:
        """Precision weighted by speech time (a 0.3 s word counts for 0.3 s)."""
        return self.seconds_right / self.seconds_identified if self.seconds_identified else None

    @property
    def member_precision(self) -> float | None:
        return self.members_right / self.members_named if self.members_named else None

    @property
    def recall(self) -> float | None:
        return self.recall_right / self.recall_total if self.recall_total else None

    @property
    def per_unknown(self) -> float | None:
        return self.review_entries / self.unknown_voices if self.unknown_voices else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision,
            "seconds_precision": self.seconds_precision,
            "member_precision": self.member_precision,
            "members_named": self.members_named,
            "recall": self.recall,
            "identified": self.identified,
            "right": self.right,
            "recall_messages": self.recall_total,
            "merges": self.merges,
            "wrong_merges": self.wrong_merges,
            "renames": self.renames,
            "duplicates_left": self.duplicates_left,
            "review_entries": self.review_entries,
            "unknown_voices": self.unknown_voices,
            "unjudged_messages": self.unjudged,
            "review_per_unknown_voice": self.per_unknown,
        }


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def best_shift(spans: Sequence[tuple[float, float]], truth: Sequence[Truth]) -> float:
    """The shift (seconds, -2..8 in 10 ms steps) putting the spans over the truth's speech the most."""
    best, best_total = 0.0, -1.0
    for step in range(-200, 801):
        shift = step / 100
        total = sum(_overlap((s + shift, e + shift), (t.start, t.end)) for s, e in spans for t in truth)
        if total > best_total:
            best, best_total = shift, total
    return best


def speaker_of(span: tuple[float, float], truth: Sequence[Truth]) -> Truth | None:
    scored = [(_overlap(span, (t.start, t.end)), t) for t in truth]
    overlap, found = max(scored, key=lambda x: x[0], default=(0.0, None))
    return found if overlap > 0 else None


def majority(items: Sequence[Said], key: str) -> dict[str, tuple[str | None, float]]:
    """Member id (before or after) -> (its main true speaker, that speaker's share of its seconds)."""
    seconds: dict[str, dict[str | None, float]] = {}
    for said in items:
        member = said.member_before if key == "before" else said.member_after
        per = seconds.setdefault(member, {})
        per[said.speaker] = per.get(said.speaker, 0.0) + said.seconds
    found = {}
    for member, per in seconds.items():
        speaker, top = max(per.items(), key=lambda kv: kv[1])
        found[member] = (speaker, top / (sum(per.values()) or 1.0))
    return found


def score(
    said: Sequence[Said],
    merges: Sequence[tuple[str, str]],
    renames: int,
    review_entries: int,
    roster: set[str],
) -> Figures:
    """`merges`: (duplicate, survivor) member ids done; `review_entries`: [[voice]] entries left."""
    figures = Figures(merges=len(merges), renames=renames, review_entries=review_entries)
    for s in said:
        if s.email_after in roster and s.speaker is not None:
            figures.identified += 1
            figures.right += s.email_after == s.email_true
            figures.seconds_identified += s.seconds
            figures.seconds_right += s.seconds * (s.email_after == s.email_true)
        figures.unjudged += s.speaker is None
    speech: dict[tuple[str, str], float] = {}
    for s in said:
        if s.speaker is not None:
            speech[s.conversation, s.speaker] = speech.get((s.conversation, s.speaker), 0.0) + s.seconds
    for s in said:
        if s.email_true in roster and s.speaker and speech.get((s.conversation, s.speaker), 0.0) >= MIN_SPEECH:
            figures.recall_total += 1
            figures.recall_right += s.email_after == s.email_true
    before = majority(said, "before")
    for duplicate, survivor in merges:
        a, b = before.get(duplicate), before.get(survivor)
        if a is not None and b is not None and a[0] != b[0]:
            figures.wrong_merges += 1
            figures.notes.append(f"wrong merge: {duplicate} ({a[0]}) into {survivor} ({b[0]})")
    after = majority(said, "after")
    _members(figures, said, after, roster)
    conversation_of = {s.member_after: s.conversation for s in said}
    owners: dict[tuple[str, str | None], int] = {}
    for member, (speaker, _) in after.items():
        owners[conversation_of[member], speaker] = owners.get((conversation_of[member], speaker), 0) + 1
    figures.duplicates_left = sum(n - 1 for (_, speaker), n in owners.items() if speaker is not None and n > 1)
    named: dict[tuple[str, str], list[bool]] = {}
    for s in said:
        if s.speaker is not None:
            named.setdefault((s.conversation, s.speaker), []).append(s.email_after in roster)
    figures.unknown_voices = sum(1 for flags in named.values() if sum(flags) * 2 < len(flags))
    return figures


def _members(
    figures: Figures, said: Sequence[Said], after: Mapping[str, tuple[str | None, float]], roster: set[str]
) -> None:
    """Members named, and named right (their speech is mostly the person they were named as)."""
    email_of = {s.member_after: s.email_after for s in said}
    true_email = {s.speaker: s.email_true for s in said if s.speaker}
    for member, (speaker, _) in after.items():
        if email_of[member] in roster:
            figures.members_named += 1
            figures.members_right += speaker is not None and true_email.get(speaker) == email_of[member]


def messages_said(
    conversation: str,
    before: Sequence[Mapping[str, Any]],
    after: Sequence[Mapping[str, Any]],
    segments: Sequence[Sequence[str]],
    truth: Sequence[Sequence[Truth]],
) -> list[Said]:
    """Score rows of one conversation: messages before and after (same ids), message ids per segment, the truth
    of each segment's medium."""
    final = {m["id"]: m for m in after}
    by_id = {m["id"]: m for m in before}
    rows = []
    for ids, spoken in zip(segments, truth, strict=True):
        mine = [by_id[i] for i in ids if i in by_id]
        if not mine:
            continue
        origin = min(float(m["timeOffset"]) for m in mine)
        spans = [
            (float(m["timeOffset"]) - origin, float(m["timeOffset"]) - origin + float(m["duration"])) for m in mine
        ]
        shift = best_shift(spans, spoken)
        for message, (start, end) in zip(mine, spans, strict=True):
            found = speaker_of((start + shift, end + shift), spoken)
            later = final.get(message["id"], message)
            rows.append(
                Said(
                    conversation,
                    message["from"]["id"],
                    later["from"]["id"],
                    (later["from"].get("email") or "").lower() or None,
                    found.speaker if found else None,
                    found.email if found else None,
                    float(message["duration"]),
                )
            )
    return rows
