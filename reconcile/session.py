"""Reconciling one conversation: read it, gather evidence, plan, and (unless only planning) apply and verify,
rewrite its outputs with the real names, learn the confirmed voices, and leave a review file for the rest."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

import batch
from reconcile import evidence as evidence_module
from reconcile import planner, review
from reconcile.apply import apply_and_confirm, verify
from reconcile.errors import ApplyError
from reconcile.ledger import Ledger
from reconcile.models import Evidence, Operation, Person, Plan
from reconcile.voice.embedder import Embedder


@dataclass
class Outcome:
    conversation: str
    conversation_id: str
    plan: Plan
    applied: list[Operation] = field(default_factory=list)
    review_file: Path | None = None
    voice_used: bool = False
    unconfirmed: list[Operation] = field(default_factory=list)  # answered 200, effect not shown: sent again next time

    @property
    def named(self) -> int:
        """Members given a person's name (renames carried out, or planned when only planning)."""
        return sum(op.kind == "rename" for op in (self.applied if self.applied else self.plan.operations))

    @property
    def merged(self) -> int:
        return sum(op.kind == "merge" for op in (self.applied if self.applied else self.plan.operations))

    @property
    def for_review(self) -> int:
        """Entries (one per unresolved voice) left in the review file."""
        return len(self.plan.review)


def _segment_of(folder: Path) -> dict[str, int]:
    path = folder / "segments.json"
    ledger = orjson.loads(path.read_bytes()) if path.exists() else []
    return {message_id: index for index, entry in enumerate(ledger) for message_id in entry.get("messageIds", [])}


def _answered(answers: Sequence[review.Answer], conversation_id: str) -> tuple[dict[str, str], list[Operation]]:
    forced, renames = {}, []
    for answer in (a for a in answers if a.conversation_id == conversation_id):
        if answer.identity == "new" and answer.name:
            renames.append(
                Operation(
                    "rename", conversation_id, answer.member_id, answer.name, answer.email or "", answer.member_id
                )
            )
        elif answer.identity not in ("new", "skip"):
            forced[answer.member_id] = answer.identity
    return forced, renames


async def reconcile_conversation(
    client: batch.SymblClient,
    manifest: batch.Manifest,
    conversation: batch.Conversation,
    conversation_id: str,
    *,
    ledger: Ledger,
    embedder: Embedder | None,
    settings: planner.Settings | None = None,
    answers: Sequence[review.Answer] = (),
    write: bool = True,
    on_done: Callable[[Operation], None] = lambda _: None,
    parts: dict[str, Any] | None = None,
) -> Outcome:
    """`parts`: the results the run has just read and saved (members, messages), so they are not read again."""
    folder = batch.conversation_dir(manifest.api.output, conversation.id)
    if parts is not None:
        members_raw, messages = parts["members"], parts["messages"]
    else:
        members_raw = await client.read(conversation_id, "members", "members")
        messages = await client.read(conversation_id, "messages", "messages")
    segment_of = _segment_of(folder)
    members = evidence_module.members_of(conversation_id, members_raw, messages, segment_of)
    media = {i: s.file for i, s in enumerate(conversation.segments)}
    profiles = ledger.profiles()
    roster = [Person(p.name, p.email) for p in manifest.people]

    def weigh() -> tuple[dict[str, np.ndarray], list[Evidence]]:  # seconds of CPU with voice: a thread, not the loop
        voices = evidence_module.member_voices(media, messages, segment_of, embedder) if embedder else {}
        book = evidence_module.VoiceBook(embedder)
        for person in manifest.people:
            book.enrol(person.email, person.enrolment, profiles.get(person.email))
        return voices, evidence_module.gather(members, roster, voices, book)

    voices, gathered = await asyncio.to_thread(weigh)
    forced, renames = _answered(answers, conversation_id)
    settings = settings or planner.Settings(**manifest.reconcile)
    plan = planner.plan(gathered, roster, conversation.participants, settings, forced=forced)
    plan = Plan(plan.operations + tuple(renames), plan.review, plan.assignments, plan.notes)
    outcome = Outcome(conversation.id, conversation_id, plan, voice_used=bool(voices))
    if not write:
        return outcome
    review_path = folder / "review.toml"
    unanswered = [
        item
        for item in plan.review
        if item.member_id not in forced and item.member_id not in {op.member_id for op in renames}
    ]
    if unanswered:
        await batch.write_file(review_path, review.render(conversation.id, unanswered).encode())
        outcome.review_file = review_path
    elif review_path.exists():
        review_path.unlink()

    def done(op: Operation) -> None:
        outcome.applied.append(op)
        on_done(op)

    outcome.unconfirmed = await apply_and_confirm(client, ledger, plan.operations, on_done=done)
    parts = await batch.refresh(
        client, manifest.api.output, conversation.id, conversation_id, title=conversation.name
    )
    problems = verify(plan.operations, parts)
    if problems:
        raise ApplyError(f"{conversation.id}: after applying the plan: " + "; ".join(problems))
    ledger.mark_reconciled(conversation_id, len(conversation.segments))
    names = {p.email: p.name for p in manifest.people}
    for member_id, email in plan.assignments.items():
        if member_id in voices:
            ledger.learn(email, names.get(email, email), voices[member_id])
    return outcome
