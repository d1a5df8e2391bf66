"""Scale-out, end to end: two API servers and three speech workers as separate processes on one PostgreSQL, behind
a round-robin balancer; the unchanged client runs 200 recordings (appends included) through it while one worker
is killed with SIGKILL mid-job and one API server is restarted. Then: every recording submitted once and its job
completed once (one set of members and messages), the account limit never exceeded across the servers (the
peak as the database measured it), appends in order, and the client's outputs equal the stored state."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from batch.emulator.cluster.database import Database, open_database
from tests.support.balancer import Balancer
from tests.support.outputs import outputs_equal_server
from tests.support.processes import FAST_API, EmulatorProcess, run_cli, start_emulator
from tests.support.server import ROOT

LIMIT, CONVERSATIONS, APPENDED = 5, 150, 50  # 150 conversations, 50 of them with an append: 200 recordings
RATE = 16_000


def recording(path: Path, n: int) -> None:
    """1.5 s of two noise bursts, different bytes for every n (the scripted server hears their energy)."""
    rng = np.random.default_rng(n)
    samples = np.zeros(int(1.5 * RATE), dtype=np.float32)
    samples[int(0.1 * RATE) : int(0.6 * RATE)] = rng.normal(0, 0.3, int(0.5 * RATE))
    samples[int(0.8 * RATE) : int(1.3 * RATE)] = rng.normal(0, 0.3, int(0.5 * RATE))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((samples * 32767).clip(-32768, 32767).astype("<i2").tobytes())


def manifest(tmp_path: Path) -> Path:
    media = tmp_path / "media"
    media.mkdir()
    lines = [f'[api]\nconcurrency = {LIMIT}\noutput = "{tmp_path / "out"}"\n{FAST_API}\n']
    lines.append("[defaults]\nenableSpeakerDiarization = true\ndiarizationSpeakerCount = 2\n")
    n = 0
    for c in range(CONVERSATIONS):
        lines.append(f'[[conversations]]\nid = "c{c:03d}"\n')
        for _ in range(2 if c < APPENDED else 1):
            recording(media / f"r{n:03d}.wav", n)
            lines.append(f'  [[conversations.segments]]\n  file = "{media / f"r{n:03d}.wav"}"\n')
            n += 1
    path = tmp_path / "many.toml"
    path.write_text("\n".join(lines))
    return path


async def start_worker(url: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "batch.emulator", "worker", "--database", url, "--mode", "scripted"),
        *("--time-scale", "0.1", "--lease", "2", "--poll", "0.05"),
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    assert b"ready" in await asyncio.wait_for(proc.stdout.readline(), 30)
    return proc


async def server(url: str) -> EmulatorProcess:
    """An API server that, told to stop, serves on for a second with its health check failing (the balancer
    checks every 0.1 s), so no request is in flight to it when it stops listening: a restart loses nothing."""
    return await start_emulator("--database", url, "--concurrency-limit", str(LIMIT), "--drain", "1")


async def wait_until(condition: Callable[[], bool], seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never true")


def one(db: Database, sql: str) -> list[tuple[Any, ...]]:
    return db.run(lambda tx: tx.execute(sql))


async def wait_for(db: Database, sql: str, *, seconds: float = 60) -> tuple[Any, ...]:
    for _ in range(int(seconds / 0.05)):
        rows = one(db, sql)
        if rows:
            return rows[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"never true: {sql}")


@pytest.mark.timeout(240)
async def test_two_servers_and_three_workers_on_postgresql_survive_a_killed_worker_and_a_restart(
    tmp_path: Path, pg_url: str
) -> None:
    path = manifest(tmp_path)
    servers = [await server(pg_url), await server(pg_url)]
    workers = [await start_worker(pg_url) for _ in range(3)]
    balancer = Balancer([s.base_url for s in servers])
    db = open_database(pg_url)
    try:
        env = servers[0].env() | {"SYMBL_BASE_URL": await balancer.start()}
        run = asyncio.create_task(run_cli(str(path), "--no-progress", env=env, seconds=200))

        await wait_for(db, "SELECT 1 FROM jobs WHERE status = 'completed' OFFSET 20 LIMIT 1")
        victim_id, pid, job_id = await wait_for(
            db, "SELECT id, pid, current_job FROM workers WHERE current_job IS NOT NULL LIMIT 1"
        )
        victim = next(w for w in workers if w.pid == pid)
        os.kill(victim.pid, signal.SIGKILL)  # mid-job: its lease must expire into another worker's hands
        await victim.wait()

        await wait_for(db, "SELECT 1 FROM jobs WHERE status = 'completed' OFFSET 80 LIMIT 1")
        servers[0].proc.send_signal(signal.SIGTERM)  # one API server restarted mid-run
        await wait_until(lambda: not balancer.healthy[0])
        assert servers[0].proc.returncode is None, "still serving while the balancer takes it out"
        assert await servers[0].proc.wait() == 0
        servers[0] = await server(pg_url)
        balancer.upstreams[0] = servers[0].base_url

        code, _out, err = await run
        assert code == 0, err[-3000:]
        assert all(balancer.sent), "both servers answered"
        assert balancer.failed == 0, "the drained restart lost no request in flight"

        jobs = one(db, "SELECT id, conversation_id, status, attempts, completed_by, utterances, message_ids FROM jobs")
        assert len(jobs) == CONVERSATIONS + APPENDED, "every recording submitted once"
        assert {j[2] for j in jobs} == {"completed"}
        taken_over = next(j for j in jobs if j[0] == job_id)
        assert taken_over[3] >= 2 and taken_over[4] != victim_id, "the killed worker's job was finished by another"
        produced = dict(one(db, "SELECT job_id, COUNT(*) FROM messages GROUP BY job_id"))
        for job in jobs:
            script = orjson.loads(bytes(job[5]))
            assert produced.get(job[0], 0) == len(script) == len(orjson.loads(bytes(job[6]))), job[0]
        duplicates = one(db, "SELECT conversation_id, id, COUNT(*) FROM members GROUP BY 1, 2 HAVING COUNT(*) > 1")
        assert duplicates == []
        ((peak, submitted),) = one(db, "SELECT peak_active, submitted FROM account")
        assert 1 <= int(peak) <= LIMIT and submitted == len(jobs)
        unordered = one(
            db,
            "SELECT a.id FROM jobs a JOIN jobs b ON a.conversation_id = b.conversation_id AND a.seq < b.seq"
            ' WHERE (SELECT MAX("end") FROM messages WHERE job_id = a.id)'
            " > (SELECT MIN(start) FROM messages WHERE job_id = b.id)",
        )
        assert unordered == [], "an append's messages come after its conversation's earlier segment"

        state = await servers[1].control("state")
        report = json.loads((tmp_path / "out" / "report.json").read_text())
        assert outputs_equal_server(tmp_path / "out", state, report) == CONVERSATIONS
    finally:
        db.close()
        await balancer.close()
        for proc in [s.proc for s in servers] + workers:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await proc.wait()
