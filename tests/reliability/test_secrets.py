"""Secrets: after full runs with debug logging in both formats (and one with a wrong secret), neither the app
secret nor the access token appears in any log line, output, state file or error; files are owner-only."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import aiohttp

from tests.conftest import ROOT
from tests.processes import demo_copy, start_emulator

SECRET = "s3cr3t-VALUE-never-logged"
WRONG = "wr0ng-SECRET-also-never-logged"


async def _cli(manifest: Path, env: dict[str, str], *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "batch.cli",
        "run",
        str(manifest),
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    return out.decode(errors="replace") + err.decode(errors="replace")


async def test_no_secret_or_token_anywhere(tmp_path: Path) -> None:
    """Logs (json and text, -v), stdout, every output and state file: no app secret, no access token; mode 0600."""
    emulator = await start_emulator("--time-scale", "0.01", app=("app", SECRET))
    env, base = emulator.env(), emulator.base_url
    try:
        texts = []
        for fmt in ("json", "text"):
            folder = tmp_path / fmt
            folder.mkdir()
            texts.append(await _cli(demo_copy(folder), env, "-v", "--log-format", fmt))
        wrong = tmp_path / "wrong"
        wrong.mkdir()
        texts.append(await _cli(demo_copy(wrong), env | {"SYMBL_APP_SECRET": WRONG}, "-v"))
        async with aiohttp.ClientSession() as http:
            grant = {"type": "application", "appId": "app", "appSecret": SECRET}
            async with http.post(f"{base}/oauth2/token:generate", json=grant) as resp:
                token = (await resp.json())["accessToken"]
            async with http.get(f"{base}/_emulator/requests") as resp:
                assert SECRET not in await resp.text() and token not in await resp.text()
    finally:
        emulator.proc.send_signal(signal.SIGTERM)
        await emulator.proc.wait()
    assert '"event":"saved"' in texts[0] and "info    saved" in texts[1] and "401" in texts[2]
    for text in texts:
        assert SECRET not in text and WRONG not in text and token not in text
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "demo.toml"]
    assert len(files) > 100
    for path in files:
        data = path.read_bytes()
        assert SECRET.encode() not in data and WRONG.encode() not in data and token.encode() not in data, path
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
