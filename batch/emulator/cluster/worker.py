"""A speech worker: a process that takes jobs from the shared database, processes them, writes their results.

Run any number, on any machines, each with the database URL (`symbl-batch emulator worker --database URL`).
Rules:
- one job at a time per process (the speech pipeline uses one core); run one worker per core;
- the lease is renewed every third of its length by a heartbeat thread with its own connection; a worker killed
  at any moment (SIGKILL, a lost machine) leaves a lease that expires, and the next worker takes the job over;
- SIGTERM or SIGINT: the worker takes no new job; the one it is hearing is finished and written (a scripted
  one is given back at once, scheduled again), then the process ends;
- real mode: the medium is read from the database into a private temporary file and heard by `speech.Pipeline`;
  scripted mode (deterministic tests): the job's script, after `duration x time_scale` seconds of "work";
- every few seconds a worker also removes media that no unfinished job needs (queue.sweep_media).
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from batch.emulator.cluster import media, queue
from batch.emulator.cluster.database import Database, Tx, open_database
from batch.emulator.cluster.schema import migrate
from speech.errors import SpeechError, Undecodable
from speech.models import Transcript

SWEEP_EVERY = 30.0
LOG = logging.getLogger("symbl-worker")


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    url: str
    mode: str = "real"  # real | scripted
    time_scale: float = 0.05  # scripted: seconds of work per second of media
    lease_seconds: float = 30.0
    poll_seconds: float = 0.2
    max_attempts: int = 3
    media_grace_seconds: float = 600.0
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Heard:
    transcript: Transcript | None  # None: scripted (the job's own script is produced)
    error: str | None


Processor = Callable[[queue.Claimed, Database], Heard]


def scripted(settings: WorkerSettings, stop: threading.Event) -> Processor:
    def process(claimed: queue.Claimed, db: Database) -> Heard:
        job = claimed.job
        stop.wait(job.media.duration * settings.time_scale)
        if job.will_fail:
            return Heard(None, "the job failed (an injected fault)")
        return Heard(None, None)

    return process


def real() -> Processor:
    from speech.pipeline import Pipeline  # noqa: PLC0415 - the speech extra, loaded only by real workers

    pipeline = Pipeline(threads=1)

    def process(claimed: queue.Claimed, db: Database) -> Heard:
        job = claimed.job
        if job.will_fail:
            return Heard(None, "the job failed (an injected fault)")
        with tempfile.TemporaryDirectory(prefix="symbl-worker-") as folder:
            path = Path(folder) / "medium"
            if not media.fetch(db, job.media.sha256, path):
                return Heard(None, "the upload for this job was not kept")
            params = job.params
            try:
                heard = pipeline.process_file(path, diarize=params.diarization, speaker_count=params.speaker_count)
            except Undecodable as exc:
                return Heard(None, f"the media could not be decoded: {exc}")
            except SpeechError as exc:
                return Heard(None, str(exc))
        return Heard(heard, None)

    return process


class Heartbeat:
    """Renews one job's lease from a thread until stopped; `lost` once the lease was found gone."""

    def __init__(self, url: str, job_id: str, owner: str, lease_seconds: float) -> None:
        self._args = (url, job_id, owner, lease_seconds)
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        url, job_id, owner, lease = self._args
        db = open_database(url)
        try:
            while not self._stop.wait(lease / 3):
                try:
                    if not queue.renew(db, job_id, owner, lease_seconds=lease):
                        self.lost = True
                        return
                except Exception:  # a missed beat is retried: the lease outlasts two of them
                    LOG.warning("renewing the lease of job %s failed; retrying", job_id, exc_info=True)
        finally:
            db.close()


class Worker:
    def __init__(self, settings: WorkerSettings, db: Database, process: Processor, *, name: str | None = None) -> None:
        self.settings, self.db, self.process = settings, db, process
        self.id = name or f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"
        self.done = 0

    def register(self) -> None:
        def work(tx: Tx) -> None:
            tx.execute(
                "INSERT INTO workers (id, host, pid, started_at, seen_at) VALUES (%s, %s, %s, {now}, {now})",
                (self.id, socket.gethostname(), os.getpid()),
            )

        self.db.run(work)

    def run(self, stop: threading.Event, *, max_jobs: int | None = None) -> int:
        """Take and process jobs until `stop` is set (or `max_jobs` were done); return how many were done."""
        self.register()
        swept = 0.0
        while not stop.is_set() and (max_jobs is None or self.done < max_jobs):
            if time.monotonic() - swept > SWEEP_EVERY:
                queue.sweep_media(self.db, grace_seconds=self.settings.media_grace_seconds)
                swept = time.monotonic()
            claimed = queue.claim(
                self.db, self.id, lease_seconds=self.settings.lease_seconds, max_attempts=self.settings.max_attempts
            )
            if claimed is None:
                stop.wait(self.settings.poll_seconds)
                continue
            self._work(claimed, stop)
        self.db.run(lambda tx: tx.execute("DELETE FROM workers WHERE id = %s", (self.id,)))
        return self.done

    def _work(self, claimed: queue.Claimed, stop: threading.Event) -> None:
        with Heartbeat(self.settings.url, claimed.job.id, self.id, self.settings.lease_seconds) as beat:
            try:
                heard = self.process(claimed, self.db)
            except Exception as exc:
                heard = Heard(None, f"speech processing failed ({type(exc).__name__})")
        if stop.is_set() and heard.error is None and heard.transcript is None and self.settings.mode == "scripted":
            queue.release(self.db, claimed.job.id, self.id)  # cut short: its "work" did not happen
            return
        if beat.lost:
            return  # another worker has it now; its results are the ones that count
        if queue.finish(self.db, claimed, self.id, heard=heard.transcript, error=heard.error, seed=self.settings.seed):
            self.done += 1


def open_worker(settings: WorkerSettings, stop: threading.Event) -> Worker:
    db = open_database(settings.url)
    try:
        migrate(db)
        process = scripted(settings, stop) if settings.mode == "scripted" else real()
    except BaseException:
        db.close()
        raise
    return Worker(settings, db, process)
