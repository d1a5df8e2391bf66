"""A round-robin HTTP load balancer on loopback, as a deployment would put in front of several API servers.

Like a production balancer it checks each upstream's health (`GET /_emulator/health` every `check_every`
seconds) and sends nothing to one that answers 503 (draining: `serve --drain`) or does not answer. A request whose
connection is refused goes to the next upstream (nothing reached the refusing one); any other failure after the
request left is answered 502 and never replayed, since a replayed append would be a second job. Upstreams can be
replaced while it runs (`upstreams[i] = url`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

HOP = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive"})


async def _once(body: bytes) -> AsyncIterator[bytes]:
    """The body as a one-shot stream: aiohttp replays a PUT with a bytes body by itself on a dropped connection."""
    yield body


class Balancer:
    def __init__(self, upstreams: list[str], *, check_every: float = 0.1) -> None:
        self.upstreams = upstreams
        self.sent = [0] * len(upstreams)
        self.healthy = [True] * len(upstreams)
        self.failed = 0  # requests answered 502: sent to an upstream that failed before answering
        self.check_every = check_every
        self._turn = itertools.count()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._checks: asyncio.Task[None] | None = None
        self.url = ""

    async def start(self) -> str:
        self._session = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"  # type: ignore[attr-defined]
        self._checks = asyncio.create_task(self._check_health())
        return self.url

    async def _check_health(self) -> None:
        assert self._session is not None
        while True:
            for index, upstream in enumerate(list(self.upstreams)):
                try:
                    async with self._session.get(upstream + "/_emulator/health") as resp:
                        self.healthy[index] = resp.status == 200
                except aiohttp.ClientError:
                    self.healthy[index] = False
            await asyncio.sleep(self.check_every)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        for _ in range(len(self.upstreams)):
            index = next(self._turn) % len(self.upstreams)
            if not self.healthy[index]:
                continue
            target = self.upstreams[index] + request.path_qs
            data = _once(body) if body else None
            if body:
                headers["Content-Length"] = str(len(body))  # the server needs the size; the stream has none
            try:
                async with self._session.request(request.method, target, data=data, headers=headers) as resp:
                    payload = await resp.read()
                    self.sent[index] += 1
                    kept = {k: v for k, v in resp.headers.items() if k.lower() not in HOP}
                    return web.Response(status=resp.status, body=payload, headers=kept)
            except aiohttp.ClientConnectorError:
                self.healthy[index] = False
                continue  # that server is down: nothing reached it, so the next one answers
            except aiohttp.ClientError:
                self.failed += 1
                return web.Response(status=502, text="the upstream failed after the request was sent")
        return web.Response(status=502, text="no upstream is up")

    async def close(self) -> None:
        if self._checks is not None:
            self._checks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checks
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
