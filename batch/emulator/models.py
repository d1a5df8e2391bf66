"""Records of the emulated account and the job state machine (a table, applied by one function)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from batch.emulator.corpus import Utterance
from batch.emulator.media import MediaInfo
from batch.emulator.params import AsyncParams


class JobStatus(StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.SCHEDULED: frozenset({JobStatus.IN_PROGRESS, JobStatus.FAILED}),
    JobStatus.IN_PROGRESS: frozenset({JobStatus.COMPLETED, JobStatus.FAILED}),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
}
ACTIVE = frozenset({JobStatus.SCHEDULED, JobStatus.IN_PROGRESS})


@dataclass(slots=True)
class Member:
    id: str
    name: str
    email: str | None = None


@dataclass(slots=True)
class Word:
    text: str
    start: float  # wall-clock epoch seconds
    end: float
    score: float


@dataclass(slots=True)
class Message:
    id: str
    job_id: str
    member_id: str | None  # None without diarization: rendered as `from: {}`
    text: str
    start: float  # wall-clock epoch seconds
    end: float
    words: list[Word]
    phrases: list[dict[str, str]]
    polarity: float


@dataclass(slots=True)
class Insight:
    id: str
    type: str  # question | action_item | follow_up
    text: str
    score: float
    message_ids: list[str]
    member_id: str | None
    assignee_id: str | None


@dataclass(slots=True)
class Job:
    id: str
    conversation_id: str
    order: int  # account-wide submission order
    media: MediaInfo
    utterances: tuple[Utterance, ...]
    topics: tuple[str, ...]
    params: AsyncParams
    will_fail: bool
    submitted_at: float  # clock seconds
    status: JobStatus = JobStatus.SCHEDULED
    started_at: float | None = None
    ends_at: float | None = None
    message_ids: list[str] = field(default_factory=list)
    status_requests: int = 0  # GET /v1/job answers for this job
    reported_at: float | None = None  # clock seconds of the first answer that gave its terminal status
    media_path: Path | None = None  # real mode: the stored upload a worker processes
    failure: str | None = None  # why a failed job failed (control plane and server log; not in the API)


@dataclass(slots=True)
class Conversation:
    id: str
    name: str
    created_wall: float
    job_ids: list[str] = field(default_factory=list)
    members: dict[str, Member] = field(default_factory=dict)  # creation order (§13 #17)
    messages: list[Message] = field(default_factory=list)
    insights: list[Insight] = field(default_factory=list)
    topics: dict[str, str] = field(default_factory=dict)  # topic text -> stable id


@dataclass(slots=True)
class Token:
    value: str
    expires_at: float  # clock seconds


class IllegalTransition(Exception):
    """A job was asked to move along an edge the state table does not have (an emulator bug)."""


def move(job: Job, to: JobStatus) -> None:
    if to not in TRANSITIONS[job.status]:
        raise IllegalTransition(f"job {job.id}: {job.status} -> {to}")
    job.status = to
