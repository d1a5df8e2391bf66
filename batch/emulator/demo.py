"""`symbl-batch demo`: start the emulator in-process and play the whole corpus through it over HTTP.

A stand-in for the main job until the batch engine exists: every corpus recording is uploaded with speaker
diarization (parts 2+ of a conversation as appends, each after the previous job finished), then each
conversation's members and transcript are printed. Raw HTTP only; it shares nothing with the client.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from batch.emulator.app import create_app
from batch.emulator.backend import Settings
from batch.emulator.corpus import DEFAULT_CORPUS


async def _json(resp: aiohttp.ClientResponse, status: int) -> Any:
    if resp.status != status:
        raise RuntimeError(f"{resp.method} {resp.url.path} answered {resp.status}: {await resp.text()}")
    return await resp.json()


class Player:
    def __init__(self, http: aiohttp.ClientSession, base: str, settings: Settings) -> None:
        self.http, self.base, self.settings = http, base, settings
        self.headers: dict[str, str] = {}

    async def login(self) -> None:
        body = {"type": "application", "appId": self.settings.app_id, "appSecret": self.settings.app_secret}
        async with self.http.post(f"{self.base}/oauth2/token:generate", json=body) as resp:
            self.headers = {"Authorization": f"Bearer {(await _json(resp, 200))['accessToken']}"}

    async def process(self, path: Path, count: int, conversation_id: str | None) -> str:
        kind, ctype = ("video", "video/mp4") if path.suffix == ".mp4" else ("audio", "audio/wav")
        url = f"{self.base}/v1/process/{kind}" + (f"/{conversation_id}" if conversation_id else "")
        query = {"enableSpeakerDiarization": "true", "diarizationSpeakerCount": str(count), "name": path.stem}
        send = self.http.put if conversation_id else self.http.post
        data = await asyncio.to_thread(path.read_bytes)
        async with send(url, data=data, params=query, headers=self.headers | {"Content-Type": ctype}) as r:
            created = await _json(r, 201)
        while True:
            async with self.http.get(f"{self.base}/v1/job/{created['jobId']}", headers=self.headers) as resp:
                status = (await _json(resp, 200))["status"]
            if status in ("completed", "failed"):
                break
            await asyncio.sleep(0.05)
        print(f"  {path.name:<22} job {created['jobId'][:8]}… {status}")
        return str(created["conversationId"])

    async def transcript(self, conversation_id: str) -> None:
        base = f"{self.base}/v1/conversations/{conversation_id}"
        async with self.http.get(f"{base}/members", headers=self.headers) as resp:
            members = (await _json(resp, 200))["members"]
        async with self.http.get(f"{base}/messages", headers=self.headers) as resp:
            messages = (await _json(resp, 200))["messages"]
        print(f"    members: {', '.join(m['name'] for m in members)}; {len(messages)} messages")
        for message in messages[:3]:
            print(f"    [{message['timeOffset']:>6.2f}s] {message['from'].get('name', '?')}: {message['text']}")


async def play(corpus: Path = DEFAULT_CORPUS) -> int:
    settings = Settings(time_scale=0.01, concurrency_limit=5)
    runner = web.AppRunner(create_app(settings, corpus_dir=corpus), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = site.name.rstrip("/")
    print(f"emulator on {base}, corpus {corpus}")
    groups: dict[str, list[dict[str, Any]]] = {}
    for script_path in sorted((corpus / "scripts").glob("*.json")):
        script = json.loads(script_path.read_text())
        groups.setdefault(script.get("conversation", script["id"]), []).append(script)
    try:
        async with aiohttp.ClientSession() as http:
            player = Player(http, base, settings)
            await player.login()
            for name, parts in groups.items():
                print(f"conversation {name}:")
                conversation_id = None
                for script in sorted(parts, key=lambda s: s.get("part", 1)):
                    speakers = len({u["speaker"] for u in script["utterances"]})
                    conversation_id = await player.process(corpus / script["media"], speakers, conversation_id)
                assert conversation_id is not None
                await player.transcript(conversation_id)
    finally:
        await runner.cleanup()
    return 0


def main() -> int:
    return asyncio.run(play())


if __name__ == "__main__":
    sys.exit(main())
