"""The shared service's commands as a user runs them: options checked in one sentence, the queue shown, and a real
speech worker on PostgreSQL hearing what an API server received (the default mode, not the scripts)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path

import pytest

from batch.emulator.cli import main
from tests.support.processes import FAST_API, run_cli, start_emulator
from tests.support.server import CORPUS, ROOT


def test_options_that_cannot_work_are_refused_in_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYMBL_DATABASE_URL", raising=False)
    assert main(["worker"]) == 2
    assert "worker needs --database URL" in capsys.readouterr().err
    assert main(["serve", "--database", "sqlite:///x", "--data-dir", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["queue", "--database", "postgresql://u:s3cret-pw@127.0.0.1:1/db?connect_timeout=1"]) == 2
    err = capsys.readouterr().err
    assert "cannot connect" in err and "s3cret-pw" not in err


@pytest.mark.timeout(180)
async def test_a_real_worker_hears_the_upload_an_api_server_kept_in_postgresql(tmp_path: Path, pg_url: str) -> None:
    server = await start_emulator("--database", pg_url, "--mode", "real")
    worker = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "batch.emulator", "worker", "--database", pg_url, "--poll", "0.05"),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        memo = CORPUS / "media" / "solo-memo.wav"
        manifest = tmp_path / "memo.toml"
        manifest.write_text(
            f'[api]\noutput = "{tmp_path / "out"}"\n{FAST_API}\n\n[[conversations]]\nid = "memo"\n'
            f'  [[conversations.segments]]\n  file = "{memo}"\n'
        )
        code, _, err = await run_cli(str(manifest), "--no-progress", env=server.env(), seconds=150)
        assert code == 0, err[-2000:]
        said = " ".join(m["text"] for m in json.loads((tmp_path / "out" / "memo" / "messages.json").read_text()))
        truth = " ".join(
            u["text"] for u in json.loads((CORPUS / "scripts" / "solo-memo.json").read_text())["utterances"]
        )
        heard, spoken = set(re.findall(r"[a-z']+", said.lower())), set(re.findall(r"[a-z']+", truth.lower()))
        assert len(heard & spoken) >= 0.7 * len(spoken), said  # recognised speech, not a placeholder

        view = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "batch.emulator", "queue", "--database", pg_url, "--json"),
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        out, _ = await view.communicate()
        shown = json.loads(out)
        assert shown["jobs"]["completed"] == 1 and shown["account"]["submitted"] == 1
        assert [w["jobs_done"] for w in shown["workers"]] == [1]
    finally:
        for proc in (worker, server.proc):
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
