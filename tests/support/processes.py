"""Real processes for tests: the emulator started as `python -m batch.emulator`, and the CLI run as a subprocess."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from asyncio.subprocess import PIPE
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.server import CORPUS, ROOT

APP = ("cli-app", "cli-secret")
FAST_API = "poll_min = 0.05\npoll_cap = 0.3\nlost_answer_grace = 0.2\nundecided_after = 5\nprobe_after = 1"


class EmulatorProcess:
    def __init__(self, proc: asyncio.subprocess.Process, base_url: str, app: tuple[str, str] = APP) -> None:
        self.proc, self.base_url, self.app = proc, base_url, app

    async def control(self, name: str) -> Any:
        async with aiohttp.ClientSession() as http, http.get(f"{self.base_url}/_emulator/{name}") as resp:
            return await resp.json()

    def env(self) -> dict[str, str]:
        return os.environ | {
            "SYMBL_BASE_URL": self.base_url,
            "SYMBL_APP_ID": self.app[0],
            "SYMBL_APP_SECRET": self.app[1],
        }


async def start_emulator(*args: str, app: tuple[str, str] = APP) -> EmulatorProcess:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "batch.emulator",
        "--app-id",
        app[0],
        "--app-secret",
        app[1],
        *(args if "--mode" in args else ("--mode", "scripted", *args)),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
    match = re.search(r"(http://\S+)", line)
    assert match, line
    return EmulatorProcess(proc, match.group(1), app)


def demo_copy(tmp_path: Path) -> Path:
    """The demo manifest with absolute media paths, its output under tmp_path and fast timings."""
    text = (ROOT / "manifests" / "demo.toml").read_text().replace("../corpus/", f"{CORPUS}/")
    text = text.replace('output = "../demo-output"', f'output = "{tmp_path / "out"}"\n{FAST_API}')
    path = tmp_path / "demo.toml"
    path.write_text(text)
    return path


async def spawn_cli(
    *argv: str,
    env: dict[str, str] | None = None,
    stdout: Any = PIPE,
    stderr: Any = PIPE,
    prefix: Sequence[str] = (),
) -> asyncio.subprocess.Process:
    """`python -m batch.cli ARGV...` started from the project's folder (the one way the tests spawn the CLI);
    `stdout`/`stderr`: `asyncio.subprocess.PIPE` (default), `DEVNULL`, a descriptor, a file or None (inherited);
    `prefix`: a command that execs the rest (e.g. a shell that closes a descriptor first)."""
    return await asyncio.create_subprocess_exec(
        *prefix, sys.executable, "-m", "batch.cli", *argv, stdout=stdout, stderr=stderr, cwd=ROOT, env=env
    )


async def cli(*argv: str, env: dict[str, str] | None = None, seconds: float = 120) -> tuple[int, str, str]:
    """`python -m batch.cli ARGV...` as a subprocess: its exit code, stdout and stderr."""
    proc = await spawn_cli(*argv, env=env)
    out, err = await asyncio.wait_for(proc.communicate(), seconds)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


SCRIPTED = ("--emulator", "--backend-mode", "scripted")  # the embedded backend with the corpus truth


async def run_cli(*args: str, env: dict[str, str] | None = None, seconds: float = 120) -> tuple[int, str, str]:
    """`symbl-batch run ARGS...`."""
    return await cli("run", *args, env=env, seconds=seconds)
