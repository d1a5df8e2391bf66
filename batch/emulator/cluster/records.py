"""Conversations and jobs as the shared database holds them, read into the backend's records and written back.

The columns mirror the embedded store's (storage.py), so the same row converters (rows.py) read them; times are
wall-clock epoch seconds throughout (every process reads one database clock, none keeps its own).
"""

from __future__ import annotations

import orjson

from batch.emulator import rows
from batch.emulator.cluster.database import Row, Tx
from batch.emulator.corpus import Utterance
from batch.emulator.media import MediaInfo
from batch.emulator.models import Conversation, Job, JobStatus, Member

ACTIVE_STATES = ("scheduled", "in_progress")
JOB_COLUMNS = (
    "id, seq, conversation_id, status, submitted_at, started_at, ended_at, reported_at, status_requests, will_fail,"
    " media_kind, media_sha256, media_size, media_duration, params, utterances, topics, message_ids, failure"
)
MESSAGE_COLUMNS = 'conversation_id, id, job_id, member_id, text, start, "end", words, phrases, polarity'
INSIGHT_COLUMNS = "conversation_id, id, type, text, score, message_ids, member_id, assignee_id"


def job_from(row: Row) -> Job:
    (job_id, seq, conversation_id, status, submitted, started, ended, reported, polls, will_fail) = row[:10]
    (kind, sha256, size, duration, params, utterances, topics, message_ids, failure) = row[10:]
    return Job(
        job_id,
        conversation_id,
        int(seq),
        MediaInfo(kind, sha256, int(size), float(duration)),
        tuple(Utterance(*u) for u in orjson.loads(bytes(utterances))),
        tuple(orjson.loads(bytes(topics))),
        rows.params_in(bytes(params)),
        bool(will_fail),
        submitted,
        status=JobStatus(status),
        started_at=started,
        ends_at=ended,
        message_ids=list(orjson.loads(bytes(message_ids))) if message_ids is not None else [],
        status_requests=int(polls),
        reported_at=reported,
        failure=failure,
    )


def load_job(tx: Tx, job_id: str) -> Job | None:
    found = tx.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = %s", (job_id,))  # noqa: S608 - constants
    return job_from(found[0]) if found else None


def load_conversation(tx: Tx, conversation_id: str, *, lock: bool = False) -> Conversation | None:
    """The conversation with its members, messages, insights and topics in creation order, and its job ids;
    with `lock`, its row is locked until the transaction ends (a merge or a job's results are being written)."""
    query = (
        "SELECT id, name, created_at FROM conversations WHERE id = %s {lock}"
        if lock
        else ("SELECT id, name, created_at FROM conversations WHERE id = %s")
    )
    found = tx.execute(query, (conversation_id,))
    if not found:
        return None
    conv = Conversation(found[0][0], found[0][1], float(found[0][2]))
    key = (conversation_id,)
    conv.job_ids = [r[0] for r in tx.execute("SELECT id FROM jobs WHERE conversation_id = %s ORDER BY seq", key)]
    for member_id, name, email in tx.execute(
        "SELECT id, name, email FROM members WHERE conversation_id = %s ORDER BY seq", key
    ):
        conv.members[member_id] = Member(member_id, name, email)
    for row in tx.execute(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = %s ORDER BY seq", key):  # noqa: S608
        conv.messages.append(rows.message_from(_bytes(row)))
    for row in tx.execute(f"SELECT {INSIGHT_COLUMNS} FROM insights WHERE conversation_id = %s ORDER BY seq", key):  # noqa: S608
        conv.insights.append(rows.insight_from(_bytes(row)))
    for text, topic_id in tx.execute("SELECT text, id FROM topics WHERE conversation_id = %s ORDER BY seq", key):
        conv.topics[text] = topic_id
    return conv


def _bytes(row: Row) -> Row:
    """PostgreSQL hands BYTEA back as memoryview; the converters read bytes."""
    return tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)


def put_produced(tx: Tx, conv: Conversation, job: Job, known_members: set[str], known_topics: set[str]) -> None:
    """Write what `job` added to `conv` (members not in `known_members`, its messages, the insights on them,
    topics not in `known_topics`)."""
    produced = set(job.message_ids)
    tx.executemany(
        "INSERT INTO members (conversation_id, id, name, email) VALUES (%s, %s, %s, %s)",
        [rows.member_row(conv.id, m) for m in conv.members.values() if m.id not in known_members],
    )
    tx.executemany(
        f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
        [rows.message_row(conv.id, m) for m in conv.messages if m.id in produced],
    )
    tx.executemany(
        f"INSERT INTO insights ({INSIGHT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
        [rows.insight_row(conv.id, i) for i in conv.insights if any(m in produced for m in i.message_ids)],
    )
    tx.executemany(
        "INSERT INTO topics (conversation_id, text, id) VALUES (%s, %s, %s)",
        [(conv.id, text, topic_id) for text, topic_id in conv.topics.items() if text not in known_topics],
    )
