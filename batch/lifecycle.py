"""The life of one segment, as a table (h11 style): allowed moves and the one function that applies them.

    pending ──► submitting ──► submitted ──► finished ──► saved
     │ ▲  ▲          │   │          │  ▲
     │ │  └─refused──┘   │          ├──┴─► timed_out (keeps its jobId; a later run adopts it again)
     │ │                 ▼          └────► failed
     │ └──not created── unknown ──► recovered ──► finished
     │        (or failed) └─────────┴────────► stuck (needs a person; never resent)
     └─ an earlier try is found to have taken effect ──► recovered

Rules:
- the intent (`submitting`) is written before the request is sent, so a crash leaves evidence;
- `submitting` found at start-up means the answer was lost: it becomes `unknown` and is resolved, not resent;
- an append is sent only when the previous segment of its conversation is `saved`;
- re-runs retry `failed` and `blocked` segments; `stuck` ones are reported and left alone;
- a retry first looks for its earlier try (by the create's intent name, or the append's new messages): what
  took effect is adopted (`recovered`), never sent twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class Status(StrEnum):
    PENDING = "pending"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    UNKNOWN = "unknown"
    RECOVERED = "recovered"
    FINISHED = "finished"
    SAVED = "saved"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    STUCK = "stuck"
    BLOCKED = "blocked"


S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.PENDING: frozenset({S.SUBMITTING, S.BLOCKED, S.PENDING, S.FAILED, S.RECOVERED}),  # pending again: sent nothing
    S.SUBMITTING: frozenset({S.SUBMITTED, S.PENDING, S.FAILED, S.UNKNOWN}),
    S.UNKNOWN: frozenset({S.RECOVERED, S.PENDING, S.STUCK, S.FAILED}),
    S.RECOVERED: frozenset({S.FINISHED, S.STUCK}),
    S.SUBMITTED: frozenset({S.FINISHED, S.FAILED, S.TIMED_OUT}),
    S.TIMED_OUT: frozenset({S.SUBMITTED}),
    S.FINISHED: frozenset({S.SAVED, S.FINISHED}),  # finished again: its save failed, with the reason
    S.FAILED: frozenset({S.PENDING}),
    S.BLOCKED: frozenset({S.PENDING}),
    S.SAVED: frozenset(),
    S.STUCK: frozenset(),
}
IN_FLIGHT = frozenset({S.SUBMITTING, S.SUBMITTED, S.UNKNOWN, S.RECOVERED})  # occupy a job slot
DONE = frozenset({S.SAVED})
FINAL_FOR_RUN = frozenset({S.SAVED, S.FAILED, S.TIMED_OUT, S.STUCK, S.BLOCKED})


class IllegalMove(Exception):
    """A segment was asked to move along an edge the table does not have (a bug, never user input)."""


def check(current: Status, new: Status) -> None:
    if new not in TRANSITIONS[current]:
        raise IllegalMove(f"{current} -> {new}")


class Forgotten(Sequence[str]):
    """The message ids of a saved row as memory keeps them: how many, not which (the state file has them;
    `Store.row` reads them back). Iterating them is a bug, and says so."""

    __slots__ = ("_count",)

    def __init__(self, count: int) -> None:
        self._count = count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: Any) -> Any:
        raise LookupError("a saved row's message ids are in the state file: read the row with Store.row(key)")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Forgotten) and other._count == self._count

    def __hash__(self) -> int:
        return hash(("Forgotten", self._count))

    def __repr__(self) -> str:
        return f"Forgotten({self._count})"


NO_EVIDENCE: Mapping[str, Any] = MappingProxyType({})
NO_MESSAGES: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    conversation: str
    idx: int
    fingerprint: str
    status: Status
    conversation_id: str | None
    job_id: str | None
    evidence: Mapping[str, Any]  # what resolves a lost answer: names/ids seen before the request
    message_ids: Sequence[str]  # a saved row in `Store.rows()`: `Forgotten` (the count only)
    attempts: int
    error: str | None

    @property
    def settled(self) -> bool:
        """Kept small in memory: saved, its evidence and message ids left in the state file."""
        return isinstance(self.message_ids, Forgotten)

    def compact(self) -> Row:
        """This saved row as memory keeps it (`settled`)."""
        if self.settled:
            return self
        return dataclasses.replace(self, evidence=NO_EVIDENCE, message_ids=Forgotten(len(self.message_ids)))


@dataclasses.dataclass(frozen=True, slots=True)
class ConversationState:
    """One conversation as the state holds it (`StateStore.conversations()`)."""

    conversation: str
    conversation_id: str | None  # its first segment's, once submitted
    saved: int  # segments saved
    total: int  # segments in the state
