"""Secrets: after full runs with debug logging in both formats (and one with a wrong secret), neither the app
secret nor the access token appears in any log line, output, state file or error; every file and folder the tool
creates is owner-only whatever the umask; the emulator's request log keeps no webhook secret path."""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path
from urllib.parse import unquote

import aiohttp

from batch.webhooks import path_secret
from tests.support.demo import DEMO_SHAPE
from tests.support.processes import SCRIPTED, cli, demo_copy, run_cli, start_emulator

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


def _modes(root: Path) -> dict[Path, int]:
    """The permission bits of `root` and of everything under it (symlinks not followed)."""
    found = {root: stat.S_IMODE(root.lstat().st_mode)}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            found[path] = stat.S_IMODE(path.lstat().st_mode)
    return found


async def test_every_file_and_folder_the_tool_creates_is_owner_only(tmp_path: Path) -> None:
    """Under a 022 umask, a run on the embedded backend (reconcile on, the state in folders of its own) and then
    `reconcile people`: the output folder, the state's folders, the backend's data and every file and folder in
    them are owner-only; the folder the user made keeps its mode; `people` on a missing state creates nothing."""
    user = tmp_path / "user"  # made by the user: the tool must not change it
    user.mkdir(mode=0o755)
    manifest = demo_copy(user)
    state = user / "state" / "nested" / "state.sqlite"
    previous = os.umask(0o022)
    try:
        code, _, err = await run_cli(str(manifest), *SCRIPTED, "--state", str(state), seconds=120)
        assert code == 0, err
        code, _, err = await cli("reconcile", "people", str(manifest), "--state", str(state), seconds=60)
        assert code == 0, err
        missing = user / "never-ran" / "state.sqlite"
        code, _, err = await cli("reconcile", "people", str(manifest), "--state", str(missing), seconds=60)
        assert code == 0, err
        (user / "elsewhere").mkdir()
        code, _, err = await cli("reconcile", "people", str(manifest), "--state", str(user / "elsewhere" / "s.db"))
        assert code == 0, err
    finally:
        os.umask(previous)
    assert stat.S_IMODE(user.stat().st_mode) == 0o755
    assert not missing.parent.exists() and not (user / "elsewhere" / "s.db").exists()
    created = _modes(user / "out") | _modes(user / "state")
    assert (user / "out" / "backend").is_dir() and (user / "out" / "standup" / "messages.json").is_file()
    assert state.is_file() and len(created) > 100
    loose = {str(path): oct(mode) for path, mode in created.items() if mode & 0o077}
    assert not loose, f"readable by others: {loose}"


async def test_the_request_log_keeps_no_webhook_path(tmp_path: Path) -> None:
    """With the webhook receiver on, every upload carries webhookUrl in its query; the emulator's request log and
    its state view (`/_emulator/state`, each job's parameters) keep the receiver's address but neither its
    secret path, nor the app secret, nor the access token."""
    emulator = await start_emulator("--time-scale", "0.01", app=("app", SECRET))
    try:
        manifest = demo_copy(tmp_path)
        manifest.write_text(
            manifest.read_text().replace("probe_after = 1", 'probe_after = 1\nwebhook_listen = "127.0.0.1:0"')
        )
        code, _, err = await run_cli(str(manifest), "--no-reconcile", env=emulator.env(), seconds=60)
        assert code == 0, err
        log = (await emulator.control("requests"))["requests"]
        state = await emulator.control("state")
    finally:
        emulator.proc.send_signal(signal.SIGTERM)
        await emulator.proc.wait()
    hooked = [r["query"] for r in log if "webhookUrl" in r["query"]]
    # the hook was sent with every submission: the check is real
    assert len(hooked) == DEMO_SHAPE.segments and all("127.0.0.1" in q for q in hooked)
    text = unquote(json.dumps(log))
    assert path_secret(SECRET) not in text and "/symbl-batch/" not in text and SECRET not in text
    shown = [s["params"]["webhookUrl"] for c in state["conversations"] for s in c["segments"]]
    assert len(shown) == DEMO_SHAPE.segments and all("127.0.0.1" in url for url in shown)
    assert path_secret(SECRET) not in json.dumps(state) and "/symbl-batch/" not in json.dumps(state)
