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


def _speaker(conv: Conversation, member_id: str | None) -> dict[str, Any]:
    """The `from` of an insight: a member reference plus `userId`, the member's email, else its id (§13 #24).

    `email` stays beside it, as on messages, so one reader handles both; an unknown speaker stays `{}`.
    """
    found = conv.members.get(member_id or "")
    if found is None:
        return {}
    return member(found) | {"userId": found.email if found.email is not None else found.id}


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


def _sentiment(score: float) -> dict[str, Any]:
    return {"polarity": {"score": score}, "suggested": insights.suggested(score)}


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
        out["sentiment"] = _sentiment(m.polarity)
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
        "from": _speaker(conv, i.member_id),
    }
    if i.type != "question":
        out |= {"entities": [], "phrases": [], "definitive": True, "assignee": _ref(conv, i.assignee_id)}
    return out


def topics(conv: Conversation, *, sentiment: bool, parent_refs: bool) -> list[dict[str, Any]]:
    """Each flag adds its own key (§13 #23); without them a topic is {id, text, type, score, messageIds}."""
    hits = insights.topic_hits(tuple(conv.topics), [m.text for m in conv.messages])
    parents = insights.topic_parents(hits)
    out = []
    for t, idx in hits.items():
        topic: dict[str, Any] = {
            "id": conv.topics[t],
            "text": t,
            "type": "topic",
            "score": round(min(1.0, 0.5 + 0.1 * len(idx)), 2),
            "messageIds": [conv.messages[i].id for i in idx],
        }
        if sentiment:
            topic["sentiment"] = _sentiment(insights.mean_polarity([conv.messages[i].polarity for i in idx]))
        if parent_refs:
            topic["parentRefs"] = [{"type": "topic", "text": p} for p in parents[t]]
        out.append(topic)
    return out
