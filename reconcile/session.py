"""Reconciling one conversation: read it, gather evidence, plan, and (unless only planning) apply and confirm,
rewrite its outputs with the real names, keep the decided voices in the identity directory, and leave a review
file (with a clip per voice) for the rest.

Rules: the answers that count are the ones given for this conversation, now or earlier (remembered in the
ledger); a conversation is planned against the identity directory as it was when it was first reconciled, so
planning it again right after proposes nothing new; only members whose speech is one voice, with at least
`LEARN_SECONDS` of it, lend their voice to the directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

import batch
from reconcile import clips, planner, review
from reconcile import evidence as evidence_module
from reconcile.apply import apply_and_confirm, verify
from reconcile.errors import ApplyError
from reconcile.ledger import Ledger
from reconcile.models import Evidence, Member, Operation, Person, Plan

LEARN_SECONDS = 4.0
Choice = tuple[str, str | None, str | None]  # identity, new name, email


@dataclass
class Outcome:
    conversation: str
    conversation_id: str
    plan: Plan
    applied: list[Operation] = field(default_factory=list)
    review_file: Path | None = None
    voice_used: bool = False
    unconfirmed: list[Operation] = field(default_factory=list)  # answered 200, effect not shown: sent again next time
    warnings: list[str] = field(default_factory=list)

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


def choices(
    answers: Sequence[review.Answer], remembered: Mapping[str, Choice], conversation_id: str
) -> dict[str, Choice]:
    """Member id -> the answer that holds for it: this review file's, else one given earlier."""
    found = dict(remembered)
    for answer in (a for a in answers if a.conversation_id == conversation_id):
        for member_id in answer.member_ids:
            found[member_id] = (answer.identity, answer.name, answer.email)
    return found


def new_people(chosen: Mapping[str, Choice], members: Sequence[Member]) -> list[Operation]:
    """Operations for members answered "new": the earliest renamed, the others merged into it (with an email)
    or given the same name (without one: the API merges only by email)."""
    by_person: dict[tuple[str, str], list[Member]] = {}
    for member in members:
        identity, name, email = chosen.get(member.id, ("", None, None))
        if identity == "new" and name:
            by_person.setdefault((name, email or ""), []).append(member)
    operations = []
    for (name, email), found in sorted(by_person.items()):
        ordered = sorted(found, key=lambda m: (m.email != (email or None), m.segment, -m.talk_seconds, m.id))
        survivor = ordered[0]
        for member in ordered:
            if member is survivor or not email:
                if (member.name, member.email or "") != (name, email):
                    operations.append(Operation("rename", member.conversation_id, member.id, name, email, member.id))
            else:
                operations.append(Operation("merge", member.conversation_id, member.id, name, email, survivor.id))
    return sorted(operations, key=lambda op: op.kind != "rename")


async def reconcile_conversation(
    client: batch.SymblClient,
    manifest: batch.Manifest,
    conversation: batch.Conversation,
    conversation_id: str,
    *,
    ledger: Ledger,
    embedder: Any,
    settings: planner.Settings | None = None,
    answers: Sequence[review.Answer] = (),
    write: bool = True,
    on_done: Callable[[Operation], None] = lambda _: None,
    parts: dict[str, Any] | None = None,
) -> Outcome:
    """`parts`: the results the run has just read and saved (members, messages), so they are not read again.
    `embedder`: a `reconcile.Embedder`, or None for no voice evidence."""
    folder = batch.conversation_dir(manifest.api.output, conversation.id)
    if parts is not None:
        members_raw, messages = parts["members"], parts["messages"]
    else:
        members_raw = await client.read(conversation_id, "members", "members")
        messages = await client.read(conversation_id, "messages", "messages")
    segment_of = _segment_of(folder)
    media = {i: s.file for i, s in enumerate(conversation.segments)}
    roster = [Person(p.name, p.email) for p in manifest.people]
    before = ledger.reconciled_at(conversation_id, len(conversation.segments))
    profiles = ledger.profiles(excluding=conversation_id, before=before)
    chosen = choices(answers, ledger.answers(conversation_id), conversation_id)
    asked = {m: q for m, q in ledger.asked(conversation_id).items() if m not in chosen}

    def weigh() -> tuple[evidence_module.Heard, list[str], list[Member], list[Evidence]]:  # CPU: not on the loop
        if embedder is not None:
            heard = evidence_module.hear(media, messages, segment_of, embedder)
        else:
            heard = evidence_module.Heard(times=evidence_module.relative_times(messages, segment_of))
        book = evidence_module.VoiceBook(embedder)
        for person in manifest.people:
            book.enrol(person.email, person.enrolment)
        if embedder is not None:
            for key, vectors in profiles.items():
                for vector in vectors:
                    book.add(key, vector)
        members = evidence_module.members_of(conversation_id, members_raw, messages, segment_of, heard.times)
        return heard, book.warnings, members, evidence_module.gather(members, roster, heard, book)

    heard, warnings, members, gathered = await asyncio.to_thread(weigh)
    forced = {m: c[0] for m, c in chosen.items() if c[0] not in ("new", "skip")}
    settled = frozenset(m for m, c in chosen.items() if c[0] in ("new", "skip"))
    settings = settings or planner.Settings(**manifest.reconcile)
    plan = planner.plan(
        gathered, roster, conversation.participants, settings, forced=forced, settled=settled, asked=asked
    )
    plan = Plan(
        plan.operations + tuple(new_people(chosen, members)),
        plan.review,
        plan.assignments,
        plan.reasons,
        plan.notes + tuple(heard.warnings) + tuple(warnings),
        plan.held,
    )
    outcome = Outcome(conversation.id, conversation_id, plan, voice_used=bool(heard.vectors), warnings=warnings)
    if not write:
        return outcome
    outcome.review_file = await _write_review(folder, conversation.id, plan, heard)

    def done(op: Operation) -> None:
        outcome.applied.append(op)
        on_done(op)

    outcome.unconfirmed = await apply_and_confirm(client, ledger, plan.operations, on_done=done)
    parts = await batch.refresh(client, manifest.api.output, conversation.id, conversation_id, title=conversation.name)
    confirmed = [op for op in plan.operations if op not in outcome.unconfirmed]
    problems = verify(confirmed, parts)
    if problems:
        raise ApplyError(f"{conversation.id}: after applying the plan: " + "; ".join(problems))
    for answer in (a for a in answers if a.conversation_id == conversation_id):
        for member_id in answer.member_ids:
            ledger.remember(conversation_id, member_id, answer.identity, answer.name, answer.email)
    for member_id, (voice, reason) in plan.held.items():
        ledger.ask(conversation_id, member_id, voice, reason)
    if before is None:
        ledger.mark_reconciled(conversation_id, len(conversation.segments))
    _learn(ledger, manifest, conversation_id, plan=plan, chosen=chosen, gathered=gathered, heard=heard)
    return outcome


async def _write_review(folder: Path, conversation: str, plan: Plan, heard: evidence_module.Heard) -> Path | None:
    path = folder / "review.toml"
    await asyncio.to_thread(clips.clear, folder)
    if not plan.review:
        path.unlink(missing_ok=True)
        return None
    names: list[str | None] = []
    for item in plan.review:
        samples = clips.samples_of(item, heard.samples)
        if samples is None:
            names.append(None)
            continue
        names.append(clips.name_of(item))
        await asyncio.to_thread(clips.write, folder / clips.name_of(item), samples)
    await batch.write_file(path, review.render(conversation, plan.review, names).encode())
    return path


def _learn(
    ledger: Ledger,
    manifest: batch.Manifest,
    conversation_id: str,
    *,
    plan: Plan,
    chosen: Mapping[str, Choice],
    gathered: Sequence[Evidence],
    heard: evidence_module.Heard,
) -> None:
    """Keep each decided or answered member's voice in the directory, when it is one voice with enough speech."""
    names = {p.email: p.name for p in manifest.people}
    people: dict[str, tuple[str, str]] = {m: (e, names.get(e, e)) for m, e in plan.assignments.items()}
    for member_id, (identity, name, email) in chosen.items():
        if identity == "new" and name:
            people[member_id] = (email or f"new:{name.lower()}", name)
    by_id = {e.member.id: e for e in gathered}
    for member_id, (person, name) in people.items():
        e, vector = by_id.get(member_id), heard.vectors.get(member_id)
        if e is None or vector is None or e.member.talk_seconds < LEARN_SECONDS:
            continue
        source = "answer" if member_id in chosen else plan.reasons.get(member_id, "decided")
        ledger.learn(person, name, vector, conversation_id=conversation_id, member_id=member_id, source=source)
