"""Records of reconciliation: what is known about each member, the candidates, and the plan (a value)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str  # lower-case


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


@dataclass(frozen=True, slots=True)
class Candidate:
    email: str
    score: float  # 0..1, combined
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Evidence:
    member: Member
    known: str | None = None  # email of the roster person it already is (email set, or unique roster name)
    introduced: tuple[str, ...] = ()  # emails of the roster people it introduced itself as
    voice: dict[str, float] = field(default_factory=dict)  # email -> cosine with that person's voice
    voice_peers: dict[str, float] = field(default_factory=dict)  # other member id (same segment) -> cosine


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
    conversation_id: str
    member_id: str
    name: str
    segment: int
    talk_seconds: float
    quotes: tuple[str, ...]
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    operations: tuple[Operation, ...]
    review: tuple[ReviewItem, ...]
    assignments: dict[str, str]  # member id -> email of the person decided
    notes: tuple[str, ...] = ()
