"""The backend's records as storage rows and back (column order: `storage.UPSERT`).

Rules:
- rows hold wall-clock epoch seconds; records hold the backend clock's seconds for jobs and tokens (`Timebase`
  converts), wall seconds for everything a conversation shows;
- structured values (parameters, media script, word timings, id lists) are JSON; parameters are written field by
  field and read back by the fields `AsyncParams` has now, so a field added later reads as its default.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import orjson

from batch.emulator.corpus import Utterance
from batch.emulator.media import MediaInfo
from batch.emulator.models import Conversation, Insight, Job, JobStatus, Member, Message, Token, Word
from batch.emulator.params import AsyncParams
from batch.emulator.storage import Row, Saved


@dataclass(frozen=True, slots=True)
class Timebase:
    """Converts between the backend's clock seconds and wall-clock epoch seconds."""

    to_wall: Callable[[float], float]
    to_clock: Callable[[float], float]

    def wall(self, at: float | None) -> float | None:
        return None if at is None else self.to_wall(at)

    def clock(self, wall: float | None) -> float | None:
        return None if wall is None else self.to_clock(wall)


def dump(value: Any) -> bytes:
    return orjson.dumps(value)


def params_out(params: AsyncParams) -> bytes:
    return dump({f.name: getattr(params, f.name) for f in fields(params)})


def params_in(raw: bytes) -> AsyncParams:
    stored = orjson.loads(raw)
    kinds = {f.name: f for f in fields(AsyncParams)}
    values: dict[str, Any] = {
        name: tuple(value) if isinstance(kinds[name].default, tuple) and isinstance(value, list) else value
        for name, value in stored.items()
        if name in kinds
    }
    return AsyncParams(**values)


def rng_out(rng: random.Random) -> bytes:
    return dump(rng.getstate())


def rng_in(raw: bytes, rng: random.Random) -> None:
    version, internal, gauss = orjson.loads(raw)
    rng.setstate((version, tuple(internal), gauss))


def conversation_row(conv: Conversation) -> Row:
    return (conv.id, conv.name, conv.created_wall)


def job_row(job: Job, time: Timebase) -> Row:
    media = job.media
    scheduled = time.to_wall(job.submitted_at)
    return (
        *(job.id, job.order, job.conversation_id, job.status.value, scheduled, scheduled),
        *(time.wall(job.started_at), time.wall(job.ends_at), time.wall(job.reported_at), job.status_requests),
        *(int(job.will_fail), media.kind, media.sha256, media.size, media.duration, params_out(job.params)),
        dump([(u.speaker, u.start, u.end, u.text) for u in job.utterances]),
        *(dump(list(job.topics)), dump(job.message_ids), job.failure),
    )


def job_from(row: Row, time: Timebase) -> Job:
    (job_id, order, conversation_id, status, _submitted, scheduled, started, ends, reported, polls) = row[:10]
    (will_fail, kind, sha256, size, duration, params, utterances, topics, message_ids, failure) = row[10:]
    return Job(
        job_id,
        conversation_id,
        order,
        MediaInfo(kind, sha256, size, duration),
        tuple(Utterance(*u) for u in orjson.loads(utterances)),
        tuple(orjson.loads(topics)),
        params_in(params),
        bool(will_fail),
        time.to_clock(scheduled),
        status=JobStatus(status),
        started_at=time.clock(started),
        ends_at=time.clock(ends),
        message_ids=list(orjson.loads(message_ids)),
        status_requests=polls,
        reported_at=time.clock(reported),
        failure=failure,
    )


def member_row(conversation_id: str, member: Member) -> Row:
    return (conversation_id, member.id, member.name, member.email)


def message_row(conversation_id: str, m: Message) -> Row:
    words = dump([(w.text, w.start, w.end, w.score) for w in m.words])
    return (conversation_id, m.id, m.job_id, m.member_id, m.text, m.start, m.end, words, dump(m.phrases), m.polarity)


def message_from(row: Row) -> Message:
    _, message_id, job_id, member_id, text, start, end, words, phrases, polarity = row
    said = [Word(*w) for w in orjson.loads(words)]
    return Message(message_id, job_id, member_id, text, start, end, said, orjson.loads(phrases), polarity)


def insight_row(conversation_id: str, i: Insight) -> Row:
    return (conversation_id, i.id, i.type, i.text, i.score, dump(i.message_ids), i.member_id, i.assignee_id)


def insight_from(row: Row) -> Insight:
    _, insight_id, kind, text, score, message_ids, member_id, assignee_id = row
    return Insight(insight_id, kind, text, score, list(orjson.loads(message_ids)), member_id, assignee_id)


def token_row(token: Token, app_id: str, time: Timebase) -> Row:
    return (token.value, app_id, time.to_wall(token.expires_at))


def conversations_from(saved: Saved) -> dict[str, Conversation]:
    """Conversations with their members, messages, insights and topics, in creation order (job ids apart)."""
    convs = {cid: Conversation(cid, name, created) for cid, name, created in saved.conversations}
    for cid, member_id, name, email in saved.members:
        if cid in convs:
            convs[cid].members[member_id] = Member(member_id, name, email)
    for row in saved.messages:
        if row[0] in convs:
            convs[row[0]].messages.append(message_from(row))
    for row in saved.insights:
        if row[0] in convs:
            convs[row[0]].insights.append(insight_from(row))
    for cid, text, topic_id in saved.topics:
        if cid in convs:
            convs[cid].topics[text] = topic_id
    return convs
