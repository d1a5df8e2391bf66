"""The real client and runner against the emulator on a loopback test server (`Emulator`, made by the
`make_emulator` fixture through `make_emulator_with`), fast timing for tests (`FAST`) and manifests of corpus media
(`write_manifest`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batch import Event, Options, load_manifest, open_run
from batch.client import RetryPolicy
from batch.emulator.app import create_app
from batch.emulator.backend import Settings
from batch.emulator.faults import FaultPlan
from batch.flow import Timing
from batch.report import Report
from tests.support.server import CORPUS

APP_ID, APP_SECRET = "engine-app", "engine-secret"
FAST = Options(
    timing=Timing(first_poll_min=0.02, poll_cap=0.2, lost_answer_grace=0.05, undecided_after=2.0, speed_guess=0.02),
    retry=RetryPolicy(base=0.01, cap=0.05),
    probe_after=0.5,
    backoff_base=0.05,
    tick=0.05,
)
SINGLES = ["solo-memo.wav", "interview.wav", "panel.wav", "workshop.wav", "planning-part2.wav", "standup-part2.wav"]


@dataclass
class Emulator:
    base_url: str
    http: Any
    events: list[Event] = field(default_factory=list)

    async def control(self, name: str) -> Any:
        async with self.http.get(f"{self.base_url}/_emulator/{name}") as resp:
            return await resp.json()

    def env(self) -> dict[str, str]:
        return {"SYMBL_APP_ID": APP_ID, "SYMBL_APP_SECRET": APP_SECRET, "SYMBL_BASE_URL": self.base_url}

    async def run(self, manifest: Path, *, options: Options = FAST, **kwargs: Any) -> Report:
        loaded = load_manifest(manifest, environ=self.env())
        async with open_run(loaded, options=options, on_event=self.events.append, **kwargs) as run:
            return await run.run()


MakeEmulator = Callable[..., Awaitable[Emulator]]


def make_emulator_with(aiohttp_server: Any, aiohttp_client: Any) -> MakeEmulator:
    """The factory behind the `make_emulator` fixture: the emulator app (scripted, fast) on a loopback server."""

    async def make(*, faults: dict[str, Any] | None = None, **settings: Any) -> Emulator:
        base: dict[str, Any] = {"app_id": APP_ID, "app_secret": APP_SECRET, "time_scale": 0.005, "mode": "scripted"}
        base |= settings
        server = await aiohttp_server(
            create_app(Settings(**base), faults=FaultPlan.parse(faults or {}), corpus_dir=CORPUS, tick_seconds=0.01)
        )
        http = await aiohttp_client(server)
        return Emulator(str(server.make_url("")).rstrip("/"), http.session)

    return make


def write_manifest(
    folder: Path, conversations: list[tuple[str, list[str]]], *, concurrency: int = 5, extra: str = ""
) -> Path:
    """A TOML manifest whose conversations use corpus media (absolute paths), diarized."""
    lines = [
        "[api]",
        f"concurrency = {concurrency}",
        'output = "out"',
        extra,
        "",
        "[defaults]",
        "enableSpeakerDiarization = true",
        "diarizationSpeakerCount = 2",
        "",
    ]
    for conv_id, files in conversations:
        lines += ["[[conversations]]", f'id = "{conv_id}"']
        for name in files:
            path = name if name.startswith("/") else str(CORPUS / "media" / name)
            lines += ["  [[conversations.segments]]", f'  file = "{path}"']
    target = folder / "manifest.toml"
    target.write_text("\n".join(lines) + "\n")
    return target
