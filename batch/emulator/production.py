"""What a completed job adds to its conversation: members, messages, insights (decisions §13 #7-9).

Rule (§13 #7): a segment's messages start at `anchor + offset in the media`, where the anchor of the first
segment is its job's start and the anchor of an append is max(previous segment's last endTime, its job's start),
raised to a whole millisecond, and every time is that anchor plus the medium's offset, both in whole
milliseconds. So segments never overlap, the gap between them is whatever the queue made it, and the times the
API reports (in milliseconds) are the medium's offsets exactly: the same media give the same times relative to
their segment in every run, whatever the clock read (with a fractional anchor, a few messages moved by a
millisecond from run to run, and so did a client's cut of each member's speech).
"""

from __future__ import annotations

import math
import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from batch.emulator import diarize, insights, topics
from batch.emulator.models import Conversation, Insight, Job, Member, Message, Word
from speech.models import Transcript


def numeric_id(rng: random.Random) -> str:
    return str(rng.randrange(10**15, 10**16))


def uuid_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def anchor_ms(conv: Conversation, job_start_wall: float) -> int:
    """The segment's anchor, in whole milliseconds."""
    return math.ceil(max([job_start_wall] + [m.end for m in conv.messages]) * 1000)


@dataclass(frozen=True, slots=True)
class Said:
    """One utterance as the job heard it: seconds in the medium, its voice label (None without diarization)."""

    label: str | None
    start: float
    end: float
    text: str
    words: tuple[tuple[str, float, float, float], ...] | None  # (text, start, end, score); None: spread evenly


def produce(conv: Conversation, job: Job, *, start_wall: float, seed: int) -> None:
    """Scripted mode: the job's script, diarized by the rules of `diarize`, becomes members, messages, insights."""
    rng = random.Random(f"{seed}:{job.id}")
    labels, names = diarize.assign(
        job.utterances, diarization=job.params.diarization, count=job.params.speaker_count, rng=rng
    )
    said = [Said(label, u.start, u.end, u.text, None) for u, label in zip(job.utterances, labels, strict=True)]
    _add(conv, job, said, names, job.topics, start_wall=start_wall, rng=rng)


def produce_recognised(conv: Conversation, job: Job, heard: Transcript, *, start_wall: float) -> None:
    """Real mode: what the speech pipeline heard becomes members (`Speaker n` by order of first speech), messages
    with the recognised words and confidences, insights and topics of the recognised text. Ids are random."""
    rng = random.Random(secrets.randbits(64))
    said = [
        Said(
            None if u.speaker is None else str(u.speaker),
            u.start,
            u.end,
            u.text,
            tuple((w.text, w.start, w.end, round(w.probability, 3)) for w in u.words),
        )
        for u in heard.utterances
    ]
    labels = list(dict.fromkeys(s.label for s in said if s.label is not None))
    names = {label: f"Speaker {n}" for n, label in enumerate(labels, 1)}
    _add(conv, job, said, names, topics.topics([s.text for s in said]), start_wall=start_wall, rng=rng)


def _add(
    conv: Conversation,
    job: Job,
    said: list[Said],
    names: dict[str, str],
    topic_list: tuple[str, ...],
    *,
    start_wall: float,
    rng: random.Random,
) -> None:
    member_of = {label: uuid_id(rng) for label in names}
    for label_name, member_id in member_of.items():
        conv.members[member_id] = Member(member_id, names[label_name])
    base = anchor_ms(conv, start_wall)

    def at(offset: float) -> float:  # whole milliseconds, added as integers: no rounding of the sum can differ
        return (base + round(offset * 1000)) / 1000

    for utt in said:
        message_id = numeric_id(rng)  # drawn before the words: scripted ids stay what they were for a seed
        if utt.words is None:
            words = _words(utt.text, at(utt.start), at(utt.end), rng.random)
        else:
            words = [Word(t, at(a), at(b), score) for t, a, b, score in utt.words]
        message = Message(
            id=message_id,
            job_id=job.id,
            member_id=member_of[utt.label] if utt.label is not None else None,
            text=utt.text,
            start=at(utt.start),
            end=at(utt.end),
            words=words,
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
    for topic in topic_list:
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
