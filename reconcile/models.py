"""Records of reconciliation: what is known about each member, the voices found, and the plan (a value)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str  # lower-case


@dataclass(frozen=True, slots=True)
class Quote:
    text: str
    start: float  # seconds in the segment's medium (as aligned; relative to its first message without media)
    end: float


@dataclass(frozen=True, slots=True)
class Member:
    """One member of a conversation as the API reports it, placed in the segment it spoke in."""

    conversation_id: str
    id: str
    name: str
    email: str | None
    segment: int  # index of the segment whose messages it speaks (0 = the first)
    talk_seconds: float
    texts: tuple[str, ...]
    quotes: tuple[Quote, ...] = ()


@dataclass(frozen=True, slots=True)
class Consistency:
    """Whether a member's own speech is one voice: its windows split in two and the halves compared."""

    cosine: float  # between the two halves' centroids (1.0: one voice throughout)
    minority: float  # share of windows in the smaller half (0 .. 0.5)
    windows: int


@dataclass(frozen=True, slots=True)
class Candidate:
    email: str
    score: float  # 0..1: the calibrated probability of the voice evidence, 1.0 for identity or introduction
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Evidence:
    member: Member
    known: str | None = None  # email of the roster person it already is (email set, or unique roster name)
    introduced: tuple[str, ...] = ()  # emails of the roster people it introduced itself as
    voice: dict[str, float] = field(default_factory=dict)  # person key -> cosine with their voice on file (or centred)
    peers: dict[str, float] = field(default_factory=dict)  # other member id (any segment) -> cosine of the voices
    consistency: Consistency | None = None
    centred: str = ""  # "samples" or "profiles": scores centred against that cohort (`reconcile.cohort`); "": raw


@dataclass(frozen=True, slots=True)
class Operation:
    """One PUT: a rename (the survivor takes name and email) or a merge (a duplicate takes the survivor's email)."""

    kind: str  # rename | merge
    conversation_id: str
    member_id: str
    name: str
    email: str
    survivor_id: str  # for a rename, the member itself


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """One question: who is this voice? All its members, across the conversation's segments."""

    conversation_id: str
    voice: str  # a stable key: "voice-" + the first member id
    members: tuple[Member, ...]
    reason: str
    candidates: tuple[Candidate, ...]

    @property
    def talk_seconds(self) -> float:
        return round(sum(m.talk_seconds for m in self.members), 1)


@dataclass(frozen=True, slots=True)
class Plan:
    operations: tuple[Operation, ...]
    review: tuple[ReviewItem, ...]
    assignments: dict[str, str]  # member id -> email of the person decided
    reasons: dict[str, str] = field(default_factory=dict)  # member id -> why it was decided (or left alone)
    notes: tuple[str, ...] = ()
    held: dict[str, tuple[str, str]] = field(default_factory=dict)  # member id -> (voice key, why) undecided
