"""The run: bring the state in line with the manifest, adopt what an earlier run left in flight, then keep
every job slot busy until nothing is left. The loop decides nothing itself: the planner picks, the slot
controller admits, `Flow`'s steps carry one segment through the API and say how each ended.

Invariants:
- backpressure before spawning: a task exists only for a segment holding a slot (or saving), so tasks and
  memory are bounded by the ceiling, not by the manifest's size;
- every task belongs to one `asyncio.TaskGroup`; an interrupted run leaves only committed transitions behind;
- a task's unforeseen exception is that recording's problem (an `internal_error` event, exit 1), never a
  crashed run; refused credentials, an unreachable API or an unwritable state stop the whole run (`FATAL`);
- a run holds the state's lock and the output folder's lock: two runs never share either;
- the run writes its report (report.json, report.md) when it ends, and when it is stopped if the state holds
  every segment by then; reconciliation records are read for it only once every hook has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp

from batch import events, models, outputs, planner, prepare
from batch import manifest as manifest_module
from batch.client import RetryPolicy, SymblClient
from batch.errors import BatchError, InputError, LockedError, StateError, StateWriteError, Unreachable
from batch.events import Event, EventSink, ignore
from batch.flow import Flow, Timing
from batch.hooks import AfterConversation, Finished
from batch.lifecycle import Row, Status
from batch.models import Conversation, Manifest, Segment
from batch.outcomes import Busy, Completed, Lost, NotSent, Saved, Sent, Step
from batch.paths import check_run_paths
from batch.planner import ASSUMED_SPEED
from batch.polling import PollPlan
from batch.report import SPEAKERS_SHOWN, Reconciled, Report, build_report
from batch.saving import Saver
from batch.slots import Lease, SlotController
from batch.snapshot import Snapshot, Tally
from batch.store import StateStore, Store
from batch.webhooks import Receiver, path_secret


@dataclass(frozen=True, slots=True)
class Options:
    timing: Timing = field(default_factory=Timing)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    probe_after: float = models.PROBE_AFTER
    backoff_base: float = 1.0
    tick: float = 0.5
    max_body: int = 256 * 1024 * 1024  # bytes of one API answer held in memory, at most
    max_sending: int = 2  # answers awaited at once above the proven concurrency: bounds a 429 burst


ADOPTED = (Status.SUBMITTED, Status.UNKNOWN, Status.RECOVERED, Status.FINISHED)  # taken up again by a new run
FATAL = (InputError, Unreachable, StateWriteError)  # nothing else can succeed: the whole run stops
HOOKED_KEPT = 1024  # conversations `_hooked` holds before those the catch-up has passed are dropped
LATEST_EVERY = 0.25  # seconds between the snapshots a step takes for displays (`latest`)


class Runner:
    """Carries a manifest through the API. It alone holds job slots (`Lease`): each segment's task takes one,
    acts on the outcome of every `Flow` step, and gives it back once. `after_conversation` (e.g. reconciliation)
    runs as its own guarded task after each conversation's last segment is saved."""

    def __init__(
        self,
        manifest: Manifest,
        client: SymblClient,
        store: StateStore,
        *,
        options: Options | None = None,
        on_event: EventSink = ignore,
        after_conversation: AfterConversation | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.manifest, self.client, self.store, self.on_event, self.clock = manifest, client, store, on_event, clock
        self.options = options or Options()
        self._sleep = sleep
        self._after = after_conversation
        timing = self.options.timing
        self.slots = SlotController(
            manifest.api.concurrency, probe_after=self.options.probe_after, backoff_base=self.options.backoff_base
        )
        measured = store.measured_speed()  # an earlier run's measurement, if any
        self.polling = PollPlan(
            first=timing.first_poll_min,
            growth=timing.poll_growth,
            cap=timing.poll_cap,
            nudge=timing.poll_nudge,
            target=timing.poll_target,
            speed=timing.speed_guess if timing.speed_guess is not None else measured,
        )
        self._wake = asyncio.Event()
        self._flow: Flow | None = None  # made in `run`, when the webhook receiver (if any) has its address
        self._saver: Saver | None = None
        self._running: dict[str, asyncio.Task[None]] = {}
        self._fatal: BatchError | None = None
        self._problems: list[str] = []  # run-level failures (a hook, an unforeseen error): exit 1
        self._sending = 0  # submissions started whose answer has not come yet
        self._conversations = manifest.chains()  # by position, read when asked (a spilled manifest: its file)
        self._by_id = manifest.by_id
        self._agenda = planner.Agenda(self._conversations, manifest.index)
        self._tally = Tally(self._conversations, self._agenda.index_of)
        self._latest = self._tally.snapshot(in_use=0, ceiling=self.slots.limit, speed=self.speed)
        self._shown = float("-inf")  # when a step last took `_latest`
        self._ended: set[str] = set()  # keys whose task ended since the last step (they may be ready again)
        self._whole = True  # the next step looks at every conversation (the first one)
        self._hooked: set[str] = set()  # conversations whose hook this run's own save started (not caught up)
        self._caught_up_to = ""  # the catch-up has looked at the conversations up to this id
        self._reading_ahead: asyncio.Task[None] | None = None  # Flow.prepare for the next submissions
        self._published = 0.0

    @property
    def flow(self) -> Flow:
        if self._flow is None:
            raise RuntimeError("the run has not started")
        return self._flow

    @property
    def speed(self) -> float:
        return self.polling.speed if self.polling.speed is not None else ASSUMED_SPEED

    def snapshot(self) -> Snapshot:
        """Counts per status, slots in use and the ceiling, and the ETA, as of now (call it from the run's event
        loop; another thread, such as a display's, reads `latest()`)."""
        self._tally.update(self.store.pending_changes(), self.store.rows())  # what the last step has not seen
        self._latest = self._tally.snapshot(in_use=self.slots.in_use, ceiling=self.slots.limit, speed=self.speed)
        return self._latest

    def latest(self) -> Snapshot:
        """The last snapshot the run took (at most a quarter of a second old while it runs); safe from any thread."""
        return self._latest

    def _publish(self, *, force: bool = False) -> None:
        """Write the snapshot to the state at most once a second, for `symbl-batch status`."""
        now = self.clock()
        if force or now - self._published >= 1.0:
            self._published = now
            facts = {"updated_at": time.time(), "speed": self.polling.speed}  # None until measured
            self.store.write_meta("progress", self.snapshot().as_dict() | facts)

    def _notice(self, job_id: str) -> None:
        if self._flow is not None:
            self._flow.notice(job_id)

    async def run(self) -> Report:
        api = self.manifest.api
        receiver, webhook_url = None, None
        if api.webhook_listen is not None and api.app_secret:
            host, port = api.webhook_listen.rsplit(":", 1)
            receiver = Receiver(secret=path_secret(api.app_secret), notify=self._notice)
            try:
                webhook_url = await receiver.start(host, int(port), api.webhook_public_url)
            except OSError as exc:
                raise InputError(
                    f"{self.manifest.path}: api.webhook_listen '{api.webhook_listen}': cannot listen there "
                    f"({exc.strerror or exc}); give a local host:port that resolves and is free"
                ) from None
            self.on_event(Event("webhooks", detail=f"listening on {receiver.base_url}"))
        self._saver = Saver(
            self.manifest, self.client, self.store, emit=self.on_event, pause=self.options.retry.cap, sleep=self._sleep
        )
        self._flow = Flow(
            self.manifest,
            self.client,
            self.store,
            self.polling,
            timing=self.options.timing,
            emit=self.on_event,
            webhook_url=webhook_url,
            clock=self.clock,
            sleep=self._sleep,
        )
        try:
            return await self._run()
        except asyncio.CancelledError:  # stopped (a signal, the caller): the committed state's report, then unwind
            await self._report_committed()
            raise
        finally:
            if receiver is not None:
                await receiver.stop()
            with contextlib.suppress(StateError):  # e.g. a full disk: the run already says so
                self._publish(force=True)  # however the run ended: `status` shows what holds slots now (none)

    async def _run(self) -> Report:
        for note in await prepare.synchronise(self.store, self.manifest):
            self.on_event(Event("resume", detail=note))
        try:  # an unreachable API or refused credentials stop the run before anything is adopted or sent
            await self.client.ready()
        except FATAL as exc:
            self._fatal = exc
        if self._fatal is None:
            async with asyncio.TaskGroup() as group:
                self._adopt(group)
                if self._after is not None:
                    self._spawn(group, "<after earlier runs>", self._catch_up())
                while await self._guarded_step(group):
                    pass
        with contextlib.suppress(StateError):  # the state may be what failed: the report still comes from memory
            self._publish(force=True)
        report = await self._report()
        if self._fatal is not None:
            raise self._fatal
        return report

    async def _report(self) -> Report:
        """What the state holds, with what reconciliation did (its records, read now that every hook has
        finished), written to report.json and report.md."""
        rows = self.store.rows()
        report = self._built(rows)
        try:
            await outputs.save_report(self.manifest.api.output, report)
        except OSError as exc:  # a full disk: the state still holds every outcome; the run says so and exits 1
            self._problem("report_failed", "<report>", f"cannot write report.json/report.md: {exc}")
            report = replace(report, problems=list(self._problems))
        return report

    async def _report_committed(self) -> None:
        """A stopped run's report: what the state holds now, when it holds every segment (else there is none)."""
        rows = self.store.rows()
        if all(segment.key in rows for segment in self.manifest.segments()):
            report = self._built(rows)
            with contextlib.suppress(OSError):
                await outputs.save_report(self.manifest.api.output, report)

    def _built(self, rows: Mapping[str, Row]) -> Report:
        talk = outputs.speaker_summaries(self.manifest.api.output, self.store.conversations(), limit=SPEAKERS_SHOWN)
        return build_report(
            self.manifest, rows, problems=self._problems, reconciliation=self._reconciled(rows), talk=talk
        )

    def _reconciled(self, rows: Mapping[str, Row]) -> list[Reconciled]:
        """The conversations' reconciliation records; one the user broke is said (a warning), not fatal to the
        run. Without people nothing is reconciled, and a large manifest's folders are not even looked at."""
        if not self.manifest.people:
            return []
        try:
            return outputs.reconciliation(self.manifest.api.output, self.store.conversations())
        except StateError as exc:
            self.on_event(Event("reconcile_unreadable", detail=str(exc)))
            return []

    def _spawn(
        self, group: asyncio.TaskGroup, key: str, work: Coroutine[Any, Any, None], lease: Lease | None = None
    ) -> None:
        """`work` as a task of the group. However it ends — even cancelled before it started (a fatal stop) — its
        coroutine is closed and its slot, if it holds one, given back."""

        async def tracked() -> None:
            try:
                await work
            except FATAL as exc:  # e.g. refused credentials, the API gone, the state unwritable: stop everything
                self._fatal = self._fatal or exc
            except Exception as exc:  # an unforeseen failure: this recording's problem, never the whole run's
                self._problem("internal_error", key, f"{type(exc).__name__}: {self.client.redact(str(exc))}")
            finally:
                self._running.pop(key, None)
                self._ended.add(key)
                self._wake.set()

        task = group.create_task(tracked())
        task.add_done_callback(lambda _: work.close())  # a no-op once it ran; else it was cancelled unstarted
        if lease is not None:
            task.add_done_callback(lambda _: lease.release())  # idempotent: `_carry` gives it back itself
        self._running[key] = task

    def _problem(self, event: str, key: str, detail: str, **fields: Any) -> None:
        self._problems.append(f"{key}: {event}: {detail}")
        self.on_event(Event(event, key if "/" in key else None, detail=detail, **fields))

    def _lease(self) -> Lease:
        """A slot, taken now (before the task that holds it is even started: the next step sees it taken)."""
        return Lease(self.slots, self.clock, self._wake.set)

    async def _carry(
        self,
        group: asyncio.TaskGroup,
        segment: Segment,
        lease: Lease,
        first: Callable[[], Awaitable[Step]],
        *,
        sending: bool,
    ) -> None:
        """One segment's work while it holds a slot, then (if its job completed) its save, without the slot."""
        try:
            try:
                step = await first()
            finally:
                self._sending -= sending
            while isinstance(step, Sent | Lost):
                step = await (self.flow.poll(segment) if isinstance(step, Sent) else self.flow.resolve(segment))
            if isinstance(step, Busy):
                decision = lease.rejected(step.retry_after)
                self._row_event("rate_limited", segment, f"ceiling {decision.ceiling}, pause {decision.pause:.1f}s")
                return
            lease.release()
            if isinstance(step, NotSent):
                self.slots.pause(self.clock(), step.pause)
            if not isinstance(step, Completed):
                return
        finally:
            lease.release()
        await self._save(group, segment)

    def _row_event(self, name: str, segment: Segment, detail: str) -> None:
        self.on_event(events.of_segment(name, segment, self.store.rows()[segment.key], detail))

    async def _save(self, group: asyncio.TaskGroup, segment: Segment) -> None:
        assert self._saver is not None
        if self._after is not None and segment.conversation > self._caught_up_to:
            self._hooked.add(segment.conversation)  # before the save: the catch-up must not hook it too
        saved = await self._saver.save(segment)
        self._wake.set()
        if isinstance(saved, Saved) and saved.last_of_conversation and self._after is not None:
            conversation = self._by_id[segment.conversation]
            conversation_id = self.store.row(segment.key).conversation_id
            assert conversation_id is not None
            self._spawn(group, f"<hook {conversation.id}>", self._hook(conversation, conversation_id, saved.parts))

    async def _hook(self, conversation: Conversation, conversation_id: str, parts: dict[str, Any] | None) -> None:
        """The after-conversation hook, guarded: its failure is reported (exit 1), the run goes on."""
        assert self._after is not None
        try:
            await self._after(Finished(conversation, conversation_id, parts, self.client, self.manifest))
        except FATAL:
            raise
        except Exception as exc:
            detail = self.client.redact(str(exc) if isinstance(exc, BatchError) else f"{type(exc).__name__}: {exc}")
            fields = {"conversation": conversation.id, "conversation_id": conversation_id}
            self._problem("reconcile_failed", conversation.id, detail, **fields)

    def _read_ahead(self, group: asyncio.TaskGroup, segments: list[Segment]) -> None:
        """While every slot is busy, read the evidence of the next submissions (Flow.prepare), one at a time."""
        self.flow.forget_prepared({s.key for s in segments})

        async def read() -> None:
            try:
                for segment in segments:
                    if segment.key not in self.flow.prepared() and segment.key not in self._running:
                        await self.flow.prepare(segment)
            finally:
                self._reading_ahead = None
                self._wake.set()

        self._reading_ahead = group.create_task(read())

    async def _catch_up(self) -> None:
        """Conversations an earlier run finished (perhaps killed before its hook ran) get the hook now; the hook
        itself skips what it has already done. Those this run saves get the hook from their own save (`_hooked`:
        marked before it, and forgotten once the catch-up has passed them, so it stays small)."""
        for state in self.store.conversations():
            self._caught_up_to = state.conversation
            hooked = state.conversation in self._hooked
            if len(self._hooked) > HOOKED_KEPT:  # those the catch-up has passed are of no more use
                self._hooked = {c for c in self._hooked if c > state.conversation}
            conversation = self.manifest.by_id.get(state.conversation)
            if conversation is None or state.saved != state.total or state.total != len(conversation.segments):
                continue
            if not hooked and state.conversation_id is not None:  # every segment has a row: all of them saved
                await self._hook(conversation, state.conversation_id, None)

    def _segment(self, key: str, idx: int) -> Segment | None:
        """The manifest's segment of a state row (None when the manifest no longer has it)."""
        index = self._agenda.conversation_of(key)
        segments = () if index is None else self._conversations[index]
        segment = segments[idx] if 0 <= idx < len(segments) else None
        return segment if segment is not None and segment.key == key else None

    def _adopt(self, group: asyncio.TaskGroup) -> None:
        """Segments an earlier run left in flight hold slots again before anything new is sent."""
        for row in self.store.rows_in(ADOPTED):
            segment = self._segment(row.key, row.idx)
            if segment is None:
                continue
            if row.status in (Status.SUBMITTED, Status.UNKNOWN, Status.RECOVERED):
                step = self.flow.poll if row.status is Status.SUBMITTED else self.flow.resolve
                self._row_event("adopted", segment, row.status.value)
                lease = self._lease()
                work = self._carry(group, segment, lease, functools.partial(step, segment), sending=False)
                self._spawn(group, row.key, work, lease)
            elif row.status is Status.FINISHED:
                self._spawn(group, row.key, self._save(group, segment))

    async def _guarded_step(self, group: asyncio.TaskGroup) -> bool:
        """A step and the progress it publishes; a fatal error here (the state unwritable) stops the run like one
        in a task, instead of escaping the task group as an exception group."""
        try:
            if not await self._step(group):
                return False
            self._publish()
        except FATAL as exc:
            self._fatal = self._fatal or exc
        return True

    async def _step(self, group: asyncio.TaskGroup) -> bool:
        """Start what may start; wait for a change. False when nothing is running and nothing can start."""
        if self._fatal is not None:
            for task in [*self._running.values(), *([self._reading_ahead] if self._reading_ahead else [])]:
                task.cancel()
            return False
        now = self.clock()
        decision = self.slots.tick(now)
        if decision is not None:
            self.on_event(Event("ceiling", detail=f"{decision.event}: {decision.ceiling}"))
        changed, rows = self.store.changes() | self._ended, self.store.rows()
        self._ended = set()
        if self._whole:  # the first step: every conversation
            self._whole = False
            stopped = self._agenda.update_all(rows, self._running, each=self._tally.count)
        else:
            self._tally.update(changed, rows)
            stopped = self._agenda.update(changed, rows, self._running)
        if now - self._shown >= LATEST_EVERY:
            self._shown = now
            self.snapshot()  # kept as `latest()` for displays
        for segment in stopped:
            self.store.move(segment.key, Status.BLOCKED, error="an earlier segment of the conversation was not saved")
            self.on_event(Event("blocked", segment.key, segment.conversation, line=segment.line))
        best = self._agenda.best()
        window_open = not self.slots.probing() or self._sending < self.options.max_sending
        if best is not None and self.slots.can_start(now) and window_open:
            self._sending += 1
            self._agenda.take(best)
            lease = self._lease()
            work = self._carry(group, best, lease, functools.partial(self.flow.submit, best), sending=True)
            self._spawn(group, best.key, work, lease)
            return True
        if best is None and not self._running:
            return False
        if best is not None and self._reading_ahead is None:
            upcoming = self._agenda.upcoming(min(8, self.slots.limit))
            if any(s.key not in self.flow.prepared() and s.index > 0 for s in upcoming):
                self._read_ahead(group, upcoming)
        self._wake.clear()
        timeout = self.slots.wait_hint(now) or self.options.tick
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):  # not wait_for: on 3.11 it can swallow a cancellation
                await self._wake.wait()
        return True


def options_for(manifest: Manifest) -> Options:
    """Timings from the manifest's [api] table."""
    api = manifest.api
    timing = Timing(
        first_poll_min=api.poll_min,
        poll_cap=api.poll_cap,
        job_timeout=api.job_timeout,
        lost_answer_grace=api.lost_answer_grace,
        undecided_after=api.undecided_after,
    )
    return Options(timing=timing, probe_after=api.probe_after, backoff_base=min(1.0, api.poll_min))


def credentials(manifest: Manifest) -> tuple[str, str]:
    app_id, app_secret = manifest.api.app_id, manifest.api.app_secret
    if not app_id or not app_secret:
        raise InputError(
            f"{manifest.path}: no API credentials; set SYMBL_APP_ID and SYMBL_APP_SECRET (or api.app_id/app_secret)"
        )
    return app_id, app_secret


@contextlib.asynccontextmanager
async def open_run(
    manifest: Manifest | Path | str,
    *,
    options: Options | None = None,
    on_event: EventSink = ignore,
    state: Path | None = None,
    output: Path | None = None,
    concurrency: int | None = None,
    session: aiohttp.ClientSession | None = None,
    after_conversation: AfterConversation | None = None,
) -> AsyncIterator[Runner]:
    """The library entry point: `async with open_run("x.toml") as run: report = await run.run()`.

    Validates the manifest (InputError), takes the state's and the output folder's locks (LockedError), and
    closes everything after.
    """
    loaded = manifest if isinstance(manifest, Manifest) else manifest_module.load(Path(manifest))
    loaded = override(loaded, state=state, output=output, concurrency=concurrency)
    check_run_paths(loaded.api)
    app_id, app_secret = credentials(loaded)
    options = options or options_for(loaded)
    with Store(loaded.api.state) as store, output_lock(loaded.api.output):
        own = session is None
        http = session or aiohttp.ClientSession()
        try:
            client = SymblClient(
                base_url=loaded.api.base_url,
                app_id=app_id,
                app_secret=app_secret,
                session=http,
                retry=options.retry,
                max_body=options.max_body,
                redact=[path_secret(app_secret)],  # the webhook path: a server that echoes it must not leak it
            )
            yield Runner(
                loaded, client, store, options=options, on_event=on_event, after_conversation=after_conversation
            )
        finally:
            if own:
                await http.close()


def override(manifest: Manifest, **changes: Any) -> Manifest:
    api = replace(manifest.api, **{k: v for k, v in changes.items() if v is not None})
    if changes.get("output") is not None and changes.get("state") is None:
        api = replace(api, state=api.output / "state.sqlite")
    return replace(manifest, api=api)


LOCK_NAME = ".symbl-batch.lock"


@contextlib.contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """Hold `<output>/.symbl-batch.lock` for the run: two runs with different states on one output folder
    would each submit everything (and overwrite each other's results)."""
    output.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = output / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(
                f"{output}: another run writes to this output folder ({path}); wait for it to finish"
            ) from None
        yield
    finally:
        os.close(fd)
