"""Scale-out of the local service: real speech throughput with 1, 2 and 4 worker processes on one PostgreSQL, and
what the shared database costs per job against the embedded default, measured side by side in one run.

    python -m tests.benchmarks.scaleout                          # about 3 minutes on 2 cores
    python -m tests.benchmarks.scaleout --json docs/scaleout-results.json

1. Throughput: the corpus's recordings (`--copies` times each) submitted to the shared account, then N real
   workers started; timed from the moment every worker is ready (models loaded) to the last job completed.
   Printed: audio seconds per wall second, and the speed-up over one worker.
2. Coordination per job, for zero-length scripted jobs processed by one in-process worker: milliseconds and
   database statements per job lifecycle (submit, claim, finish, one status read), on PostgreSQL and on a SQLite
   file, against the embedded default (the in-memory backend writing through to its SQLite store).
3. Added latency: from a submit to an idle worker's claim (the worker polls every `--poll` seconds).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from batch.emulator.backend import Settings
from batch.emulator.clock import SystemClock
from batch.emulator.cluster import queue
from batch.emulator.cluster.account import open_shared
from batch.emulator.cluster.database import open_database
from batch.emulator.cluster.worker import Worker, WorkerSettings, scripted
from batch.emulator.corpus import Utterance
from batch.emulator.durable import open_durable
from batch.emulator.media import MediaInfo, probe
from batch.emulator.params import AsyncParams
from tests.support.postgres import Cluster, throwaway_cluster

ROOT = Path(__file__).resolve().parents[2]
MEDIA = sorted((ROOT / "corpus" / "media").glob("*.wav"))
PARAMS = AsyncParams(diarization=True, speaker_count=2)


def throughput(cluster: Cluster, workers: int, copies: int) -> dict[str, Any]:
    url = cluster.create_database(f"throughput_{workers}")
    backend = open_shared(Settings(mode="real", concurrency_limit=10_000), SystemClock(), time.time(), url)
    audio = 0.0
    for _ in range(copies):
        for path in MEDIA:
            data = path.read_bytes()
            info = probe(data)
            backend.keep_media(data, info.sha256)
            backend.submit(media=info, utterances=(), topics=(), params=PARAMS)
            audio += info.duration
    command = [sys.executable, "-m", "batch.emulator", "worker", "--database", url, "--poll", "0.05"]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT) for _ in range(workers)]
    for proc in procs:
        assert proc.stdout is not None and b"ready" in proc.stdout.readline()
    started = time.perf_counter()
    while backend.active_jobs():
        time.sleep(0.05)
    wall = time.perf_counter() - started
    for proc in procs:
        proc.terminate()
        proc.wait()
    failed = backend.db.run(lambda tx: tx.execute("SELECT COUNT(*) FROM jobs WHERE status = 'failed'"))[0][0]
    backend.close()
    return {"workers": workers, "audio_s": round(audio, 1), "wall_s": round(wall, 2),
            "audio_s_per_wall_s": round(audio / wall, 2), "failed": int(failed)}  # fmt: skip


def _job(n: int) -> dict[str, Any]:
    info = MediaInfo("wav", hashlib.sha256(str(n).encode()).hexdigest(), 100, 0.0)
    return {"media": info, "utterances": (Utterance("a", 0.0, 1.0, "Hello."),), "topics": (), "params": PARAMS}


def shared_lifecycles(url: str, jobs: int) -> dict[str, Any]:
    backend = open_shared(Settings(mode="scripted", concurrency_limit=10_000), SystemClock(), time.time(), url)
    settings = WorkerSettings(url=url, mode="scripted", time_scale=0.0)
    worker = Worker(settings, open_database(url), scripted(settings, threading.Event()), name="bench")
    worker.register()
    before = backend.db.statements + worker.db.statements
    started = time.perf_counter()
    for n in range(jobs):
        job = backend.submit(**_job(n))
        claimed = queue.claim(worker.db, worker.id, lease_seconds=30, max_attempts=3)
        assert claimed is not None
        queue.finish(worker.db, claimed, worker.id, heard=None, error=None, seed=0)
        backend.get_job(job["jobId"])
    wall = time.perf_counter() - started
    statements = backend.db.statements + worker.db.statements - before
    worker.db.close()
    backend.close()
    return {"ms_per_job": round(1000 * wall / jobs, 2), "statements_per_job": round(statements / jobs, 1)}


def embedded_lifecycles(folder: Path, jobs: int) -> dict[str, Any]:
    settings = Settings(mode="scripted", concurrency_limit=10_000, time_scale=0.0)
    backend = open_durable(settings, SystemClock(), time.time(), folder)
    started = time.perf_counter()
    for n in range(jobs):
        job = backend.submit(**_job(n))
        backend.advance()
        backend.advance()
        backend.get_job(job["jobId"])
    wall = time.perf_counter() - started
    backend.close()
    return {"ms_per_job": round(1000 * wall / jobs, 2), "statements_per_job": None}


def claim_latency(url: str, samples: int, poll: float) -> dict[str, Any]:
    backend = open_shared(Settings(mode="scripted", concurrency_limit=10_000), SystemClock(), time.time(), url)
    settings = WorkerSettings(url=url, mode="scripted", time_scale=0.0, poll_seconds=poll)
    stop = threading.Event()
    worker = Worker(settings, open_database(url), scripted(settings, stop), name="latency")
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    waits = []
    for n in range(samples):
        time.sleep(poll * 1.37)  # the worker is idle, somewhere in its poll
        sent = time.perf_counter()
        job = backend.submit(**_job(10_000 + n))
        while backend.get_job(job["jobId"])["status"] == "scheduled":
            time.sleep(0.001)
        waits.append(time.perf_counter() - sent)
    stop.set()
    thread.join()
    backend.close()
    return {"poll_s": poll, "median_ms": round(1000 * statistics.median(waits), 1),
            "max_ms": round(1000 * max(waits), 1)}  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--copies", type=int, default=1, help="times each corpus recording is submitted")
    p.add_argument("--jobs", type=int, default=500, help="scripted lifecycles per database")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    with throwaway_cluster() as cluster, tempfile.TemporaryDirectory() as tmp:
        if isinstance(cluster, str):
            raise SystemExit(f"PostgreSQL cannot be started: {cluster}")
        results: dict[str, Any] = {"throughput": [throughput(cluster, n, args.copies) for n in args.workers]}
        base = results["throughput"][0]["audio_s_per_wall_s"]
        for row in results["throughput"]:
            row["speedup"] = round(row["audio_s_per_wall_s"] / base, 2)
        results["per_job"] = {
            "embedded (in-memory + SQLite write-through)": embedded_lifecycles(Path(tmp) / "embedded", args.jobs),
            "shared, SQLite file": shared_lifecycles(f"sqlite:///{tmp}/shared.sqlite", args.jobs),
            "shared, PostgreSQL": shared_lifecycles(cluster.create_database("lifecycles"), args.jobs),
        }
        results["claim_latency"] = claim_latency(cluster.create_database("latency"), 20, 0.2)
    print("workers  audio s  wall s  audio s / wall s  speed-up  failed")
    for row in results["throughput"]:
        print(f"{row['workers']:>7}  {row['audio_s']:>7}  {row['wall_s']:>6}  {row['audio_s_per_wall_s']:>16}"
              f"  {row['speedup']:>8}  {row['failed']:>6}")  # fmt: skip
    for name, row in results["per_job"].items():
        print(f"{name}: {row['ms_per_job']} ms per job, {row['statements_per_job']} statements per job")
    latency = results["claim_latency"]
    print(f"submit -> claim by an idle worker (poll {latency['poll_s']} s): median {latency['median_ms']} ms, "
          f"max {latency['max_ms']} ms")  # fmt: skip
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
