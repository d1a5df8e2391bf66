"""The emulator as an aiohttp application: `create_app()` for tests, `python -m batch.emulator` for people.

Middlewares, outermost first: `record` (error bodies, request log with no secrets: requestlog.py, webhook
hand-off), `inject` (faults, §13 #20), `authenticate` (§9). Background tasks advance jobs on the clock and deliver
webhooks one at a time, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from batch.emulator import recognition, views
from batch.emulator.backend import Backend, Settings
from batch.emulator.clock import Clock, ManualClock, SystemClock
from batch.emulator.cluster.account import SharedBackend, open_shared
from batch.emulator.control import control
from batch.emulator.corpus import DEFAULT_CORPUS, CorpusIndex
from batch.emulator.durable import DurableBackend, open_durable
from batch.emulator.errors import ApiError, TooManyJobs
from batch.emulator.faults import FaultPlan
from batch.emulator.requestlog import redacted_query
from batch.emulator.routes import SUBMIT_PREFIX, routes
from batch.emulator.runtime import EMULATOR, FAULT, Emulator
from batch.emulator.webhooks import deliver

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOG = logging.getLogger("symbl-emulator")
MODES = ("real", "scripted")
PUBLIC_PATHS = frozenset({"/oauth2/token:generate"})
GATEWAY_PAGE = "<html><head><title>{0}</title></head><body><h1>{0}</h1></body></html>"
GATEWAY_REASONS = {"502": "502 Bad Gateway", "503": "503 Service Unavailable", "504": "504 Gateway Time-out"}


def _error_response(exc: ApiError) -> web.Response:
    return web.json_response(exc.body(), status=exc.status, headers=exc.headers)


def _auth_scheme(request: web.Request) -> str | None:
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return "bearer"
    return "x-api-key" if "x-api-key" in request.headers else None


@web.middleware
async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
    emu = request.app[EMULATOR]
    try:
        response = await handler(request)
    except ApiError as exc:
        response = _error_response(exc)
    except web.HTTPException as exc:  # the router's own 404 / 405, given the contract's JSON body
        response = web.json_response({"message": exc.reason}, status=exc.status)
    if not request.path.startswith("/_emulator/"):
        emu.requests.append(
            {
                "at": views.iso(time.time()),
                "method": request.method,
                "path": request.path,
                "query": redacted_query(request.query_string),
                "auth": _auth_scheme(request),
                "status": response.status,
                "fault": request.get(FAULT),
            }
        )
    emu.flush_transitions()
    if emu.draining:  # stopping: the client's next request opens a new connection (to a server that stays)
        response.force_close()
    return response


def _drop_connection(request: web.Request) -> None:
    if request.transport is not None:
        request.transport.abort()


def _instead(kind: str, emu: Emulator, request: web.Request) -> web.Response:
    """The answer of a fault that replaces the server's work entirely."""
    if kind == "429":
        retry = emu.faults.retry_after
        headers = {"Retry-After": str(retry)} if retry else None
        return _error_response(TooManyJobs(emu.backend.settings.concurrency_limit, headers=headers))
    if kind == "500":
        return _error_response(ApiError("Something went wrong! Please contact support@symbl.ai"))
    if kind == "reset_before":
        _drop_connection(request)
        return web.Response(status=500)
    reason = GATEWAY_REASONS[kind]
    return web.Response(status=int(kind), text=GATEWAY_PAGE.format(reason), content_type="text/html")


INSTEAD = frozenset({"429", "500", "reset_before", *GATEWAY_REASONS})


@web.middleware
async def inject(request: web.Request, handler: Handler) -> web.StreamResponse:
    emu = request.app[EMULATOR]
    if request.path.startswith("/_emulator/"):
        return await handler(request)
    kind = emu.faults.draw(request.method, request.path, submit=request.path.startswith(SUBMIT_PREFIX))
    if kind is not None:
        request[FAULT] = kind
        emu.backend.stats[f"fault_{kind}"] += 1
    if kind in INSTEAD:
        return _instead(kind, emu, request)
    if kind == "token_expiry":
        emu.backend.expire_tokens()
    if kind == "act_late":
        return await _act_late(emu, request, handler)
    if kind == "malformed":
        return _malformed(await handler(request))
    if kind not in ("reset_after", "slow"):
        return await handler(request)  # job_failed is acted on by the submit handler
    try:
        response = await handler(request)
    except ApiError as exc:
        response = _error_response(exc)
    if kind == "reset_after":
        _drop_connection(request)
    else:
        await asyncio.sleep(emu.faults.slow_seconds)
    return response


def _malformed(response: web.StreamResponse) -> web.StreamResponse:
    """The same answer, broken: its first list item without `id` and with `timeOffset: "soon"`, else cut short."""
    body = getattr(response, "body", None)
    try:
        value = json.loads(body) if isinstance(body, bytes) else None
    except ValueError:
        return response
    lists = (
        [v for v in value.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        if isinstance(value, dict)
        else []
    )
    if not lists:
        return web.Response(status=response.status, text=json.dumps(value)[:-1], content_type="application/json")
    lists[0][0].pop("id", None)
    lists[0][0]["timeOffset"] = "soon"
    return web.json_response(value, status=response.status)


async def _act_late(emu: Emulator, request: web.Request, handler: Handler) -> web.Response:
    """Read the whole request, drop the connection, and act on it `slow_seconds` later (its answer is lost)."""
    body = await request.content.read()
    _drop_connection(request)

    async def later() -> None:
        await asyncio.sleep(emu.faults.slow_seconds)
        replay = aiohttp.StreamReader(request.protocol, max(1 << 16, len(body)), loop=asyncio.get_running_loop())
        replay.feed_data(body)
        replay.feed_eof()
        clone = request.clone()
        clone._payload = replay
        clone._read_bytes = body
        with contextlib.suppress(Exception):
            await handler(clone)
        emu.flush_transitions()

    task = asyncio.get_running_loop().create_task(later())
    emu.late.add(task)
    task.add_done_callback(emu.late.discard)
    return web.Response(status=500)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path not in PUBLIC_PATHS and not request.path.startswith("/_emulator/"):
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else request.headers.get("x-api-key")
        request.app[EMULATOR].backend.authenticate(token)
    return await handler(request)


async def _progress(emu: Emulator, interval: float) -> None:
    """Apply due transitions on a tick. Rule: a failing tick (a full disk under the kept data) is logged and
    retried on the next one; this loop must never end, or every job would wait forever."""
    while True:
        try:
            emu.backend.advance()
            emu.flush_transitions()
        except Exception:
            LOG.exception("applying job transitions failed; retrying on the next tick")
            await asyncio.sleep(max(interval, 1.0))
        await asyncio.sleep(interval)


async def _deliver_webhooks(emu: Emulator) -> None:
    while True:
        transition = await emu.webhooks.get()
        await deliver(
            emu.client(), transition, allowed_hosts=emu.backend.settings.allowed_hosts, stats=emu.backend.stats
        )


async def _take_webhooks(emu: Emulator, interval: float) -> None:
    """Shared database: take the webhooks the workers queued (each once, by one server) and send them in order.
    Rule: like `_progress`, a failing round is logged and retried; this loop never ends by itself."""
    backend = emu.backend
    assert isinstance(backend, SharedBackend)
    while True:
        try:
            for transition in backend.take_webhooks():
                emu.webhooks.put_nowait(transition)
        except Exception:
            LOG.exception("taking queued webhooks from the database failed; retrying")
            await asyncio.sleep(max(interval, 1.0))
        await asyncio.sleep(max(interval, 0.2))


def create_app(
    settings: Settings | None = None,
    *,
    faults: FaultPlan | None = None,
    clock: Clock | None = None,
    corpus_dir: Path | None = DEFAULT_CORPUS,
    wall_epoch: float | None = None,
    tick_seconds: float = 0.05,
    data_dir: Path | None = None,
    database: str | None = None,
) -> web.Application:
    """An emulator application. Seams: settings, faults, clock (ManualClock enables /_emulator/clock).

    With `data_dir` the account is kept there and restored from it (durable.py; StorageError if unusable);
    without, it lives in memory only. With `database` (a URL) the account lives in a database shared with other
    servers and with speech workers, which do the processing (cluster/; DatabaseError if unusable)."""
    clock = clock or SystemClock()
    settings = settings or Settings()
    if settings.mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {settings.mode!r}")
    wall = time.time() if wall_epoch is None else wall_epoch
    backend: Backend
    if database is not None:
        backend = open_shared(settings, clock, wall, database)
    elif data_dir is not None:
        backend = open_durable(settings, clock, wall, data_dir)
    else:
        backend = Backend(settings, clock, wall)
    if settings.mode == "real" and database is None:
        recognition.check_models()  # one sentence naming the missing package, before anything listens
        backend.recognition = recognition.Recognition(settings.workers)
    emu = Emulator(
        backend,
        CorpusIndex.load(corpus_dir),
        faults or FaultPlan(),
        manual_clock=clock if isinstance(clock, ManualClock) else None,
    )
    app = web.Application(middlewares=[record, inject, authenticate])
    app[EMULATOR] = emu
    app.add_routes(control)
    app.add_routes(routes)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        emu.session = aiohttp.ClientSession()
        tasks = [asyncio.create_task(_progress(emu, tick_seconds)), asyncio.create_task(_deliver_webhooks(emu))]
        if database is not None:  # the workers' transitions reach the webhooks through the database
            tasks.append(asyncio.create_task(_take_webhooks(emu, tick_seconds)))
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await emu.session.close()
        if backend.recognition is not None:
            backend.recognition.close()
        if backend.own_media and backend.kept is not None:
            shutil.rmtree(backend.kept.folder, ignore_errors=True)
        if isinstance(backend, DurableBackend | SharedBackend):
            backend.close()

    app.cleanup_ctx.append(lifecycle)
    return app
