"""A round-robin HTTP load balancer on loopback, as a deployment would put in front of several API servers.

Each request goes to the next upstream; one that refuses the connection (a server restarting) is skipped for the
next, as a balancer's health check would. Upstreams can be replaced while it runs (`upstreams[i] = url`).
"""

from __future__ import annotations

import itertools

import aiohttp
from aiohttp import web

HOP = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive"})


class Balancer:
    def __init__(self, upstreams: list[str]) -> None:
        self.upstreams = upstreams
        self.sent = [0] * len(upstreams)
        self._turn = itertools.count()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
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
        return self.url

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        for _ in range(len(self.upstreams)):
            index = next(self._turn) % len(self.upstreams)
            target = self.upstreams[index] + request.path_qs
            try:
                async with self._session.request(request.method, target, data=body, headers=headers) as resp:
                    payload = await resp.read()
                    self.sent[index] += 1
                    kept = {k: v for k, v in resp.headers.items() if k.lower() not in HOP}
                    return web.Response(status=resp.status, body=payload, headers=kept)
            except aiohttp.ClientConnectorError:
                continue  # that server is down: the next one answers
        return web.Response(status=502, text="no upstream is up")

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()
