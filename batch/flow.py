"""One segment's way through the API, one step at a time: submit, poll, resolve a lost answer (its results are
`batch.saving`'s). Each step writes the segment's transitions and returns what it ended in (`batch.outcomes`);
the runner, which holds the job slots, acts on that. The judgement calls are `batch.decisions`.

Rules:
- a create is sent with a name unique to its intent (`decisions.intent_name`), written with the intent
  before the request; a lost create is looked up by that name over a settling window, so it can never be
  mistaken for another conversation of the same name (the API has no duplicate detection of its own);
- an append checks first that its conversation still exists and is the one this state created, and reads
  the conversation's message ids before the request (its evidence); a lost append is settled by new messages
  that stop changing, and is `stuck` if none appear in the window;
- a retry first looks for its earlier try (the intent name, new messages): what took effect is adopted;
- a file is sent only if it is the one the run validated (same size, same modification time).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from batch import decisions, events, models
from batch.client import Submitted, SymblClient, Upload
from batch.decisions import AppendVerdict, CreateVerdict
from batch.errors import ApiError, InputError, NotFound, OutcomeUnknown, RateLimited, Refused, Unreachable
from batch.events import EventSink
from batch.lifecycle import Status
from batch.media import CONTENT_TYPES, sniff
from batch.models import Manifest, Segment
from batch.outcomes import Busy, Completed, Lost, NotSent, Over, Sent, Step
from batch.planner import ASSUMED_SPEED, estimated_seconds
from batch.polling import PollPlan
from batch.store import StateStore


@dataclass(frozen=True, slots=True)
class Timing:
    """Polling and recovery timings (seconds) and retry budgets. Tests shrink them; defaults suit the real
    service (those the manifest's [api] table can set are defined once, in `batch.models`)."""

    first_poll_min: float = models.POLL_MIN
    poll_growth: float = 1.5
    poll_cap: float = models.POLL_CAP
    job_timeout: float = models.JOB_TIMEOUT
    lost_answer_grace: float = models.LOST_ANSWER_GRACE
    undecided_after: float = models.UNDECIDED_AFTER
    speed_guess: float | None = None  # processing seconds per media second if known beforehand (else learned)
    poll_nudge: float = 0.02  # polls after a job's predicted end: this share of the prediction, doubling
    poll_target: float = 0.8  # share of jobs that should have ended when first asked at their prediction
    poll_errors_allowed: int = 8  # consecutive failed polls (each already retried) before the job is left
    max_attempts: int = 5  # sends of one segment that never took effect before it is reported (429s not counted)
    max_refusals: int = 30  # 429s for one recording in one run before it is reported (the account stays full)
    max_pause: float = decisions.MAX_PAUSE  # seconds a server's Retry-After may hold submissions, at most


class Flow:
    """The steps. Holds no slot and wakes nobody: every step returns an outcome (module docstring)."""

    def __init__(
        self,
        manifest: Manifest,
        client: SymblClient,
        store: StateStore,
        polling: PollPlan,
        *,
        timing: Timing,
        emit: EventSink,
        webhook_url: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.manifest, self.client, self.store, self.polling = manifest, client, store, polling
        self.timing, self.emit, self.webhook_url, self.clock, self.sleep = timing, emit, webhook_url, clock, sleep
        self.conversations = manifest.by_id
        self._notices: dict[str, asyncio.Event] = {}
        self._prepared: dict[str, dict[str, Any]] = {}  # evidence read ahead for the next submissions, by key
        self._refusals: dict[str, int] = {}  # 429s per recording in this run

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

    def _event(self, name: str, segment: Segment, detail: str | None = None) -> None:
        self.emit(events.of_segment(name, segment, self.store.rows()[segment.key], detail))

    def _first_row_evidence(self, segment: Segment) -> Mapping[str, Any]:
        first = self.conversations[segment.conversation].segments[0]
        return self.store.row(first.key).evidence

    def _conversation_id(self, segment: Segment) -> str | None:
        if segment.index == 0:
            return None
        first = self.conversations[segment.conversation].segments[0]
        return self.store.row(first.key).conversation_id

    def _name(self, segment: Segment) -> str:
        return self.conversations[segment.conversation].name

    def _window(self, segment: Segment) -> float:
        return decisions.settling_window(self.timing.undecided_after, estimated_seconds(segment), self.speed)

    # --- evidence ---------------------------------------------------------------------------------------
    async def _evidence(self, segment: Segment, conversation_id: str | None) -> dict[str, Any]:
        """What resolves a lost answer, read (or made) before the intent. A create: its intent name (kept from
        an earlier try). An append: the conversation checked to be ours, and the message ids it has now."""
        if conversation_id is None:
            kept = self.store.row(segment.key).evidence.get("intent")
            return {"intent": kept or decisions.intent_name(self._name(segment))}
        intent = self._first_row_evidence(segment).get("intent")
        try:
            found = await self.client.conversation(conversation_id)
        except NotFound:
            raise Gone(
                f"conversation {conversation_id} no longer exists on the server; the append cannot be sent "
                "(start the conversation afresh: move its state rows away or change its id)"
            ) from None
        if intent is not None and found.get("name") != intent:
            raise Gone(
                f"conversation {conversation_id} is not the one this state created (its name is not "
                f"'{intent}'); the append is not sent"
            )
        messages = await self.client.read(conversation_id, "messages", "messages")
        return {"before": [str(m.get("id")) for m in messages]}

    async def prepare(self, segment: Segment) -> None:
        """Read the evidence of a segment likely to be sent soon while every slot is busy, so that the moment a
        slot frees the submission itself goes out (evidence read earlier is still evidence of what existed
        before the request). Only appends need reads; a failure here only means `submit` reads it itself."""
        if segment.index == 0 or "before" in self.store.row(segment.key).evidence:
            return
        with contextlib.suppress(ApiError, InputError, Gone):
            self._prepared[segment.key] = await self._evidence(segment, self._conversation_id(segment))

    def prepared(self) -> set[str]:
        return set(self._prepared)

    def forget_prepared(self, keep: set[str]) -> None:
        """Drop evidence read ahead for segments no longer next (the order changed): it is read again later."""
        for key in [k for k in self._prepared if k not in keep]:
            del self._prepared[key]

    # --- submit -----------------------------------------------------------------------------------------
    async def submit(self, segment: Segment) -> Step:  # noqa: PLR0911, PLR0912 - one return per outcome
        conversation_id = self._conversation_id(segment)
        params = dict(segment.params)
        if self.webhook_url is not None:
            params.setdefault("webhookUrl", self.webhook_url)
        try:  # everything that can be done before the intent is: between it and the request, nothing may wait
            earlier = await self._earlier_try(segment, conversation_id)
            if earlier is not None:
                return earlier
            evidence = self._prepared.pop(segment.key, None) or await self._evidence(segment, conversation_id)
            changed = _changed_since_validation(self.store, segment)
            if changed is not None:
                return self._over(segment, Status.FAILED, changed)
            content_type = _content_type(segment)
            await self.client.ready()
        except Unreachable:
            raise  # the run stops: nothing can be sent
        except Gone as exc:
            return self._over(segment, Status.FAILED, str(exc))
        except (ApiError, OSError) as exc:  # nothing was sent: pending again (or failed after many tries), later
            return self._not_sent(segment, Status.FAILED, _reason(exc), "retry_later")
        if conversation_id is None:
            params["name"] = evidence["intent"]
        self.store.move(segment.key, Status.SUBMITTING, evidence=evidence, conversation_id=conversation_id)
        upload = Upload(complete=segment.file is None)
        try:
            sent = await self._send(segment, params, conversation_id, content_type, upload)
        except asyncio.CancelledError:  # Ctrl-C or SIGTERM: if the body never went out whole, nothing happened
            if not upload.complete:
                self.store.move(segment.key, Status.PENDING, evidence=_unsent(evidence), error="stopped mid-upload")
            raise
        except RateLimited as exc:
            return self._refused_429(segment, exc)
        except Refused as exc:
            return self._over(segment, Status.FAILED, str(exc))
        except OutcomeUnknown as exc:
            self.store.move(segment.key, Status.UNKNOWN, error=str(exc))
            self._event("unknown", segment, detail=str(exc))
            return Lost()
        except ApiError as exc:  # never sent (no connection, an upload that did not complete): pending again
            return self._not_sent(segment, Status.FAILED, str(exc), "retry_later", unsent=evidence)
        self._refusals.pop(segment.key, None)
        self.store.move(segment.key, Status.SUBMITTED, conversation_id=sent.conversation_id, job_id=sent.job_id)
        self._event("submitted", segment)
        return Sent()

    async def _earlier_try(self, segment: Segment, conversation_id: str | None) -> Step | None:  # noqa: PLR0911
        """A segment sent before (its evidence was written with an intent) looks for that try before sending
        again: a create by its intent name, an append by messages that appeared since."""
        evidence = self.store.row(segment.key).evidence
        if evidence.get("unsent"):  # the last try is known not to have reached the server
            return None
        if conversation_id is None and "intent" in evidence:
            found = await self.client.conversations_named(evidence["intent"])
            if not found:
                return None
            if len(found) > 1:
                return self._over(
                    segment,
                    Status.FAILED,
                    f"{len(found)} conversations carry this create's name; decide by hand which is the recording's",
                )
            self.store.move(segment.key, Status.RECOVERED, conversation_id=str(found[0].get("id")))
            self._event("recovered", segment, detail="an earlier try had taken effect")
            return await self.resolve(segment)  # recovered: its messages settle it (API trouble: the next run)
        if conversation_id is not None and "before" in evidence:
            messages = await self.client.read(conversation_id, "messages", "messages")
            if not {str(m.get("id")) for m in messages} - set(evidence["before"]):
                return None
            self.store.move(segment.key, Status.RECOVERED)
            self._event("recovered", segment, detail="an earlier try had taken effect")
            return await self.resolve(segment)
        return None

    async def _send(
        self, segment: Segment, params: dict[str, Any], conversation_id: str | None, content_type: str, upload: Upload
    ) -> Submitted:
        if segment.file is not None:
            return await self.client.submit_file(
                segment.file,
                kind=segment.kind,
                size=segment.size,
                content_type=content_type,
                params=params,
                conversation_id=conversation_id,
                progress=upload,
            )
        assert segment.url is not None
        return await self.client.submit_url(
            segment.url, kind=segment.kind, params=params, conversation_id=conversation_id
        )

    def _refused_429(self, segment: Segment, exc: RateLimited) -> Step:
        refusals = self._refusals.get(segment.key, 0) + 1
        self._refusals[segment.key] = refusals
        if decisions.tries_exhausted(refusals, self.timing.max_refusals):
            reason = f"429 {refusals} times in this run: the account stayed full; run again later"
            return self._over(segment, Status.FAILED, reason)
        evidence = _unsent(self.store.row(segment.key).evidence)
        self.store.move(segment.key, Status.PENDING, error="429: no job slot", evidence=evidence)
        return Busy(decisions.capped_pause(exc.retry_after, self.timing.max_pause))

    def _not_sent(
        self, segment: Segment, instead: Status, reason: str, event: str, *, unsent: dict[str, Any] | None = None
    ) -> Step:
        """Back to pending for another try, or, after `max_attempts` tries, to `instead` with the reason.
        `unsent`: the evidence of a request known not to have reached the server (its retry needs no lookup)."""
        attempts = self.store.row(segment.key).attempts + 1
        marked = {} if unsent is None else {"evidence": _unsent(unsent)}
        if decisions.tries_exhausted(attempts, self.timing.max_attempts):
            reason = f"{reason} ({attempts} attempts)"
            self.store.move(segment.key, instead, error=reason, attempts=attempts, **marked)
            self._event("failed" if instead is Status.FAILED else "stuck", segment, detail=reason)
            return Over(instead.value, reason)
        self.store.move(segment.key, Status.PENDING, error=reason, attempts=attempts, **marked)
        self._event(event, segment, detail=reason)
        return NotSent(self.timing.first_poll_min)

    def _over(self, segment: Segment, status: Status, reason: str) -> Over:
        self.store.move(segment.key, status, error=reason)
        self._event(status.value, segment, detail=reason)
        return Over(status.value, reason)

    # --- poll -------------------------------------------------------------------------------------------
    async def poll(self, segment: Segment) -> Step:
        job_id = self.store.row(segment.key).job_id
        assert job_id is not None
        try:
            return await self._poll(segment, job_id)
        finally:
            self._notices.pop(job_id, None)

    async def _poll(self, segment: Segment, job_id: str) -> Step:
        started, media = self.clock(), estimated_seconds(segment)
        errors = polls = late = 0
        previous, taught = 0.0, False  # seconds after the submission of the last poll; the tracker heard of it
        while True:
            wait = self.polling.wait(media, self.clock() - started, polls, late)
            if decisions.job_timed_out(self.clock() - started, wait, self.timing.job_timeout):
                return self._over(segment, Status.TIMED_OUT, "no terminal status before the job timeout")
            await self._wait_for_job(job_id, wait)
            asked = self.clock() - started
            at_prediction = self.polling.is_late(media, asked)
            polls, late = polls + 1, late + at_prediction
            try:
                status = await self.client.job_status(job_id)
            except NotFound as exc:
                return self._over(segment, Status.FAILED, str(exc))
            except Unreachable:
                raise
            except ApiError as exc:
                errors += 1
                self._event("poll_error", segment, detail=str(exc))
                if not decisions.tries_exhausted(errors, self.timing.poll_errors_allowed):
                    continue
                reason = f"{errors} polls in a row failed (last: {exc}); the job is kept, the next run polls it"
                return self._over(segment, Status.TIMED_OUT, reason)
            errors = 0
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
                self._event("completed", segment)
                return Completed()
            if status == "failed":
                return self._over(segment, Status.FAILED, "the job ended failed")

    # --- lost answers -----------------------------------------------------------------------------------
    async def resolve(self, segment: Segment) -> Step:
        """Settle an `unknown` or `recovered` segment; on API trouble leave it for the next run."""
        row = self.store.row(segment.key)
        try:
            if row.status is Status.UNKNOWN and segment.index == 0 and row.conversation_id is None:
                return await self._resolve_create(segment)
            return await self._watch_messages(segment, set(row.evidence.get("before", [])))
        except Unreachable:
            raise
        except ApiError as exc:
            self._event("unresolved", segment, detail=str(exc))
            return Over(self.store.row(segment.key).status.value, str(exc))

    async def _resolve_create(self, segment: Segment) -> Step:
        evidence = self.store.row(segment.key).evidence
        name = evidence.get("intent") or self._name(segment)  # state from before intent names: the plain name
        known = set(evidence.get("known", []))
        deadline = self.clock() + self._window(segment)
        wait = self.timing.lost_answer_grace
        while True:
            await self.sleep(wait)
            found = [str(c.get("id")) for c in await self.client.conversations_named(name)]
            verdict = decisions.lost_create([c for c in found if c not in known], window_over=self.clock() >= deadline)
            if verdict is CreateVerdict.OURS:
                ours = next(c for c in found if c not in known)
                self.store.move(segment.key, Status.RECOVERED, conversation_id=ours)
                self._event("recovered", segment)
                return await self._watch_messages(segment, set())
            if verdict is CreateVerdict.AMBIGUOUS:
                return self._over(
                    segment,
                    Status.STUCK,
                    "lost answer: several new conversations carry this create's name; decide by hand",
                )
            if verdict is CreateVerdict.NOT_CREATED:
                return self._not_sent(
                    segment, Status.FAILED, "lost answer: the create never took effect", "not_created"
                )
            wait = min(self.timing.poll_cap, max(wait, self.timing.first_poll_min) * self.timing.poll_growth)

    async def _watch_messages(self, segment: Segment, before: set[str]) -> Step:
        """The segment's job id is unknown: its messages appearing (and settling) is the proof it completed."""
        conversation_id = self.store.row(segment.key).conversation_id or self._conversation_id(segment)
        assert conversation_id is not None
        siblings = self.conversations[segment.conversation].segments  # what earlier segments produced is never this
        earlier = (self.store.row(s.key).message_ids for s in siblings if s.index < segment.index)  # one's: a belt
        before = before | {m for ids in earlier for m in ids}  # to the evidence's braces
        deadline = self.clock() + self._window(segment)
        seen: frozenset[str] | None = None
        wait = self.timing.first_poll_min
        while True:
            messages = await self.client.read(conversation_id, "messages", "messages")
            new = frozenset(str(m.get("id")) for m in messages) - before
            verdict = decisions.lost_append(new, seen, window_over=self.clock() >= deadline)
            if verdict is AppendVerdict.HAPPENED:
                if self.store.row(segment.key).status is Status.UNKNOWN:
                    self.store.move(segment.key, Status.RECOVERED, conversation_id=conversation_id)
                self.store.move(segment.key, Status.FINISHED)
                self._event("recovered_completed", segment)
                return Completed()
            if verdict is AppendVerdict.UNDECIDED:
                reason = "lost answer and no settled new messages in the settling window; check the conversation"
                return self._over(segment, Status.STUCK, reason)
            seen = new or None
            await self.sleep(wait)
            wait = min(self.timing.poll_cap, wait * self.timing.poll_growth)

class Gone(Exception):
    """An append's conversation is missing on the server or is not the one this state created (internal)."""


def _unsent(evidence: Mapping[str, Any]) -> dict[str, Any]:
    return {**evidence, "unsent": True}


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, ApiError) else f"cannot read the media: {exc}"


def _changed_since_validation(store: StateStore, segment: Segment) -> str | None:
    """Why the file may not be sent as validated (it was replaced, grew or shrank since), or None."""
    if segment.file is None:
        return None
    try:
        found = os.stat(segment.file)
    except OSError as exc:
        return f"{segment.file}: cannot be read any more ({exc.strerror}); restore it and run again"
    if (
        found.st_size != segment.size
        or store.cached_hash(os.path.abspath(segment.file), found.st_size, found.st_mtime_ns) is None
    ):
        return f"{segment.file} changed after the run validated it; run again to send its new content"
    return None


def _content_type(segment: Segment) -> str:
    if segment.kind == "video":
        return "video/mp4"
    if segment.file is None:  # a URL: the server fetches it
        return "application/json"
    with segment.file.open("rb") as handle:
        container = sniff(handle.read(16))
    return CONTENT_TYPES.get(container or "", "application/octet-stream")
