"""The strategies users would otherwise use, written against the raw API (aiohttp), for side-by-side runs.

- `sdk_sequential`: the official SDK's pattern — one recording at a time, polling every 30 s (scaled);
- `sdk_batch`: the SDK's batch example — submit everything at once, poll every 30 s (scaled); a 429 is a failure;
- `semaphore`: a fixed semaphore (8) with 3 s polling (scaled); a 429 waits 3 s (scaled) and resubmits.
Each returns the number of recordings finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import aiohttp


class RawApi:
    def __init__(self, http: aiohttp.ClientSession, base: str, app: tuple[str, str]) -> None:
        self.http, self.base, self.app = http, base, app
        self.headers: dict[str, str] = {}
        self.rejected = 0

    async def login(self) -> None:
        body = {"type": "application", "appId": self.app[0], "appSecret": self.app[1]}
        async with self.http.post(f"{self.base}/oauth2/token:generate", json=body) as resp:
            self.headers = {"Authorization": f"Bearer {(await resp.json())['accessToken']}"}

    async def submit(self, path: Path) -> str | None:
        data = path.read_bytes()
        async with self.http.post(f"{self.base}/v1/process/audio", data=data, headers=self.headers) as resp:
            if resp.status == 429:
                self.rejected += 1
                return None
            return str((await resp.json())["jobId"])

    async def wait(self, job: str, interval: float) -> bool:
        while True:
            await asyncio.sleep(interval)
            async with self.http.get(f"{self.base}/v1/job/{job}", headers=self.headers) as resp:
                status = (await resp.json())["status"]
            if status in ("completed", "failed"):
                return bool(status == "completed")


async def sdk_sequential(api: RawApi, files: Sequence[Path], scale: float) -> int:
    done = 0
    for path in files:
        job = await api.submit(path)
        done += job is not None and await api.wait(job, 30 * scale)
    return done


async def sdk_batch(api: RawApi, files: Sequence[Path], scale: float) -> int:
    jobs = await asyncio.gather(*(api.submit(p) for p in files))
    finished = await asyncio.gather(*(api.wait(j, 30 * scale) for j in jobs if j is not None))
    return sum(finished)


async def semaphore(api: RawApi, files: Sequence[Path], scale: float, size: int = 8) -> int:
    gate = asyncio.Semaphore(size)

    async def one(path: Path) -> bool:
        async with gate:
            while (job := await api.submit(path)) is None:  # noqa: ASYNC110 - the naive retry loop being measured
                await asyncio.sleep(3 * scale)
            return await api.wait(job, 3 * scale)

    return sum(await asyncio.gather(*(one(p) for p in files)))


READS = ("", "/messages", "/members", "/insights", "/questions", "/action-items", "/follow-ups", "/topics")


async def bare_requests(api: RawApi, files: Sequence[Path]) -> int:
    """The floor for scenario 4: the HTTP requests our engine makes per lifecycle (name lookup, upload, status
    until ended, the conversation and its seven lists), with bare aiohttp and nothing else: no state, no files."""
    done = 0
    for path in files:
        params = {"filter": f'name=="{path.stem}"', "limit": "100", "offset": "0", "order": "asc"}
        async with api.http.get(f"{api.base}/v1/conversations", params=params, headers=api.headers) as resp:
            await resp.read()
        async with api.http.post(
            f"{api.base}/v1/process/audio", params={"name": path.stem}, data=path.read_bytes(), headers=api.headers
        ) as resp:
            answer = await resp.json()
        if await api.wait(answer["jobId"], 0.0):
            for part in READS:
                async with api.http.get(
                    f"{api.base}/v1/conversations/{answer['conversationId']}{part}", headers=api.headers
                ) as resp:
                    await resp.read()
            done += 1
    return done
