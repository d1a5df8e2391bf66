"""The suite's fixtures; what they are made of lives in `tests/support/` (no test module imports another)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconcile.cli import VOICE_CACHE
from tests.support.emulator import MakeEmulator, make_emulator_with
from tests.support.processes import EmulatorProcess, start_emulator
from tests.support.server import Api, MakeApi, make_api_with


@pytest.fixture(scope="session", autouse=True)
def _shared_voice_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One voice-embedding cache (`$SYMBL_VOICE_CACHE`) for every command the suite runs: the same speech of the
    corpus is embedded once, not once per test (a hit is the vector the model computes; `tests/test_voice.py`
    shows it). A cache set by the caller is kept."""
    folder = tmp_path_factory.mktemp("voice-cache")
    before = os.environ.get(VOICE_CACHE)
    os.environ.setdefault(VOICE_CACHE, str(folder))
    yield folder
    if before is None:
        os.environ.pop(VOICE_CACHE, None)


@pytest.fixture
def make_api(aiohttp_client: Any) -> MakeApi:
    """Raw HTTP against an emulator app on a manual clock (`tests.support.server.Api`)."""
    return make_api_with(aiohttp_client)


@pytest.fixture
async def api(make_api: MakeApi) -> Api:
    return await make_api()


@pytest.fixture
def make_emulator(aiohttp_server: Any, aiohttp_client: Any) -> MakeEmulator:
    """The real client and runner against an emulator app on a loopback server (`tests.support.emulator`)."""
    return make_emulator_with(aiohttp_server, aiohttp_client)


@pytest.fixture
async def emulator() -> AsyncIterator[EmulatorProcess]:
    """The emulator as its own process (`python -m batch.emulator`, scripted), stopped with SIGTERM after."""
    emu = await start_emulator("--time-scale", "0.02")
    yield emu
    emu.proc.send_signal(signal.SIGTERM)
    await asyncio.wait_for(emu.proc.wait(), 20)
