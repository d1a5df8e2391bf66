"""Real speech processing for the server's `real` mode: a pool of worker processes running `speech.Pipeline`.

Rules:
- CPU work never runs on the server's event loop: each job is one task in a `ProcessPoolExecutor` of `workers`
  processes (default: the machine's cores), each holding one loaded pipeline with one CPU thread;
- the pool is started with `spawn`, never `fork` (the server has threads and a running loop);
- the backend asks, without waiting, whether a job's work is done (`outcome`): a job's duration is its real
  processing time; a worker that dies fails only its own job, and the pool is rebuilt for the next one;
- the models are checked once in the server before it listens (`check_models`), so a missing model package is one
  sentence at start-up, not a failed job per recording.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

from speech.errors import SpeechError, Undecodable
from speech.models import Transcript

_PIPELINE = None  # the worker process's pipeline, loaded by `_load`


def _load() -> None:
    global _PIPELINE  # noqa: PLW0603 - one pipeline per worker process is the point of the initializer
    from speech.pipeline import Pipeline  # noqa: PLC0415 - loaded in the worker, not in the server

    _PIPELINE = Pipeline(threads=1)


def _process(path: str, diarize: bool, speaker_count: int | None) -> Transcript:
    if _PIPELINE is None:
        _load()
    assert _PIPELINE is not None
    return _PIPELINE.process_file(Path(path), diarize=diarize, speaker_count=speaker_count)


def check_models() -> None:
    """Raise speech's ModelMissing (one sentence naming the package) when the real mode cannot run here."""
    from speech.recognizer import model_dir  # noqa: PLC0415 - the `speech` extra is optional
    from speech.voice import model  # noqa: PLC0415

    model_dir()
    model.require()  # checked, not loaded: the server process never runs a model


@dataclass(frozen=True, slots=True)
class Outcome:
    transcript: Transcript | None
    error: str | None  # why the job failed, in one sentence for the job's record


class Recognition:
    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._running: dict[str, concurrent.futures.Future[Transcript]] = {}

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_load
            )
        return self._pool

    def free(self) -> int:
        return self.workers - len(self._running)

    def start(self, job_id: str, media: Path, *, diarize: bool, speaker_count: int | None) -> None:
        self._running[job_id] = self._executor().submit(_process, str(media), diarize, speaker_count)

    def outcome(self, job_id: str) -> Outcome | None:
        """The finished job's transcript or error; None while it runs (or when it was never started here)."""
        future = self._running.get(job_id)
        if future is None or not future.done():
            return None
        del self._running[job_id]
        try:
            return Outcome(future.result(), None)
        except Undecodable as exc:
            return Outcome(None, f"the media could not be decoded: {exc}")
        except SpeechError as exc:
            return Outcome(None, str(exc))
        except concurrent.futures.process.BrokenProcessPool:
            self._pool = None  # a worker died (out of memory, killed): rebuild the pool for the next job
            return Outcome(None, "the speech worker processing this job stopped unexpectedly")
        except Exception as exc:
            return Outcome(None, f"speech processing failed ({type(exc).__name__})")

    def running(self, job_id: str) -> bool:
        return job_id in self._running

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._running.clear()
