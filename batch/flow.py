"""One segment's way through the API: submit, poll, resolve a lost answer, save. The runner starts these.

Rules:
- the evidence that resolves a lost answer is read before the intent is written, and written with it:
  for a create, the ids of conversations that already carry our deterministic name; for an append, the
  message ids the conversation already has (symbl-api.md §13 #18);
- a lost create is resolved by listing conversations by name after a grace period: exactly one new id → it
  is ours (recovered); none → it never happened (pending, safe to resend); more → stuck;
- a lost append is resolved by watching the conversation's messages: new ones that stop changing → it
  happened; none before the decision deadline → stuck (a person decides; it is never resent blindly);
- results are read only after the job is `completed` (§13 #12), and the slot is released at that moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from batch import outputs
from batch.client import Submitted, SymblClient
from batch.errors import ApiError, InputError, NotFound, OutcomeUnknown, RateLimited, Refused
from batch.events import Event, EventSink
from batch.lifecycle import Status
from batch.media import CONTENT_TYPES, sniff
from batch.models import Conversation, Manifest, Segment
from batch.planner import ASSUMED_SPEED, estimated_seconds
from batch.polling import PollPlan
from batch.slots import SlotController
from batch.store import StateStore

AfterConversation = Callable[[Conversation, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Timing:
    """Polling and recovery timings (seconds). Tests shrink them; defaults suit the real service."""

    first_poll_min: float = 1.0
    poll_growth: float = 1.5
    poll_cap: float = 30.0
    job_timeout: float = 4 * 3600.0
    lost_answer_grace: float = 5.0
    undecided_after: float = 600.0
    speed_guess: float | None = None  # processing seconds per media second if known beforehand (else learned)
    poll_nudge: float = 0.02  # polls after a job's predicted end: this share of the prediction, doubling
    poll_target: float = 0.8  # share of jobs that should have ended when first asked at their prediction
    poll_errors_allowed: int = 8  # consecutive failed polls (each already retried) before the job counts as failed
    max_attempts: int = 5  # sends of one segment that never took effect before it is reported (429s not counted)


class Flow:
    def __init__(
        self,
        manifest: Manifest,
        client: SymblClient,
        store: StateStore,
        slots: SlotController,
        *,
        timing: Timing,
        emit: EventSink,
        wake: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.manifest, self.client, self.store, self.slots = manifest, client, store, slots
        self.timing, self.emit, self.wake, self.clock, self.sleep = timing, emit, wake, clock, sleep
        self.conversations = {c.id: c for c in manifest.conversations}
        self.polling = PollPlan(
            first=timing.first_poll_min,
            growth=timing.poll_growth,
            cap=timing.poll_cap,
            nudge=timing.poll_nudge,
            target=timing.poll_target,
            speed=timing.speed_guess,
        )
        self.sending = 0  # submissions started (by the runner) whose answer has not come yet
        self.webhook_url: str | None = None  # set when the receiver listens: sent with every submission
        self.after_conversation: AfterConversation | None = None  # e.g. reconciliation, once a conversation is done
        self._notices: dict[str, asyncio.Event] = {}
        self.prepared: dict[str, dict[str, Any]] = {}  # evidence read ahead for the next submission, by key
        self._saving = asyncio.Semaphore(4)  # results reads at once: they may wait, submissions and polls not

    @property
    def speed(self) -> float:
        """Processing seconds per media second: as learned, else the planner's assumption (for ETAs)."""
        return self.polling.speed if self.polling.speed is not None else ASSUMED_SPEED

    def notice(self, job_id: str) -> None:
        """A webhook named this job: its poller looks now instead of at the end of its wait."""
        self._notices.setdefault(job_id, asyncio.Event()).set()

    async def _wait_for_job(self, job_id: str, seconds: float) -> None:
        if self.webhook_url is None:
            await self.sleep(seconds)
            return
        event = self._notices.setdefault(job_id, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):  # not wait_for: on 3.11 it can swallow a cancellation
                await event.wait()
        event.clear()

    def _event(self, name: str, segment: Segment, **fields: Any) -> None:
        row = self.store.row(segment.key)
        self.emit(
            Event(name, segment.key, segment.conversation, row.conversation_id, row.job_id, segment.line, **fields)
        )

    def _conversation_id(self, segment: Segment) -> str | None:
        if segment.index == 0:
            return None
        first = self.conversations[segment.conversation].segments[0]
        return self.store.row(first.key).conversation_id

    def _name(self, segment: Segment) -> str:
        return self.conversations[segment.conversation].name

    # --- submit ----------------------------------------------------------------------------------------
    async def _evidence(self, segment: Segment, conversation_id: str | None) -> dict[str, Any]:
        if conversation_id is None:
            return {"known": [c.get("id") for c in await self.client.conversations_named(self._name(segment))]}
        messages = await self.client.read(conversation_id, "messages", "messages")
        return {"before": [m.get("id") for m in messages]}

    async def prepare(self, segment: Segment) -> None:
        """Read the evidence of the segment most likely to be sent next while every slot is busy, so that the
        moment a slot frees the submission itself goes out (evidence read earlier is still evidence of what
        existed before the request). A failure here only means `submit` reads it itself."""
        try:
            self.prepared[segment.key] = await self._evidence(segment, self._conversation_id(segment))
        except (ApiError, InputError):
            self.prepared.pop(segment.key, None)

    async def submit(self, segment: Segment) -> None:
        """Holds a slot and counts in `sending` already (the runner did both when it spawned this)."""
        conversation_id = self._conversation_id(segment)
        params = dict(segment.params) | ({"name": self._name(segment)} if conversation_id is None else {})
        if self.webhook_url is not None:
            params.setdefault("webhookUrl", self.webhook_url)
        try:  # everything that can be done before the intent is: between it and the request, nothing may wait
            evidence = self.prepared.pop(segment.key, None) or await self._evidence(segment, conversation_id)
            content_type = _content_type(segment)
            await self.client.ready()
        except (ApiError, OSError) as exc:  # nothing was sent: pending again (or failed after many tries), later
            self.sending -= 1
            self.slots.pause(self.clock(), self.timing.first_poll_min)
            self._again(segment, Status.FAILED, str(exc), "retry_later")
            return
        self.store.move(segment.key, Status.SUBMITTING, evidence=evidence, conversation_id=conversation_id)
        try:
            sent = await self._send(segment, params, conversation_id, content_type)
        except RateLimited as exc:
            self.store.move(segment.key, Status.PENDING, error="429: no job slot")
            decision = self.slots.rejected(self.clock(), exc.retry_after)
            self._event("rate_limited", segment, detail=f"ceiling {decision.ceiling}, pause {decision.pause:.1f}s")
            self.wake()
            return
        except Refused as exc:
            self.store.move(segment.key, Status.FAILED, error=str(exc))
            self._release()
            self._event("failed", segment, detail=str(exc))
            return
        except OutcomeUnknown as exc:
            self.store.move(segment.key, Status.UNKNOWN, error=str(exc))
            self._event("unknown", segment, detail=str(exc))
            await self.resolve(segment)
            return
        except ApiError as exc:  # never sent (no connection, no token): pending again, after a pause
            self.slots.pause(self.clock(), self.timing.first_poll_min)
            self._again(segment, Status.FAILED, str(exc), "retry_later")
            return
        self.slots.accepted(self.clock())
        self.store.move(segment.key, Status.SUBMITTED, conversation_id=sent.conversation_id, job_id=sent.job_id)
        self._event("submitted", segment)
        await self.poll(segment)

    async def _send(
        self, segment: Segment, params: dict[str, Any], conversation_id: str | None, content_type: str
    ) -> Submitted:
        try:
            if segment.file is not None:
                return await self.client.submit_file(
                    segment.file,
                    kind=segment.kind,
                    size=segment.size,
                    content_type=content_type,
                    params=params,
                    conversation_id=conversation_id,
                )
            assert segment.url is not None
            return await self.client.submit_url(
                segment.url, kind=segment.kind, params=params, conversation_id=conversation_id
            )
        finally:
            self.sending -= 1

    def _again(self, segment: Segment, instead: Status, reason: str, event: str) -> None:
        """Back to pending for another try, or, after `max_attempts` tries, to `instead` with the reason."""
        attempts = self.store.row(segment.key).attempts + 1
        if attempts >= self.timing.max_attempts:
            reason = f"{reason} ({attempts} attempts)"
            self.store.move(segment.key, instead, error=reason, attempts=attempts)
            event = "failed" if instead is Status.FAILED else "stuck"
        else:
            self.store.move(segment.key, Status.PENDING, error=reason, attempts=attempts)
        self._release()
        self._event(event, segment, detail=reason)

    def _release(self) -> None:
        self.slots.released(self.clock())
        self.wake()

    # --- poll ------------------------------------------------------------------------------------------
    async def poll(self, segment: Segment) -> None:
        job_id = self.store.row(segment.key).job_id
        assert job_id is not None
        try:
            await self._poll(segment)
        finally:
            self._notices.pop(job_id, None)

    async def _poll(self, segment: Segment) -> None:
        row = self.store.row(segment.key)
        assert row.job_id is not None
        started, media = self.clock(), estimated_seconds(segment)
        errors = polls = late = 0
        previous, taught = 0.0, False  # seconds after the submission of the last poll; the tracker heard of it
        while True:
            wait = self.polling.wait(media, self.clock() - started, polls, late)
            if self.clock() - started + wait > self.timing.job_timeout:
                self.store.move(segment.key, Status.TIMED_OUT, error="no terminal status before the job timeout")
                self._release()
                self._event("timed_out", segment)
                return
            await self._wait_for_job(row.job_id, wait)
            asked = self.clock() - started
            at_prediction = self.polling.is_late(media, asked)
            polls, late = polls + 1, late + at_prediction
            try:
                status = await self.client.job_status(row.job_id)
            except NotFound as exc:
                status, reason = "failed", str(exc)
            except ApiError as exc:
                errors += 1
                self._event("poll_error", segment, detail=str(exc))
                if errors < self.timing.poll_errors_allowed:
                    continue
                status, reason = "failed", f"{errors} polls in a row failed; last: {exc}"
            else:
                errors, reason = 0, "the job ended failed"
                self._event("polled", segment, detail=status)
            ended = status in ("completed", "failed")
            if not taught and (at_prediction or ended):  # ended before the prediction also says: too slow a guess
                self.polling.first_answer(media, asked, ended)
                taught = True
            if ended:
                self.polling.ended(media, (previous, asked), late)
            previous = asked
            if status == "completed":
                self.store.move(segment.key, Status.FINISHED)
                self._release()
                self._event("completed", segment)
                await self.save(segment)
                return
            if status == "failed":
                self.store.move(segment.key, Status.FAILED, error=reason)
                self._release()
                self._event("failed", segment, detail=reason)
                return

    # --- lost answers ----------------------------------------------------------------------------------
    async def resolve(self, segment: Segment) -> None:
        """Holds a slot. Settles an `unknown` or `recovered` segment; on API trouble leaves it for the next run."""
        row = self.store.row(segment.key)
        try:
            if row.status is Status.UNKNOWN:
                await self.sleep(self.timing.lost_answer_grace)
            if row.status is Status.UNKNOWN and segment.index == 0 and row.conversation_id is None:
                await self._resolve_create(segment, row.evidence.get("known", []))
            else:
                await self._watch_messages(segment, set(row.evidence.get("before", [])))
        except ApiError as exc:
            if self.store.row(segment.key).status in (Status.UNKNOWN, Status.RECOVERED):
                self._release()
            self._event("unresolved", segment, detail=str(exc))

    async def _resolve_create(self, segment: Segment, known: list[str]) -> None:
        found = [c.get("id") for c in await self.client.conversations_named(self._name(segment))]
        new = [cid for cid in found if cid not in known]
        if not new:
            self._again(segment, Status.STUCK, "lost answer: the create never took effect", "not_created")
            return
        if len(new) > 1:
            self._stuck(segment, f"lost answer: {len(new)} new conversations carry the name; decide by hand")
            return
        self.store.move(segment.key, Status.RECOVERED, conversation_id=str(new[0]))
        self._event("recovered", segment)
        await self._watch_messages(segment, set())

    async def _watch_messages(self, segment: Segment, before: set[str]) -> None:
        """The segment's job id is unknown: its messages appearing (and settling) is the proof it completed."""
        conversation_id = self.store.row(segment.key).conversation_id
        assert conversation_id is not None
        deadline = self.clock() + self.timing.undecided_after + estimated_seconds(segment) * self.speed * 3
        seen: set[str] | None = None
        wait = self.timing.first_poll_min
        while self.clock() < deadline:
            messages = await self.client.read(conversation_id, "messages", "messages")
            new = {str(m.get("id")) for m in messages} - before
            if new and new == seen:
                if self.store.row(segment.key).status is Status.UNKNOWN:
                    self.store.move(segment.key, Status.RECOVERED)
                self.store.move(segment.key, Status.FINISHED)
                self._release()
                self._event("recovered_completed", segment)
                await self.save(segment)
                return
            seen = new or None
            await self.sleep(wait)
            wait = min(self.timing.poll_cap, wait * self.timing.poll_growth)
        self._stuck(segment, "lost answer and no new messages before the decision deadline; check the conversation")

    def _stuck(self, segment: Segment, reason: str) -> None:
        self.store.move(segment.key, Status.STUCK, error=reason)
        self._release()
        self._event("stuck", segment, detail=reason)

    # --- save ------------------------------------------------------------------------------------------
    async def save(self, segment: Segment) -> None:
        """Read the conversation's results and write them; on API or disk trouble the segment stays `finished`
        (its results are still on the server: the next run saves them)."""
        try:
            await self._save(segment)
        except (ApiError, OSError) as exc:  # OSError: e.g. a full disk; reported, the run goes on, nothing is lost
            reason = f"results not saved: {exc}" if isinstance(exc, ApiError) else f"cannot write the results: {exc}"
            if self.store.row(segment.key).status is Status.FINISHED:
                self.store.move(segment.key, Status.FINISHED, error=reason)  # the report says why
            self._event("save_failed", segment, detail=reason)
            self.wake()

    async def _save(self, segment: Segment) -> None:
        row = self.store.row(segment.key)
        conversation_id = row.conversation_id or self._conversation_id(segment)
        assert conversation_id is not None
        async with self._saving:
            parts = await outputs.fetch(self.client, conversation_id)
        rows = self.store.rows()
        conversation = self.conversations[segment.conversation]
        siblings = sorted(conversation.segments, key=lambda s: s.index)
        earlier = {m for s in siblings if s.index < segment.index for m in rows[s.key].message_ids}
        mine = [m["id"] for m in parts["messages"] if m.get("id") not in earlier]
        ledger = [
            {
                "segment": s.key,
                "jobId": rows[s.key].job_id,
                "messageIds": mine if s.key == segment.key else rows[s.key].message_ids,
            }
            for s in siblings
            if s.index <= segment.index
        ]
        await outputs.save_conversation(self.manifest.api.output, segment.conversation, parts, ledger)
        self.store.move(segment.key, Status.SAVED, message_ids=mine, conversation_id=conversation_id)
        self._event("saved", segment, detail=f"{len(mine)} messages")
        self.wake()
        if self.after_conversation is not None and segment.index == len(siblings) - 1:
            await self.after_conversation(conversation, conversation_id)


def _content_type(segment: Segment) -> str:
    if segment.kind == "video":
        return "video/mp4"
    if segment.file is None:  # a URL: the server fetches it
        return "application/json"
    with segment.file.open("rb") as handle:
        container = sniff(handle.read(16))
    return CONTENT_TYPES.get(container or "", "application/octet-stream")
