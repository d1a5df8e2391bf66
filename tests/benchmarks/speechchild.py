"""One measured run of the speech pipeline, in a process of its own, pinned to one CPU:

    python -m tests.benchmarks.speechchild measure FILE [--count N] [--cpu K] [--pipeline MODULE:CLASS]

`measure` is a small launcher: it starts `run` with the same arguments as its only child, waits for it and
prints one JSON object: the child's output (the transcript, with utterances and words, and the seconds the
model load and the processing took, wall and CPU), its exit code, the tail of its stderr, and its peak RSS from
getrusage(RUSAGE_CHILDREN), so model load is included. Rule: the launcher stays small (standard library only)
because Linux carries the exec-ing parent's peak RSS into the child's ru_maxrss; a launcher forked from a large
benchmark process would report the benchmark's memory as the pipeline's. The child also reports its own VmHWM
(the peak of its own address space only) as a cross-check. The pipeline class is an argument so tests can run a
stand-in; the default is the real one.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_PIPELINE = "speech.pipeline:Pipeline"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _vmhwm_mb() -> float | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


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
            "process_s": done - loaded, "process_cpu_s": cpu_done - cpu_loaded, "vmhwm_mb": _vmhwm_mb()}


def measure(argv: list[str]) -> dict[str, Any]:
    """Run `run argv` as the only child and report its output, exit code and peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        code = subprocess.run([sys.executable, "-m", "tests.benchmarks.speechchild", "run", *argv],
                              stdout=out, stderr=err, check=False).returncode
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        out.seek(0)
        err.seek(0)
        output = json.loads(out.read()) if code == 0 else None
        tail = err.read().decode(errors="replace")[-800:]
    return {"output": output, "returncode": code, "stderr": tail, "peak_rss_mb": peak}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("mode", choices=("measure", "run"))
    parser.add_argument("file", type=Path)
    parser.add_argument("--count", type=int, default=None, help="the speaker count to give the pipeline")
    parser.add_argument("--no-diarize", dest="diarize", action="store_false")
    parser.add_argument("--cpu", type=int, default=None, help="pin the run to one CPU")
    parser.add_argument("--pipeline", default=DEFAULT_PIPELINE)
    args = parser.parse_args(argv)
    if args.mode == "measure":
        json.dump(measure(sys.argv[2:] if argv is None else argv[1:]), sys.stdout)
        return 0
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    json.dump(run(args.file, pipeline=args.pipeline, count=args.count, diarize=args.diarize), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
