"""The running emulator's state shared by the routes: backend, corpus, faults, request log, webhook queue."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from batch.emulator.backend import Backend, Transition
from batch.emulator.clock import ManualClock
from batch.emulator.corpus import CorpusIndex
from batch.emulator.faults import FaultPlan

REQUEST_LOG_SIZE = 10_000


@dataclass(slots=True)
class Emulator:
    backend: Backend
    corpus: CorpusIndex
    faults: FaultPlan
    manual_clock: ManualClock | None = None
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=REQUEST_LOG_SIZE))
    webhooks: asyncio.Queue[Transition] = field(default_factory=asyncio.Queue)
    session: aiohttp.ClientSession | None = None
    late: set[asyncio.Task[None]] = field(default_factory=set)  # requests acted on later (the act_late fault)
    draining: bool = False  # stopping: still serving, but GET /_emulator/health answers 503 and connections close

    def flush_transitions(self) -> None:
        """Hand every transition recorded by the backend to the webhook worker, in order."""
        for transition in self.backend.outbox:
            if transition.webhook_url is not None:
                self.webhooks.put_nowait(transition)
        self.backend.outbox.clear()

    def client(self) -> aiohttp.ClientSession:
        if self.session is None:
            raise RuntimeError("the emulator's outgoing HTTP session is not started")
        return self.session


EMULATOR = web.AppKey("emulator", Emulator)
FAULT = web.RequestKey("fault", str)  # the fault drawn for this request, if any
