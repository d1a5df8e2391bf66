"""One measured run of the speech pipeline, in a process of its own, pinned to one CPU:

    python -m tests.benchmarks.speechchild FILE [--count N] [--no-diarize] [--cpu K] [--pipeline MODULE:CLASS]

Loads the pipeline (`Pipeline(threads=1)`), processes FILE once and prints one JSON object: the transcript
(utterances with their words), the seconds the load and the processing took (wall and CPU). The parent reads
this process's peak RSS from the kernel when it reaps it, so model load is included. The pipeline class is an
argument so tests can run a stand-in; the default is the real one.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_PIPELINE = "speech.pipeline:Pipeline"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def transcript_json(transcript: Any) -> dict[str, Any]:
    """The fields of the pipeline's Transcript the benchmark scores, as plain JSON."""
    return {
        "duration": transcript.duration,
        "utterances": [
            {"speaker": u.speaker, "start": u.start, "end": u.end, "text": u.text,
             "words": [{"text": w.text, "start": w.start, "end": w.end, "probability": w.probability,
                        "speaker": w.speaker} for w in u.words]}
            for u in transcript.utterances
        ],
    }


def run(path: Path, *, pipeline: str, count: int | None, diarize: bool) -> dict[str, Any]:
    module, _, name = pipeline.partition(":")
    started, cpu = time.perf_counter(), _cpu()
    pipe = getattr(importlib.import_module(module), name)(threads=1)
    loaded, cpu_loaded = time.perf_counter(), _cpu()
    transcript = pipe.process_file(path, diarize=diarize, speaker_count=count)
    done, cpu_done = time.perf_counter(), _cpu()
    return {**transcript_json(transcript), "load_s": loaded - started, "load_cpu_s": cpu_loaded - cpu,
            "process_s": done - loaded, "process_cpu_s": cpu_done - cpu_loaded}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--count", type=int, default=None, help="the speaker count to give the pipeline")
    parser.add_argument("--no-diarize", dest="diarize", action="store_false")
    parser.add_argument("--cpu", type=int, default=None, help="pin this process to one CPU")
    parser.add_argument("--pipeline", default=DEFAULT_PIPELINE)
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    result = run(args.file, pipeline=args.pipeline, count=args.count, diarize=args.diarize)
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
