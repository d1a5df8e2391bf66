"""What a completed job adds to its conversation: members, messages, insights (decisions §13 #7-9).

Rule (§13 #7): a segment's messages start at `anchor + offset in the media`, where the anchor of the first
segment is its job's start and the anchor of an append is max(previous segment's last endTime, its job's start).
So segments never overlap, and the gap between them is whatever the queue made it.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable

from batch.emulator import diarize, insights
from batch.emulator.models import Conversation, Insight, Job, Member, Message, Word


def numeric_id(rng: random.Random) -> str:
    return str(rng.randrange(10**15, 10**16))


def uuid_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def anchor(conv: Conversation, job_start_wall: float) -> float:
    return max([job_start_wall] + [m.end for m in conv.messages])


def produce(conv: Conversation, job: Job, *, start_wall: float, seed: int) -> None:
    """Append the job's members, messages and insights to the conversation."""
    rng = random.Random(f"{seed}:{job.id}")
    labels, names = diarize.assign(
        job.utterances, diarization=job.params.diarization, count=job.params.speaker_count, rng=rng
    )
    member_of = {label: uuid_id(rng) for label in names}
    for label_name, member_id in member_of.items():
        conv.members[member_id] = Member(member_id, names[label_name])
    base = anchor(conv, start_wall)
    for utt, label in zip(job.utterances, labels, strict=True):
        message = Message(
            id=numeric_id(rng),
            job_id=job.id,
            member_id=member_of[label] if label is not None else None,
            text=utt.text,
            start=base + utt.start,
            end=base + utt.end,
            words=_words(utt.text, base + utt.start, base + utt.end, rng.random),
            phrases=insights.phrases(utt.text) if job.params.detect_phrases else [],
            polarity=insights.polarity(utt.text),
        )
        conv.messages.append(message)
        job.message_ids.append(message.id)
        for kind in insights.kinds(utt.text):
            assignee = message.member_id if kind != "question" else None
            conv.insights.append(
                Insight(
                    numeric_id(rng),
                    kind,
                    utt.text,
                    round(0.8 + 0.2 * rng.random(), 3),
                    [message.id],
                    message.member_id,
                    assignee,
                )
            )
    for topic in job.topics:
        conv.topics.setdefault(topic, numeric_id(rng))


def _words(text: str, start: float, end: float, draw: Callable[[], float]) -> list[Word]:
    """Word timings spread over the utterance in proportion to word length."""
    tokens = text.split()
    total = sum(len(t) for t in tokens) or 1
    words, at = [], start
    for token in tokens:
        span = (end - start) * len(token) / total
        words.append(Word(token, at, at + span, round(0.85 + 0.15 * draw(), 3)))
        at += span
    return words
