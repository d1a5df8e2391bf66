"""The emulator as people start it: `python -m batch.emulator`, `symbl-batch emulator`, and `symbl-batch demo`."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import aiohttp

from tests.support.server import ROOT


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "batch.emulator", *args, stdout=asyncio.subprocess.PIPE, cwd=ROOT
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
    match = re.fullmatch(r"symbl-emulator listening on (http://127\.0\.0\.1:\d+)\n", line)
    assert match, line
    return proc, match.group(1)


async def test_standalone_emulator_prints_its_url_and_serves_the_contract() -> None:
    """--port 0 picks a free port, prints one line with the base URL, accepts the configured credentials."""
    proc, base = await _start("--port", "0", "--app-id", "me", "--app-secret", "s3cret", "--concurrency-limit", "1")
    try:
        async with aiohttp.ClientSession() as http:
            grant = {"type": "application", "appId": "me", "appSecret": "s3cret"}
            async with http.post(f"{base}/oauth2/token:generate", json=grant) as resp:
                assert resp.status == 200
            async with http.get(f"{base}/_emulator/config") as resp:
                assert (await resp.json())["concurrency_limit"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0


async def test_a_draining_server_keeps_serving_while_its_health_check_fails() -> None:
    """--drain: after SIGTERM the server still answers (each answer closing its connection) while
    /_emulator/health says 503; a second signal ends the drain early and the server exits 0."""
    proc, base = await _start("--drain", "30", "--app-id", "me", "--app-secret", "s3cret")
    grant = {"type": "application", "appId": "me", "appSecret": "s3cret"}
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/_emulator/health") as resp:
                assert (resp.status, await resp.json()) == (200, {"status": "serving"})
            proc.send_signal(signal.SIGTERM)
            for _ in range(200):
                async with http.get(f"{base}/_emulator/health") as resp:
                    health = (resp.status, await resp.json())
                if health[0] == 503:
                    break
                await asyncio.sleep(0.02)
            assert health == (503, {"status": "draining"})
            async with http.post(f"{base}/oauth2/token:generate", json=grant) as resp:
                assert resp.status == 200 and resp.headers.get("Connection", "").lower() == "close"
            assert proc.returncode is None
    finally:
        proc.send_signal(signal.SIGTERM)  # the second signal: stop now, not in 30 s
        assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_bad_fault_specification_exits_2_with_one_sentence() -> None:
    """An invalid --faults is refused before listening: exit code 2 and a message naming the field."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "batch.emulator",
        "--faults",
        '{"rates": {"teapot": 1}}',
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 2
    assert "faults.rates: unknown kind 'teapot'" in err.decode()
