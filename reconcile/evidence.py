"""Gathering evidence about every member of a conversation: identity already known, self-introductions,
and voice (when the `voice` extra is installed and the segment's media is a local WAV).

Voice references per person: the enrolment sample, the profile kept in the identity directory, and the
speech of members that already carry that person's email (identified in earlier segments or runs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from reconcile import intros
from reconcile.models import Evidence, Member, Person
from reconcile.voice import audio
from reconcile.voice.embedder import Embedder


@dataclass
class VoiceBook:
    """Reference voices by email, and a cache of enrolment embeddings."""

    embedder: Embedder | None
    references: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def enrol(self, email: str, sample: Path | None, profile: Sequence[float] | None) -> None:
        if self.embedder is None:
            return
        vector = self.embedder.embed_file(sample) if sample is not None else None
        if vector is not None:
            self.references.setdefault(email, []).append(vector)
        if profile is not None:
            self.references.setdefault(email, []).append(np.asarray(profile, dtype=np.float64))

    def reference(self, email: str) -> np.ndarray | None:
        vectors = self.references.get(email)
        if not vectors:
            return None
        mean = np.mean(vectors, axis=0)
        return np.asarray(mean / (np.linalg.norm(mean) or 1.0))


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def members_of(
    conversation_id: str,
    members: Sequence[dict[str, Any]],
    messages: Sequence[dict[str, Any]],
    segment_of: Mapping[str, int],
) -> list[Member]:
    """Each member with the segment it speaks in, its talk time and its own texts."""
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
            )
        )
    return found


def member_voices(
    media: Mapping[int, Path | None],
    messages: Sequence[dict[str, Any]],
    segment_of: Mapping[str, int],
    embedder: Embedder,
) -> dict[str, np.ndarray]:
    """Member id -> embedding of its speech, cut from the local media of its segment (aligned by activity)."""
    voices: dict[str, np.ndarray] = {}
    for index, path in media.items():
        samples = audio.read_wav(path) if path is not None else None
        mine = [m for m in messages if segment_of.get(m["id"]) == index]
        if samples is None or not mine:
            continue
        origin = min(_seconds(m["startTime"]) for m in mine)
        spans = [(_seconds(m["startTime"]) - origin, _seconds(m["endTime"]) - origin) for m in mine]
        shift = audio.best_shift(spans, audio.activity(samples))
        by_member: dict[str, list[tuple[float, float]]] = {}
        for message, span in zip(mine, spans, strict=True):
            member_id = (message.get("from") or {}).get("id")
            if member_id:
                by_member.setdefault(member_id, []).append(span)
        for member_id, member_spans in by_member.items():
            vector = embedder.embed(audio.cut(samples, member_spans, shift))
            if vector is not None:
                voices[member_id] = vector
    return voices


def gather(
    members: Sequence[Member], roster: Sequence[Person], voices: Mapping[str, np.ndarray], book: VoiceBook
) -> list[Evidence]:
    emails = {p.email for p in roster}
    for member in members:  # members already carrying an identity lend their voice to that person
        if member.email in emails and member.id in voices:
            book.references.setdefault(member.email, []).append(voices[member.id])
    references = {p.email: ref for p in roster if (ref := book.reference(p.email)) is not None}
    evidence = []
    for member in members:
        by_name = [p.email for p in roster if p.name == member.name]
        known = member.email if member.email in emails else (by_name[0] if len(by_name) == 1 else None)
        vector = voices.get(member.id)
        voice = {e: float(vector @ r) for e, r in references.items()} if vector is not None else {}
        peers = {
            o.id: float(vector @ voices[o.id])
            for o in members
            if vector is not None and o.id != member.id and o.segment == member.segment and o.id in voices
        }
        evidence.append(Evidence(member, known, intros.introduced(member.texts, roster), voice, peers))
    return evidence
