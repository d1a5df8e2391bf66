"""The optional webhook receiver: Symbl's job notices wake the poller of that job early (docs/api-contract.md §8).

Rules: the path carries a secret (`/symbl-batch/<secret>`; anything else is a 404 that reveals nothing); the
body is read up to 64 KiB; a notice names its job by `jobId` or `id`, and wakes its poller unless its
`status` says the job is still running (`scheduled`, `in_progress`); a notice is only a hint — the job is
confirmed with GET /v1/job/{id}, and polling goes on as the fallback whether or not notices arrive.
The secret is derived from the app secret by HMAC, so it is stable across runs and never stored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import orjson
from aiohttp import web

MAX_NOTICE = 64 * 1024
RUNNING = frozenset({"scheduled", "in_progress"})


def path_secret(app_secret: str) -> str:
    return hmac.new(app_secret.encode(), b"symbl-batch webhook", hashlib.sha256).hexdigest()[:32]


class Receiver:
    def __init__(self, *, secret: str, notify: Callable[[str], None]) -> None:
        self._secret, self._notify = secret, notify
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.received = 0

    async def _notice(self, request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.match_info["secret"], self._secret):
            raise web.HTTPNotFound()
        try:
            body = orjson.loads(await request.content.read(MAX_NOTICE))
        except orjson.JSONDecodeError:
            raise web.HTTPBadRequest() from None
        job_id = body.get("jobId") or body.get("id") if isinstance(body, dict) else None
        if isinstance(job_id, str):
            self.received += 1
            if body.get("status") not in RUNNING:  # a job still running needs no look; an end (or unknown) does
                self._notify(job_id)
        return web.Response(text="ok")

    async def start(self, host: str, port: int, public_url: str | None) -> str:
        """Listen; return the webhookUrl to send with every submission."""
        app = web.Application(client_max_size=MAX_NOTICE)
        app.router.add_post("/symbl-batch/{secret}", self._notice)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site.name.rstrip("/")
        self.base_url = (public_url or bound).rstrip("/")
        return f"{self.base_url}/symbl-batch/{self._secret}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
