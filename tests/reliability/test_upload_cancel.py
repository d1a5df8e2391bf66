"""Ctrl-C or SIGTERM in the middle of an upload: the server cannot have acted on a body it never received whole,
so the recording is pending again (sent by the next run, once), never `unknown` and then `stuck`."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from pathlib import Path
from typing import Any

from aiohttp import web

from batch import Store, load_manifest, open_run
from tests.support.emulator import FAST

TOKEN = "tok-" + "U" * 40


def big_wav(path: Path, seconds: int) -> Path:
    """A valid 16 kHz mono WAV of silence, large enough to fill every socket buffer on the way."""
    data = seconds * 16_000 * 2
    header = (
        b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 16_000, 32_000, 2, 16)
    )
    with path.open("wb") as handle:
        handle.write(header + b"data" + struct.pack("<I", data))
        handle.truncate(44 + data)
    return path


async def test_a_stop_mid_upload_leaves_the_recording_pending_and_it_is_sent_once(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    reading, release = asyncio.Event(), asyncio.Event()
    creates: list[int] = []

    async def token(_: web.Request) -> web.Response:
        return web.json_response({"accessToken": TOKEN, "expiresIn": 86400})

    async def create(request: web.Request) -> web.Response:
        if not creates:  # the first time: take the request, never read its body (the upload stalls)
            creates.append(0)
            reading.set()
            await release.wait()
            raise web.HTTPServiceUnavailable
        body = await request.read()
        creates.append(len(body))
        return web.json_response({"conversationId": "5550000000000001", "jobId": "job-1"}, status=201)

    async def job(_: web.Request) -> web.Response:
        return web.json_response({"id": "job-1", "status": "in_progress"})

    async def listing(_: web.Request) -> web.Response:
        return web.json_response({"conversations": []})

    app = web.Application(client_max_size=1 << 30)
    app.router.add_post("/oauth2/token:generate", token)
    app.router.add_post("/v1/process/audio", create)
    app.router.add_get("/v1/job/{id}", job)
    app.router.add_get("/v1/conversations", listing)
    server = await aiohttp_server(app)
    media = big_wav(tmp_path / "long.wav", 1800)  # 57.6 MB
    path = tmp_path / "m.toml"
    path.write_text(
        f'[api]\noutput = "out"\n[[conversations]]\nid = "x"\n  [[conversations.segments]]\n  file = "{media}"\n'
    )
    env = {"SYMBL_APP_ID": "a", "SYMBL_APP_SECRET": "s" * 20, "SYMBL_BASE_URL": str(server.make_url("")).rstrip("/")}
    loaded = load_manifest(path, environ=env)
    async with open_run(loaded, options=FAST) as run:
        task = asyncio.create_task(run.run())
        await asyncio.wait_for(reading.wait(), 30)
        await asyncio.sleep(0.5)  # the client is blocked writing the body
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    release.set()
    with Store(loaded.api.state) as store:
        row = store.row("x/1")
    assert (row.status.value, row.error) == ("pending", "stopped mid-upload")
    assert row.evidence.get("unsent") is True
    async with open_run(loaded, options=FAST) as run:  # the next run sends it, once, in full
        run_task = asyncio.create_task(run.run())
        for _ in range(300):
            if len(creates) > 1:
                break
            await asyncio.sleep(0.05)
        run_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run_task
    assert creates[1:] == [media.stat().st_size]
