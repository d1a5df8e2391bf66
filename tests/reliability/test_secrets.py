"""Secrets: after full runs with debug logging in both formats (and one with a wrong secret), neither the app
secret nor the access token appears in any log line, output, state file or error; files are owner-only."""

from __future__ import annotations

import signal
from pathlib import Path

import aiohttp

from tests.processes import demo_copy, run_cli, start_emulator

SECRET = "s3cr3t-VALUE-never-logged"
WRONG = "wr0ng-SECRET-also-never-logged"


def _joined(result: tuple[int, str, str]) -> str:
    return result[1] + result[2]


async def test_no_secret_or_token_anywhere(tmp_path: Path) -> None:
    """Logs (json and text, -v), stdout, every output and state file: no app secret, no access token; mode 0600."""
    emulator = await start_emulator("--time-scale", "0.01", app=("app", SECRET))
    env, base = emulator.env(), emulator.base_url
    try:
        texts = []
        for fmt in ("json", "text"):
            folder = tmp_path / fmt
            folder.mkdir()
            texts.append(
                _joined(await run_cli(str(demo_copy(folder)), "-v", "--log-format", fmt, env=env, seconds=180))
            )
        wrong = tmp_path / "wrong"
        wrong.mkdir()
        texts.append(
            _joined(await run_cli(str(demo_copy(wrong)), "-v", env=env | {"SYMBL_APP_SECRET": WRONG}, seconds=180))
        )
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
