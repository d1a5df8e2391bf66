"""Gathering evidence about every member of a conversation: identity already known, self-introductions, and
voice (when the `voice` extra is installed and the segment's media can be read).

Voice references per person: the enrolment sample and the identity directory's samples, never the speech of
members named in the same conversation (so one decision cannot lend its weight to the next one there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from reconcile import cohort, intros
from reconcile.models import Consistency, Evidence, Member, Person, Quote
from reconcile.voice import audio, consistency
from reconcile.voice.embedder import Embedder


@dataclass
class VoiceBook:
    """Reference voices by person key (an email, or "new:<name>" for people answered as new), and warnings."""

    embedder: Embedder | None
    references: dict[str, list[np.ndarray]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    enrolments: dict[str, np.ndarray] = field(default_factory=dict)  # email -> its enrolment sample's vector

    def enrol(self, email: str, sample: Path | None) -> None:
        if self.embedder is None or sample is None:
            return
        vector = self.embedder.embed_file(sample)
        if vector is None:
            self.warnings.append(f"{sample}: enrolment sample of {email} gives no voice (unreadable or under 1 s)")
            return
        self.references.setdefault(email, []).append(vector)
        self.enrolments[email] = vector

    def add(self, key: str, vector: Sequence[float]) -> None:
        self.references.setdefault(key, []).append(np.asarray(vector, dtype=np.float64))

    def samples(self) -> dict[str, np.ndarray]:
        """Key -> the person's enrolment sample, the cohort of centred scores (`reconcile.cohort`)."""
        return {key: _unit(vector) for key, vector in self.enrolments.items()}

    def reference(self, key: str) -> np.ndarray | None:
        vectors = self.references.get(key)
        if not vectors:
            return None
        return _unit(np.mean(vectors, axis=0))


def _unit(vector: np.ndarray) -> np.ndarray:
    return np.asarray(vector / (np.linalg.norm(vector) or 1.0))


@dataclass
class Heard:
    """What a conversation's media say: each member's voice and its consistency, each message's place."""

    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # member id -> unit embedding of its speech
    consistency: dict[str, Consistency] = field(default_factory=dict)
    times: dict[str, tuple[float, float]] = field(default_factory=dict)  # message id -> seconds in its medium
    samples: dict[int, np.ndarray] = field(default_factory=dict)  # segment -> decoded audio (for review clips)
    warnings: list[str] = field(default_factory=list)


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def relative_times(messages: Sequence[dict[str, Any]], segment_of: Mapping[str, int]) -> dict[str, tuple[float, float]]:
    """Message id -> (start, end) relative to the first message of its segment."""
    origin: dict[int, float] = {}
    for m in messages:
        index = segment_of.get(m["id"], 0)
        origin[index] = min(origin.get(index, float("inf")), _seconds(m["startTime"]))
    return {
        m["id"]: (
            _seconds(m["startTime"]) - origin[segment_of.get(m["id"], 0)],
            _seconds(m["endTime"]) - origin[segment_of.get(m["id"], 0)],
        )
        for m in messages
    }


def members_of(
    conversation_id: str,
    members: Sequence[dict[str, Any]],
    messages: Sequence[dict[str, Any]],
    segment_of: Mapping[str, int],
    times: Mapping[str, tuple[float, float]] | None = None,
) -> list[Member]:
    """Each member with the segment it speaks in, its talk time, its own texts and quotes with times."""
    times = times or relative_times(messages, segment_of)
    spoken: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        member_id = (message.get("from") or {}).get("id")
        if member_id:
            spoken.setdefault(member_id, []).append(message)
    found = []
    for member in members:
        own = spoken.get(member["id"], [])
        segments = [segment_of.get(m["id"], 0) for m in own]
        found.append(
            Member(
                conversation_id,
                member["id"],
                member.get("name", ""),
                (member.get("email") or "").lower() or None,
                min(segments, default=0),
                sum(float(m.get("duration") or 0) for m in own),
                tuple(str(m.get("text", "")) for m in own),
                tuple(Quote(str(m.get("text", "")), *(round(t, 2) for t in times[m["id"]])) for m in own),
            )
        )
    return found


def hear(
    media: Mapping[int, Path | None],
    messages: Sequence[dict[str, Any]],
    segment_of: Mapping[str, int],
    embedder: Embedder,
) -> Heard:
    """Each member's voice, cut from the local media of its segment (aligned by speech activity)."""
    heard = Heard(times=relative_times(messages, segment_of))
    for index, path in media.items():
        mine = [m for m in messages if segment_of.get(m["id"], 0) == index]
        if path is None or not mine:
            continue
        decoded = audio.read_audio(path)
        samples = decoded.samples
        if samples is None:
            heard.warnings.append(decoded.problem or f"{path}: no voice evidence from it")
            continue
        heard.samples[index] = samples
        spans = [heard.times[m["id"]] for m in mine]
        shift = audio.best_shift(spans, audio.activity(samples))
        by_member: dict[str, list[tuple[float, float]]] = {}
        for message, (start, end) in zip(mine, spans, strict=True):
            heard.times[message["id"]] = (start + shift, end + shift)
            member_id = (message.get("from") or {}).get("id")
            if member_id:
                by_member.setdefault(member_id, []).append((start + shift, end + shift))
        for member_id, member_spans in by_member.items():
            vector = embedder.embed(audio.cut(samples, member_spans, 0.0))
            if vector is not None:
                heard.vectors[member_id] = vector
            measured = consistency.measure(embedder.embed_each(consistency.samples_of(samples, member_spans)))
            if measured is not None:
                heard.consistency[member_id] = measured
    return heard


def gather(members: Sequence[Member], roster: Sequence[Person], heard: Heard, book: VoiceBook) -> list[Evidence]:
    references = {key: ref for key in book.references if (ref := book.reference(key)) is not None}
    samples = book.samples()
    kind, centre = cohort.scoring(references, samples)  # ("", None): too few voices on file, raw cosines
    mean = cohort.member_centres(heard.vectors, samples) if kind == "samples" else dict.fromkeys(heard.vectors, 0.0)
    evidence = []
    emails = {p.email for p in roster}
    for member in members:
        by_name = [p.email for p in roster if p.name == member.name]
        known = member.email if member.email in emails else (by_name[0] if len(by_name) == 1 else None)
        vector = heard.vectors.get(member.id)
        voice = (
            {key: round(float(vector @ r) - (centre[key] if centre else 0.0), 4) for key, r in references.items()}
            if vector is not None
            else {}
        )
        peers = {
            other.id: round(float(vector @ heard.vectors[other.id]) - (mean[member.id] + mean[other.id]) / 2, 4)
            for other in members
            if vector is not None and other.id != member.id and other.id in heard.vectors
        }
        evidence.append(
            Evidence(
                member,
                known,
                intros.introduced(member.texts, roster),
                voice,
                peers,
                heard.consistency.get(member.id),
                centred=kind,
            )
        )
    return evidence
