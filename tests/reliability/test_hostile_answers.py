"""A hostile server, end to end through `open_run`: malformed results, an echo of the request, a listing that
ignores `offset`, an API that is not there. Each is that recording's error (or a clean stop of the run), never a
traceback, never an unbounded wait, never a leaked secret."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from batch import Broken, Event, SymblClient, Unreachable, load_manifest, open_run
from batch.client import RetryPolicy
from batch.webhooks import path_secret
from tests.support.emulator import FAST
from tests.support.server import CORPUS

SECRET = "app-SECRET-value-0123456789"
TOKEN = "tok-" + "T" * 40
CID, JOB = "5551234567890123", "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
GOOD_MESSAGE = {"id": "m1", "text": "hello", "from": {"id": "u1", "name": "Speaker 1"}, "timeOffset": 0.5}


def fake(messages: list[Any], members: list[Any]) -> web.Application:
    """Just enough of the API for one recording whose job completes at once, with the given results."""

    async def token(_: web.Request) -> web.Response:
        return web.json_response({"accessToken": TOKEN, "expiresIn": 86400})

    async def create(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"conversationId": CID, "jobId": JOB}, status=201)

    async def job(_: web.Request) -> web.Response:
        return web.json_response({"id": JOB, "status": "completed"})

    async def conversation(_: web.Request) -> web.Response:
        return web.json_response({"id": CID, "name": "x"})

    async def part(request: web.Request) -> web.Response:
        key = {"action-items": "actionItems", "follow-ups": "followUps"}.get(request.match_info["part"])
        key = key or request.match_info["part"]
        body = {"messages": messages, "members": members}.get(key, [])
        return web.json_response({key: body})

    async def listing(_: web.Request) -> web.Response:
        return web.json_response({"conversations": []})

    app = web.Application()
    app.router.add_post("/oauth2/token:generate", token)
    app.router.add_post("/v1/process/audio", create)
    app.router.add_get("/v1/conversations", listing)
    app.router.add_get("/v1/job/{id}", job)
    app.router.add_get(f"/v1/conversations/{CID}", conversation)
    app.router.add_get(f"/v1/conversations/{CID}/{{part}}", part)
    return app


def manifest_for(tmp_path: Path, base_url: str, extra: str = "") -> Any:
    path = tmp_path / "m.toml"
    path.write_text(
        f'[api]\noutput = "out"\n{extra}\n[[conversations]]\nid = "x"\n  [[conversations.segments]]\n'
        f'  file = "{CORPUS / "media" / "solo-memo.wav"}"\n'
    )
    return load_manifest(path, environ={"SYMBL_APP_ID": "app", "SYMBL_APP_SECRET": SECRET, "SYMBL_BASE_URL": base_url})


MALFORMED = [
    ("message without id", [{"text": "hi"}], [], "item 0 has no usable id (id)"),
    ("timeOffset soon", [GOOD_MESSAGE | {"timeOffset": "soon"}], [], "item 0 has a time that is not a finite number"),
    ("from a string", [GOOD_MESSAGE | {"from": "Speaker 1"}], [], "names its speaker with something other than"),
    ("member without id", [GOOD_MESSAGE], [{"name": "Speaker 1"}], "members: item 0 has no usable id"),
]


@pytest.mark.parametrize(("name", "messages", "members", "reason"), MALFORMED, ids=[c[0] for c in MALFORMED])
async def test_malformed_results_are_that_recordings_error_run_after_run(  # noqa: PLR0917 - parametrised
    aiohttp_server: Any, tmp_path: Path, name: str, messages: list[Any], members: list[Any], reason: str
) -> None:
    """Before: a traceback, no report, running jobs abandoned, and every re-run crashed at the same point. Now the
    recording stays `finished` with the reason (its results are still on the server), the report is written, and a
    re-run reports the same instead of crashing."""
    server = await aiohttp_server(fake(messages, members))
    loaded = manifest_for(tmp_path, str(server.make_url("")).rstrip("/"))
    for _ in range(2):
        async with open_run(loaded, options=FAST) as run:
            report = await asyncio.wait_for(run.run(), 30)
        (row,) = report.segments
        assert row["status"] == "finished" and reason in row["error"] and "breaks the API contract" in row["error"]
        written = json.loads((tmp_path / "out" / "report.json").read_text())
        assert written["segments"][0]["status"] == "finished"


async def test_an_unreachable_api_stops_the_run_at_once(tmp_path: Path) -> None:
    """Nothing listens at the base URL. Before: each recording retried its token behind one lock (~57 s each: 47
    minutes for 10 recordings); now the run stops after one round of retries, with the reason, sending nothing."""
    loaded = manifest_for(tmp_path, "http://127.0.0.1:9")  # the discard port: nothing answers
    started = asyncio.get_running_loop().time()
    with pytest.raises(
        Unreachable, match=r"http://127\.0\.0\.1:9: no access token after 6 tries .*check api\.base_url"
    ):
        async with open_run(loaded, options=FAST) as run:
            await run.run()
    assert asyncio.get_running_loop().time() - started < 10
    assert json.loads((tmp_path / "out" / "report.json").read_text())["segments"][0]["status"] == "pending"


async def test_a_server_that_echoes_the_request_leaks_no_secret(aiohttp_server: Any, tmp_path: Path) -> None:
    """A 400 whose message repeats the whole request (headers, query, body). Before: the app secret reached stderr
    and the state, part of the bearer token `report.json`. Now neither, nor the webhook's secret path, anywhere."""

    async def token(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"accessToken": TOKEN, "expiresIn": 86400})

    async def echo(request: web.Request) -> web.Response:
        body = (await request.read())[:100].decode("latin-1")
        seen = f"{dict(request.headers)} {request.query_string} {body}"
        return web.json_response({"message": seen}, status=400)

    app = web.Application()
    app.router.add_post("/oauth2/token:generate", token)
    app.router.add_post("/v1/process/audio", echo)
    server = await aiohttp_server(app)
    loaded = manifest_for(tmp_path, str(server.make_url("")).rstrip("/"), 'webhook_listen = "127.0.0.1:0"')
    events: list[Event] = []
    async with open_run(loaded, options=FAST, on_event=events.append) as run:
        report = await run.run()
    (row,) = report.segments
    assert row["status"] == "failed" and "HTTP 400" in row["error"] and "[redacted]" in row["error"]
    texts = [str(e) for e in events] + [p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file()]
    for secret in (SECRET, TOKEN, TOKEN[:12], path_secret(SECRET)):
        assert not [t for t in texts if secret in t], secret


async def test_a_listing_that_ignores_offset_is_broken_not_endless(aiohttp_server: Any) -> None:
    """Every page is the same full page. Before: the client paged for ever."""

    async def token(_: web.Request) -> web.Response:
        return web.json_response({"accessToken": TOKEN, "expiresIn": 86400})

    async def listing(_: web.Request) -> web.Response:
        return web.json_response({"conversations": [{"id": str(n), "name": "x"} for n in range(100)]})

    app = web.Application()
    app.router.add_post("/oauth2/token:generate", token)
    app.router.add_get("/v1/conversations", listing)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as http:
        client = SymblClient(
            base_url=str(server.make_url("")).rstrip("/"),
            app_id="a",
            app_secret=SECRET,
            session=http,
            retry=replace(RetryPolicy(), base=0, cap=0),
        )
        with pytest.raises(Broken, match="the listing repeats itself"):
            await asyncio.wait_for(client.conversations_named("x"), 10)
