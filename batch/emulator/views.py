"""JSON shapes of the Conversation API (contract §2, §6, §7), rendered from the backend's records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from batch.emulator import insights
from batch.emulator.models import Conversation, Insight, Member, Message


def _ms(epoch: float) -> int:
    return round(epoch * 1000)


def iso(epoch: float) -> str:
    """ISO-8601 UTC with milliseconds and Z; offsets and durations are computed from the same milliseconds."""
    ms = _ms(epoch)
    stamp = datetime.fromtimestamp(ms // 1000, UTC) + timedelta(milliseconds=ms % 1000)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _seconds(start: float, end: float) -> float:
    return round((_ms(end) - _ms(start)) / 1000, 2)


def member(m: Member) -> dict[str, Any]:
    out: dict[str, Any] = {"id": m.id, "name": m.name}
    if m.email is not None:
        out["email"] = m.email
    return out


def _ref(conv: Conversation, member_id: str | None) -> dict[str, Any]:
    """A `from`/`assignee` object: follows renames and merges because it is resolved at read time."""
    found = conv.members.get(member_id or "")
    return member(found) if found is not None else {}


def conversation(conv: Conversation) -> dict[str, Any]:
    start = conv.messages[0].start if conv.messages else conv.created_wall
    end = max((m.end for m in conv.messages), default=conv.created_wall)
    return {
        "id": conv.id,
        "type": "meeting",
        "name": conv.name,
        "startTime": iso(start),
        "endTime": iso(end),
        "members": [member(m) for m in conv.members.values()],
        "metadata": {},
    }


def message(conv: Conversation, m: Message, *, verbose: bool, sentiment: bool) -> dict[str, Any]:
    origin = conv.messages[0].start
    out: dict[str, Any] = {
        "id": m.id,
        "text": m.text,
        "from": _ref(conv, m.member_id),
        "startTime": iso(m.start),
        "endTime": iso(m.end),
        "timeOffset": _seconds(origin, m.start),
        "duration": _seconds(m.start, m.end),
        "conversationId": conv.id,
    }
    if m.phrases:
        out["phrases"] = m.phrases
    if sentiment:
        out["sentiment"] = {"polarity": {"score": m.polarity}, "suggested": insights.suggested(m.polarity)}
    if verbose:
        out["words"] = [
            {
                "word": w.text,
                "startTime": iso(w.start),
                "endTime": iso(w.end),
                "score": w.score,
                "timeOffset": _seconds(origin, w.start),
                "duration": _seconds(w.start, w.end),
            }
            for w in m.words
        ]
    return out


def insight(conv: Conversation, i: Insight) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": i.id,
        "text": i.text,
        "type": i.type,
        "score": i.score,
        "messageIds": list(i.message_ids),
        "from": _ref(conv, i.member_id),
    }
    if i.type != "question":
        out |= {"entities": [], "phrases": [], "definitive": True, "assignee": _ref(conv, i.assignee_id)}
    return out


def topics(conv: Conversation) -> list[dict[str, Any]]:
    texts = [m.text for m in conv.messages]
    hits = insights.topic_hits(tuple(conv.topics), texts)
    return [
        {
            "id": conv.topics[t],
            "text": t,
            "type": "topic",
            "score": round(min(1.0, 0.5 + 0.1 * len(idx)), 2),
            "messageIds": [conv.messages[i].id for i in idx],
        }
        for t, idx in hits.items()
    ]
