"""The speech benchmark: the pipeline on the evaluation set (and the project corpus), side by side with the
scripted baseline, in one table; every figure saved as JSON.

    python -m tests.benchmarks.speech                    # test split (builds .cache/speechset/ if missing)
    python -m tests.benchmarks.speech --split all -v     # dev, test and corpus, a row per file too
    python -m tests.benchmarks.speech --quick            # one file per row, no long recordings

Each file runs twice, each time in a fresh child process pinned to one CPU (tests.benchmarks.speechchild): once
with the speaker count not given (its speed, peak RSS and metrics fill the main columns) and once with the true
count given. Peak RSS is getrusage(RUSAGE_CHILDREN) of a small launcher whose only child is the run, so model
load is included and the benchmark's own memory is not (see speechchild). The 10- and
31-minute meetings are in the set; a 2-hour file tiled from the 31-minute one is measured for speed and peak RSS
only. The scripted baseline is batch.emulator.media.fallback_utterances (one unknown speaker, placeholder text);
on the corpus it is the truth itself, which is what the emulator answers for corpus media.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import subprocess
import sys
import wave
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.benchmarks import speechscore, speechtable
from tests.benchmarks.speechchild import DEFAULT_PIPELINE
from tests.benchmarks.speechmetrics import Segment
from tests.benchmarks.speechscore import Hypothesis, Score
from tests.benchmarks.speechset import build
from tests.benchmarks.speechtable import FileResult, Item, Run

ROOT = build.ROOT
RESULTS = ROOT / "docs" / "speech-results.json"
TILES = 4  # the 2-hour file is the 31-minute meeting four times
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def set_items(root: Path) -> list[Item]:
    index = json.loads((root / "index.json").read_text())
    return [Item(root / e["media"], root / e["script"], e["split"], e["condition"], e["format"], e["kind"],
                 e["conversation"], e["part"], e["speakers"], e["duration"]) for e in index["files"]]


def corpus_items(corpus: Path) -> list[Item]:
    items = []
    for script_path in sorted((corpus / "scripts").glob("*.json")):
        script = json.loads(script_path.read_text())
        media = corpus / script["media"]
        fmt = "mp4" if media.suffix == ".mp4" else "wav16k"
        kind = "part" if "part" in script else "conversation"
        speakers = len({u["speaker"] for u in script["utterances"]})
        items.append(Item(media, script_path, "corpus", "clean", fmt, kind, script.get("conversation", script["id"]),
                          script.get("part"), speakers, script["duration"]))
    return items


def select(items: Sequence[Item], *, quick: bool) -> list[Item]:
    """Everything, or (quick) the first file of each row and no long recording."""
    if not quick:
        return list(items)
    firsts: dict[tuple[str, ...], Item] = {}
    for item in items:
        if item.kind != "long":
            firsts.setdefault(item.group, item)
    return list(firsts.values())


def measure(media: Path, *, pipeline: str, count: int | None, cpu: int) -> Run:
    """One child run through the small launcher (speechchild measure): transcript JSON or error, peak RSS."""
    cmd = [sys.executable, "-m", "tests.benchmarks.speechchild", "measure", str(media), "--cpu", str(cpu),
           "--pipeline", pipeline, *(["--count", str(count)] if count is not None else [])]
    done = subprocess.run(cmd, capture_output=True, cwd=ROOT, env={**os.environ, **ONE_THREAD}, check=False)
    if done.returncode != 0:
        return Run(None, 0.0, done.stderr.decode(errors="replace")[-800:] or f"launcher exit {done.returncode}")
    report = json.loads(done.stdout)
    error = None if report["returncode"] == 0 else (report["stderr"] or f"exit {report['returncode']}")
    return Run(report["output"], report["peak_rss_mb"], error)


def evaluate(item: Item, *, pipeline: str, cpu: int, metrics: bool = True,
             keep: Path | None = None) -> FileResult:
    """Baseline and both runs of one file scored; with `keep`, each run's transcript is saved there."""
    script = json.loads(item.script.read_text())
    truth = speechscore.truth_segments(script)
    base_hyp = (speechscore.from_segments(truth) if item.split == "corpus"
                else speechscore.baseline(item.media.read_bytes()))
    base = speechscore.score(truth, base_hyp) if metrics else None
    auto = measure(item.media, pipeline=pipeline, count=None, cpu=cpu)
    given = measure(item.media, pipeline=pipeline, count=item.speakers, cpu=cpu) if metrics else None
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        for name, run in (("auto", auto), ("given", given)):
            if run is not None and run.output is not None:
                (keep / f"{item.split}.{item.media.name}.{name}.json").write_text(json.dumps(run.output))
    return FileResult(item, base, _scored(truth, auto, metrics), _scored(truth, given, metrics), auto)


def _scored(truth: Sequence[Segment], run: Run | None, metrics: bool) -> Score | None:
    if run is None or run.output is None or not metrics:
        return None
    hyp: Hypothesis = speechscore.from_transcript(run.output)
    return speechscore.score(truth, hyp)


def tile(source: Path, target: Path, times: int) -> Path:
    """`source` (a PCM WAV) repeated `times` times, streamed so the runner stays small; written under a
    temporary name first, so an interrupted run leaves no truncated file to be measured next time."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with wave.open(str(source), "rb") as src, wave.open(str(partial), "wb") as dst:
        dst.setparams(src.getparams())
        for _ in range(times):
            src.rewind()
            while block := src.readframes(1 << 20):
                dst.writeframes(block)
    partial.replace(target)
    return target


def tiled_item(root: Path, items: Sequence[Item]) -> Item | None:
    longest = max((i for i in items if i.kind == "long"), key=lambda i: i.duration, default=None)
    if longest is None:
        return None
    target = root / "derived" / f"{longest.conversation}x{TILES}.clean.wav"
    if not target.exists():
        tile(longest.media, target, TILES)
    return replace(longest, media=target, kind="tiled", duration=longest.duration * TILES)


def run_all(items: Sequence[Item], *, pipeline: str, jobs: int, extra: Item | None,
            keep: Path | None = None) -> list[FileResult]:
    """Every item on its own child processes, at most `jobs` at once, each pinned to a CPU of its own."""
    cpus: queue.Queue[int] = queue.Queue()
    for cpu in sorted(os.sched_getaffinity(0))[:jobs]:
        cpus.put(cpu)

    def one(item: Item, metrics: bool) -> FileResult:
        cpu = cpus.get()
        try:
            result = evaluate(item, pipeline=pipeline, cpu=cpu, metrics=metrics, keep=keep)
        finally:
            cpus.put(cpu)
        print(speechtable.progress(result), file=sys.stderr, flush=True)
        return result

    work = [(item, True) for item in items] + ([(extra, False)] if extra is not None else [])
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda job: one(*job), work))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--set", type=Path, default=build.DEFAULT_OUT, help="the evaluation set's folder")
    parser.add_argument("--split", choices=("test", "dev", "corpus", "all"), default="test")
    parser.add_argument("--quick", action="store_true", help="one file per row, no long recordings")
    parser.add_argument("-v", "--verbose", action="store_true", help="a row per file too")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    parser.add_argument("--pipeline", default=DEFAULT_PIPELINE, help="MODULE:CLASS of the pipeline")
    parser.add_argument("--jobs", type=int, default=1, help="children at once (each on its own CPU)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="save every run's transcript here (default: SET/derived/transcripts)")
    args = parser.parse_args(argv)
    if args.split != "corpus" and not (args.set / "index.json").exists():
        print(f"building the speech set in {args.set} ...", file=sys.stderr)
        build.build(args.set)
    if args.split != "corpus" and (stale := build.differences(build.hashes(args.set), build.locked())):
        print(f"warning: {len(stale)} files of {args.set} differ from speechset/lock.json; rebuild with "
              "python -m tests.benchmarks.speechset.build", file=sys.stderr)
    items = select(_items(args.set, args.split), quick=args.quick)
    extra = None if args.quick or args.split in ("corpus", "dev") else tiled_item(args.set, items)
    keep = args.keep or args.set / "derived" / "transcripts"
    results = run_all(items, pipeline=args.pipeline, jobs=args.jobs, extra=extra, keep=keep)
    print(speechtable.render(results, verbose=args.verbose))
    body = {"generated": datetime.now(UTC).isoformat(timespec="seconds"), "machine": _machine(),
            "pipeline": args.pipeline, "split": args.split, "quick": args.quick, **speechtable.as_json(results)}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(body, indent=1) + "\n")
    return 1 if any(r.run.error for r in results) else 0


def _items(root: Path, split: str) -> list[Item]:
    chosen: list[Item] = []
    if split in ("dev", "test", "all"):
        chosen += [i for i in set_items(root) if split in ("all", i.split)]
    if split in ("corpus", "all"):
        chosen += corpus_items(ROOT / "corpus")
    return chosen


def _machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "processor": _cpu_model()}


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
