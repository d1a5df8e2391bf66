"""The emulator on a loopback test server, driven by raw aiohttp requests (never our client): `Api` spells the
contract's requests out; `ROOT` and `CORPUS` are where the project and its corpus are."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from batch.emulator.app import create_app
from batch.emulator.backend import Settings
from batch.emulator.clock import ManualClock
from batch.emulator.faults import FaultPlan

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
APP_ID, APP_SECRET = "test-app", "test-secret"


class Api:
    """Raw HTTP against the emulator: the contract's requests, spelled out."""

    def __init__(self, http: TestClient[Any, Any], clock: ManualClock) -> None:
        self.http = http
        self.clock = clock
        self.token = ""

    async def login(self) -> str:
        resp = await self.http.post(
            "/oauth2/token:generate", json={"type": "application", "appId": APP_ID, "appSecret": APP_SECRET}
        )
        assert resp.status == 200, await resp.text()
        self.token = (await resp.json())["accessToken"]
        return self.token

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def upload(
        self,
        media: Path | bytes,
        *,
        kind: str = "audio",
        conversation_id: str | None = None,
        content_type: str | None = None,
        **params: str,
    ) -> Any:
        data = media.read_bytes() if isinstance(media, Path) else media
        headers = self.auth | ({"Content-Type": content_type} if content_type else {})
        if content_type is None and kind == "video":
            headers["Content-Type"] = "video/mp4"
        path = f"/v1/process/{kind}" + (f"/{conversation_id}" if conversation_id else "")
        method = self.http.put if conversation_id else self.http.post
        body = io.BytesIO(data) if len(data) > 1 << 20 else data  # aiohttp warns about large raw bodies
        return await method(path, data=body, params=params, headers=headers)

    async def submit(self, media: Path, **kwargs: Any) -> dict[str, str]:
        resp = await self.upload(media, **kwargs)
        assert resp.status == 201, await resp.text()
        body: dict[str, str] = await resp.json()
        return body

    async def get(self, path: str, status: int = 200, **params: str) -> Any:
        resp = await self.http.get(path, headers=self.auth, params=params)
        assert resp.status == status, await resp.text()
        return await resp.json()

    async def job_status(self, job_id: str) -> str:
        status: str = (await self.get(f"/v1/job/{job_id}"))["status"]
        return status

    async def finish(self, job_id: str, *, step: float = 1.0, limit: int = 10_000) -> str:
        """Advance the manual clock until the job is terminal; return its final status."""
        for _ in range(limit):
            status = await self.job_status(job_id)
            if status in ("completed", "failed"):
                return status
            self.clock.advance(step)
        raise AssertionError(f"job {job_id} never finished")

    async def put_member(self, conversation_id: str, member_id: str, body: Any) -> Any:
        return await self.http.put(
            f"/v1/conversations/{conversation_id}/members/{member_id}", json=body, headers=self.auth
        )

    async def control(self, name: str, body: Any = None) -> Any:
        resp = await (
            self.http.post(f"/_emulator/{name}", json=body) if body is not None else self.http.get(f"/_emulator/{name}")
        )
        assert resp.status == 200, await resp.text()
        return await resp.json()


MakeApi = Callable[..., Awaitable[Api]]


def make_api_with(aiohttp_client: Any) -> MakeApi:
    """The factory behind the `make_api` fixture: an emulator app on a manual clock, an `Api` logged in to it."""

    async def make(*, faults: dict[str, Any] | None = None, login: bool = True, **settings: Any) -> Api:
        clock = ManualClock()
        base: dict[str, Any] = {"app_id": APP_ID, "app_secret": APP_SECRET, "time_scale": 0.5, "mode": "scripted"}
        base |= settings
        app = create_app(
            Settings(**base),
            faults=FaultPlan.parse(faults or {}),
            clock=clock,
            corpus_dir=CORPUS,
            wall_epoch=1_700_000_000.0,
        )
        api = Api(await aiohttp_client(app), clock)
        if login:
            await api.login()
        return api

    return make


def media(name: str) -> Path:
    return CORPUS / "media" / name
