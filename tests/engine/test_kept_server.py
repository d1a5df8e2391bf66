"""The embedded server keeps its data: a re-run resumes against it as against the real API (no restart of
unfinished work), `reconcile --emulator` reaches it after the run, and an appended segment joins its
conversation. The real client against the real server over loopback, in-process and as the CLI."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer

from batch import Event, load_manifest, open_run
from batch.emulator.app import create_app
from batch.emulator.backend import Settings
from tests.support.demo import DEMO_SHAPE
from tests.support.emulator import APP_ID, APP_SECRET, FAST, write_manifest
from tests.support.processes import SCRIPTED, cli, run_cli
from tests.support.server import CORPUS, ROOT

DEMO = ROOT / "manifests" / "demo.toml"


def _kept(data_dir: Path) -> tuple[int, int, list[tuple[str, int]]]:
    """Conversations and jobs in a server's store, and jobs per conversation."""
    db = sqlite3.connect(f"file:{data_dir / 'backend.sqlite'}?mode=ro", uri=True)
    try:
        conversations = db.execute("SELECT count(*) FROM conversations").fetchone()[0]
        jobs = db.execute("SELECT count(*) FROM jobs").fetchone()[0]
        per = db.execute("SELECT conversation_id, count(*) FROM jobs GROUP BY conversation_id").fetchall()
    finally:
        db.close()
    return conversations, jobs, per


async def _server(data_dir: Path) -> TestServer:
    settings = Settings(app_id=APP_ID, app_secret=APP_SECRET, time_scale=0.01, mode="scripted")
    server = TestServer(create_app(settings, corpus_dir=CORPUS, tick_seconds=0.01, data_dir=data_dir))
    await server.start_server()
    return server


async def test_a_run_interrupted_with_its_server_resumes_on_the_restarted_server(tmp_path: Path) -> None:
    """Stop the run and its server mid-way, start the server again on its data: the re-run adopts the jobs
    the server still has, submits only what was never sent, and every segment is saved exactly once."""
    manifest = write_manifest(tmp_path, [("a", ["standup-part1.wav", "standup-part2.wav"]), ("b", ["panel.wav"])])
    data_dir, events, two_sent = tmp_path / "backend", list[Event](), asyncio.Event()
    server = await _server(data_dir)

    def note(event: Event) -> None:
        events.append(event)
        if sum(e.event == "submitted" for e in events) >= 2:
            two_sent.set()

    async def run() -> Any:
        base_url = str(server.make_url("")).rstrip("/")  # the restarted server listens on another port
        env = {"SYMBL_APP_ID": APP_ID, "SYMBL_APP_SECRET": APP_SECRET, "SYMBL_BASE_URL": base_url}
        loaded = load_manifest(manifest, environ=env)
        async with open_run(loaded, options=FAST, on_event=note) as runner:
            return await runner.run()

    first = asyncio.create_task(run())
    await asyncio.wait_for(two_sent.wait(), 30)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    await server.close()

    server = await _server(data_dir)
    try:
        report = await run()
    finally:
        await server.close()
    assert report.ok and report.totals == {"saved": 3}
    assert any(e.event == "adopted" for e in events)
    assert _kept(data_dir)[:2] == (2, 3)  # nothing was sent twice
    ids = {row["conversation"]: row["conversationId"] for row in report.segments}
    assert len({r["conversationId"] for r in report.segments}) == 2 and ids["a"]


async def test_cli_reruns_send_nothing_and_reconcile_reaches_the_kept_server(tmp_path: Path) -> None:
    """`run --emulator` twice: the second sends nothing and exits 0 (a server that forgot would have the run
    submit everything again); `reconcile plan --emulator` then reads the kept conversations; `status` needs no
    server."""
    out = tmp_path / "out"
    code, _, err = await run_cli(str(DEMO), *SCRIPTED, "--output", str(out))
    assert code == 0, err
    assert _kept(out / "backend")[:2] == (7, 10)
    code, stdout, err = await run_cli(str(DEMO), *SCRIPTED, "--output", str(out))
    assert code == 0, err
    assert f"symbl-batch: saved {DEMO_SHAPE.segments}" in stdout
    assert not [e for e in map(json.loads, err.splitlines()) if e["event"] in ("submitted", "adopted")]
    assert _kept(out / "backend")[:2] == (7, 10)

    code, stdout, err = await cli(
        "reconcile", "plan", str(DEMO), "--emulator", "--backend-mode", "scripted", "--output", str(out), "--no-voice"
    )
    assert code == 0, stdout + err
    for title in ("standup:", "planning:", "interview:", "video-brief:"):
        assert title in stdout and "plan only" in stdout
    code, stdout, _ = await cli("status", str(out / "state.sqlite"))
    assert code == 0 and f"saved {DEMO_SHAPE.segments}" in stdout


async def test_cli_an_appended_segment_joins_its_conversation_after_a_restart(tmp_path: Path) -> None:
    """A manifest gains a segment after its run: the re-run with --emulator appends it to the same conversation
    on the kept server, and a clash of --emulator commands on one data directory exits 3."""
    manifest = write_manifest(tmp_path, [("standup", ["standup-part1.wav"])])
    backend = tmp_path / "kept"
    args = (*SCRIPTED, "--backend-data", str(backend))
    code, _, err = await run_cli(str(manifest), *args)
    assert code == 0, err
    write_manifest(tmp_path, [("standup", ["standup-part1.wav", "standup-part2.wav"])])
    code, _, err = await run_cli(str(manifest), *args)
    assert code == 0, err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    first, second = report["segments"]
    assert second["status"] == "saved" and first["conversationId"] == second["conversationId"]
    assert _kept(backend) == (1, 2, [(first["conversationId"], 2)])
    transcript = (tmp_path / "out" / "standup" / "transcript.md").read_text()
    assert transcript.count("## Segment") == 2

    holder = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "batch.emulator", "--mode", "scripted", "--data-dir", str(backend)),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None
        assert b"data kept in" in await asyncio.wait_for(holder.stdout.readline(), 20)
        code, _, err = await run_cli(str(manifest), *args)
        assert code == 3 and "another emulator is using this data directory" in err
    finally:
        holder.terminate()
        await holder.wait()
