"""The run: bring the state in line with the manifest, adopt what an earlier run left in flight, then keep
every job slot busy until nothing is left. The loop decides nothing itself: the planner picks, the slot
controller admits, `Flow` carries one segment through the API.

Invariants:
- backpressure before spawning: a task exists only for a segment holding a slot (or saving), so tasks and
  memory are bounded by the ceiling, not by the manifest's size;
- every task belongs to one `asyncio.TaskGroup`; an interrupted run leaves only committed transitions behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp

from batch import manifest as manifest_module
from batch import outputs, planner, prepare
from batch.client import RetryPolicy, SymblClient
from batch.errors import InputError
from batch.events import Event, EventSink, ignore
from batch.flow import Flow, Timing
from batch.lifecycle import Status
from batch.models import Manifest, Segment
from batch.report import Report, build_report
from batch.slots import SlotController
from batch.snapshot import Snapshot, take
from batch.store import StateStore, Store
from batch.webhooks import Receiver, path_secret


@dataclass(frozen=True, slots=True)
class Options:
    timing: Timing = field(default_factory=Timing)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    probe_after: float = 30.0
    backoff_base: float = 1.0
    tick: float = 0.5
    max_body: int = 256 * 1024 * 1024  # bytes of one API answer held in memory, at most
    max_sending: int = 2  # answers awaited at once above the proven concurrency: bounds a 429 burst


class Runner:
    """Carries a manifest through the API. `flow.after_conversation` may be set to run after each conversation."""

    def __init__(
        self,
        manifest: Manifest,
        client: SymblClient,
        store: StateStore,
        *,
        options: Options | None = None,
        on_event: EventSink = ignore,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.manifest, self.store, self.on_event, self.clock = manifest, store, on_event, clock
        self.options = options or Options()
        self.slots = SlotController(
            manifest.api.concurrency, probe_after=self.options.probe_after, backoff_base=self.options.backoff_base
        )
        self._wake = asyncio.Event()
        self.flow = Flow(
            manifest,
            client,
            store,
            self.slots,
            timing=self.options.timing,
            emit=on_event,
            wake=self._wake.set,
            clock=clock,
            sleep=sleep,
        )
        measured = (store.read_meta("progress") or {}).get("speed")  # an earlier run's measurement, if any
        if self.flow.polling.speed is None and isinstance(measured, int | float) and measured > 0:
            self.flow.polling.speed = float(measured)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._fatal: InputError | None = None
        self._conversations = [list(c.segments) for c in manifest.conversations]
        self._agenda = planner.Agenda(self._conversations)
        self._ended: set[str] = set()  # keys whose task ended since the last step (they may be ready again)
        self._reading_ahead: asyncio.Task[None] | None = None  # Flow.prepare for the next submission
        self._published = 0.0

    def snapshot(self) -> Snapshot:
        """Counts per status, slots in use and the ceiling, and the ETA, as of now."""
        return take(
            self._conversations,
            self.store.rows(),
            in_use=self.slots.in_use,
            ceiling=self.slots.limit,
            speed=self.flow.speed,
        )

    def _publish(self, *, force: bool = False) -> None:
        """Write the snapshot to the state at most once a second, for `symbl-batch status`."""
        now = self.clock()
        if force or now - self._published >= 1.0:
            self._published = now
            facts = {"updated_at": time.time(), "speed": self.flow.polling.speed}  # None until measured
            self.store.write_meta("progress", self.snapshot().as_dict() | facts)

    async def run(self) -> Report:
        api = self.manifest.api
        receiver = None
        if api.webhook_listen is not None and api.app_secret:
            host, port = api.webhook_listen.rsplit(":", 1)
            receiver = Receiver(secret=path_secret(api.app_secret), notify=self.flow.notice)
            self.flow.webhook_url = await receiver.start(host, int(port), api.webhook_public_url)
            self.on_event(Event("webhooks", detail=f"listening on {receiver.base_url}"))
        try:
            return await self._run()
        finally:
            if receiver is not None:
                await receiver.stop()

    async def _run(self) -> Report:
        for note in await prepare.synchronise(self.store, self.manifest):
            self.on_event(Event("resume", detail=note))
        self._ended = {s.key for segments in self._conversations for s in segments}  # the first step plans all
        async with asyncio.TaskGroup() as group:
            self._adopt(group)
            if self.flow.after_conversation is not None:
                self._spawn(group, "<after earlier runs>", self._catch_up())
            while await self._step(group):
                self._publish()
        if self._fatal is not None:  # a configuration error stopped the run: report it plainly
            raise self._fatal
        self._publish(force=True)
        report = build_report(self.manifest, self.store.rows())
        await outputs.save_report(self.manifest.api.output, report.as_dict())
        return report

    def _spawn(self, group: asyncio.TaskGroup, key: str, work: Awaitable[None]) -> None:
        async def tracked() -> None:
            try:
                await work
            except InputError as exc:  # e.g. refused credentials: nothing else can succeed, stop everything
                self._fatal = self._fatal or exc
            finally:
                self._running.pop(key, None)
                self._ended.add(key)
                self._wake.set()

        self._running[key] = group.create_task(tracked())

    def _read_ahead(self, group: asyncio.TaskGroup, segments: list[Segment]) -> None:
        """While every slot is busy, read the evidence of the next submissions (Flow.prepare), one at a time."""
        wanted = {s.key for s in segments}
        for key in [k for k in self.flow.prepared if k not in wanted]:  # the order changed: drop, read later
            del self.flow.prepared[key]

        async def read() -> None:
            try:
                for segment in segments:
                    if segment.key not in self.flow.prepared and segment.key not in self._running:
                        await self.flow.prepare(segment)
            finally:
                self._reading_ahead = None
                self._wake.set()

        self._reading_ahead = group.create_task(read())

    async def _catch_up(self) -> None:
        """Conversations an earlier run finished (perhaps killed before its hook ran) get the hook now; the hook
        itself skips what it has already done."""
        assert self.flow.after_conversation is not None
        rows = dict(self.store.rows())  # a snapshot: conversations saved later get the hook from their own save
        for conversation in self.manifest.conversations:
            mine = [rows.get(s.key) for s in conversation.segments]
            if all(r is not None and r.status is Status.SAVED for r in mine) and mine and mine[0]:
                conversation_id = mine[0].conversation_id
                if conversation_id is not None:
                    await self.flow.after_conversation(conversation, conversation_id)

    def _adopt(self, group: asyncio.TaskGroup) -> None:
        """Segments an earlier run left in flight hold slots again before anything new is sent."""
        segments = {s.key: s for s in self.manifest.segments()}
        for key, row in self.store.rows().items():
            segment = segments.get(key)
            if segment is None:
                continue
            if row.status in (Status.SUBMITTED, Status.UNKNOWN, Status.RECOVERED):
                self.slots.started(self.clock())
                work = self.flow.poll(segment) if row.status is Status.SUBMITTED else self.flow.resolve(segment)
                self.on_event(
                    Event(
                        "adopted",
                        key,
                        segment.conversation,
                        row.conversation_id,
                        row.job_id,
                        segment.line,
                        row.status.value,
                    )
                )
                self._spawn(group, key, work)
            elif row.status is Status.FINISHED:
                self._spawn(group, key, self.flow.save(segment))

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
        changed = self.store.changes() | self._ended
        self._ended = set()
        for segment in self._agenda.update(changed, self.store.rows(), self._running):
            self.store.move(segment.key, Status.BLOCKED, error="an earlier segment of the conversation did not finish")
            self.on_event(Event("blocked", segment.key, segment.conversation, line=segment.line))
        best = self._agenda.best()
        window_open = not self.slots.probing() or self.flow.sending < self.options.max_sending
        if best is not None and self.slots.can_start(now) and window_open:
            self.slots.started(now)
            self.flow.sending += 1
            self._agenda.take(best)
            self._spawn(group, best.key, self.flow.submit(best))
            return True
        if best is None and not self._running:
            return False
        if best is not None and self._reading_ahead is None:
            upcoming = self._agenda.upcoming(min(8, self.slots.limit))
            if any(s.key not in self.flow.prepared for s in upcoming):
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
) -> AsyncIterator[Runner]:
    """The library entry point: `async with open_run("x.toml") as run: report = await run.run()`.

    Validates the manifest (InputError), takes the state's lock (LockedError), and closes everything after.
    """
    loaded = manifest if isinstance(manifest, Manifest) else manifest_module.load(Path(manifest))
    loaded = override(loaded, state=state, output=output, concurrency=concurrency)
    app_id, app_secret = credentials(loaded)
    options = options or options_for(loaded)
    with Store(loaded.api.state) as store:
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
            )
            yield Runner(loaded, client, store, options=options, on_event=on_event)
        finally:
            if own:
                await http.close()


def override(manifest: Manifest, **changes: Any) -> Manifest:
    api = replace(manifest.api, **{k: v for k, v in changes.items() if v is not None})
    if changes.get("output") is not None and changes.get("state") is None:
        api = replace(api, state=api.output / "state.sqlite")
    return replace(manifest, api=api)
