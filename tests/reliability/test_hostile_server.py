"""A hostile server: malformed JSON, missing keys, wrong content types, enormous bodies, redirect loops, statuses
outside the contract. Each is a reported error for that recording — never a crash, never an unbounded read."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from batch import load_manifest, open_run
from batch.flow import Timing
from tests.support.emulator import FAST
from tests.support.server import CORPUS

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JOB = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"


def server(*, submit: Handler | None = None, job: Handler | None = None) -> web.Application:
    async def token(_: web.Request) -> web.Response:
        return web.json_response({"accessToken": "a.b.c", "expiresIn": 86400})

    async def created(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"conversationId": "1234567890123456", "jobId": JOB}, status=201)

    async def listing(_: web.Request) -> web.Response:
        return web.json_response({"conversations": []})

    app = web.Application()
    app.router.add_post("/oauth2/token:generate", token)
    app.router.add_post("/v1/process/audio", submit or created)
    app.router.add_get("/v1/conversations", listing)
    if job is not None:
        app.router.add_get("/v1/job/{id}", job)
    return app


async def text(body: str, content_type: str = "application/json", status: int = 200) -> web.Response:
    return web.Response(text=body, content_type=content_type, status=status)


async def malformed(_: web.Request) -> web.Response:
    return await text('{"id": "x", "status":')


async def missing_keys(_: web.Request) -> web.Response:
    return web.json_response({"id": JOB})


async def html(_: web.Request) -> web.Response:
    return await text("<html><body>maintenance</body></html>", "text/html")


async def enormous(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    chunk = b" " * 65536
    for _ in range(16 * 1024):  # 1 GiB if anyone read it all; the client stops after its cap
        try:
            await response.write(chunk)
        except (ConnectionError, RuntimeError):
            break
    return response


async def redirect_loop(request: web.Request) -> web.Response:
    raise web.HTTPFound(str(request.rel_url))


async def strange_status(_: web.Request) -> web.Response:
    return web.json_response({"id": JOB, "status": "done"})


async def not_json_submit(request: web.Request) -> web.Response:
    await request.read()
    return await text("created!", "text/plain", status=201)


CASES: list[tuple[str, dict[str, Handler], str, str]] = [  # a job that cannot be polled keeps its id: timed_out
    ("malformed JSON", {"job": malformed}, "timed_out", "answer is not JSON"),
    ("missing keys", {"job": missing_keys}, "timed_out", "status None is not in the contract"),
    ("wrong content type", {"job": html}, "timed_out", "answer is not JSON (text/html)"),
    ("enormous body", {"job": enormous}, "timed_out", "answer larger than 1048576 bytes"),
    ("redirect loop", {"job": redirect_loop}, "timed_out", "unexpected redirect (HTTP 302)"),
    ("status outside the contract", {"job": strange_status}, "timed_out", "status 'done' is not in the contract"),
    ("malformed answer to a create", {"submit": not_json_submit}, "failed", "the create never took effect"),
]


@pytest.mark.parametrize(("name", "handlers", "status", "reason"), CASES, ids=[c[0] for c in CASES])
async def test_hostile_answers_are_reported_for_that_recording(
    aiohttp_server: Any, tmp_path: Path, *, name: str, handlers: dict[str, Handler], status: str, reason: str
) -> None:
    """The run ends on its own, the recording is reported with the reason, and the run's memory stays bounded."""
    hostile = await aiohttp_server(server(**handlers))
    manifest = tmp_path / "m.toml"
    manifest.write_text(
        f'[api]\noutput = "out"\n[[conversations]]\nid = "x"\n  [[conversations.segments]]\n'
        f'  file = "{CORPUS / "media" / "solo-memo.wav"}"\n'
    )
    env = {"SYMBL_APP_ID": "a", "SYMBL_APP_SECRET": "s", "SYMBL_BASE_URL": str(hostile.make_url("")).rstrip("/")}
    options = replace(
        FAST,
        timing=replace(FAST.timing, poll_errors_allowed=2, max_attempts=2),
        retry=replace(FAST.retry, attempts=2),
        max_body=1 << 20,
    )
    loaded = load_manifest(manifest, environ=env)
    async with open_run(loaded, options=options) as run:
        report = await asyncio.wait_for(run.run(), 60)
    (row,) = report.segments
    assert row["status"] == status
    assert reason in row["error"]


def test_timing_defaults_bound_retries() -> None:
    """Without test overrides: 8 failed polls in a row fail a job; 5 sends that never took effect are reported."""
    assert (Timing().poll_errors_allowed, Timing().max_attempts) == (8, 5)
