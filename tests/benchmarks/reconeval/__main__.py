"""The reconciliation evaluation, end to end through the command line and a real local backend.

    python -m tests.benchmarks.reconeval                 # the full set (builds .cache/reconset/ if missing)
    python -m tests.benchmarks.reconeval --small         # the small set of the unit suite
    python -m tests.benchmarks.reconeval --modes real    # without the scripted-diarization baseline

For each backend mode (`real`: the speech service recognises and diarizes the media; `scripted`: it answers
from the set's truth, which is perfect diarization, the baseline), batch 1 is run once without reconciliation;
then each scenario reconciles its own copy of that run (server data, state and outputs) with its own roster:
everyone enrolled, half enrolled, nobody enrolled. The fourth scenario continues the "nobody" copy: every
review file is answered once from the truth (`oracle`), then batch 2 is run and reconciled with the identity
directory those answers built. Figures are printed as a table and written to `--json`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.benchmarks.reconeval import oracle
from tests.benchmarks.reconeval.score import Figures, Said, Truth, messages_said, score

ROOT = Path(__file__).resolve().parents[3]
APP = {"SYMBL_APP_ID": "eval-app", "SYMBL_APP_SECRET": "eval-secret-0123456789"}
SCENARIOS = ("everyone", "half", "nobody")


@contextmanager
def server(mode: str, corpus: Path, data: Path, log: Path) -> Iterator[str]:
    """A local backend on a free port over `data`, stopped (SIGTERM) on exit; yields its base URL."""
    command = [
        sys.executable, "-m", "batch.emulator", "--mode", mode, "--corpus", str(corpus), "--data-dir", str(data),
        "--time-scale", "0", "--app-id", APP["SYMBL_APP_ID"], "--app-secret", APP["SYMBL_APP_SECRET"],
        "--concurrency-limit", "10",
    ]  # fmt: skip
    with log.open("ab") as sink:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=sink, cwd=ROOT)
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        if "listening on" not in line:
            process.kill()
            raise RuntimeError(f"the backend did not start: {line!r} (see {log})")
        try:
            yield line.split("listening on ", 1)[1].split()[0]
        finally:
            process.terminate()
            process.wait(timeout=60)
            process.stdout.close()


def cli(args: Sequence[str], log: Path) -> int:
    binary = Path(sys.executable).with_name("symbl-batch")
    env = {**os.environ, **APP, "NO_COLOR": "1"}
    with log.open("ab") as sink:
        sink.write(f"\n$ symbl-batch {' '.join(args)}\n".encode())
        sink.flush()
        return subprocess.run([str(binary), *args], stdout=sink, stderr=sink, env=env, cwd=ROOT, check=False).returncode


def proposed(manifest: Path, paths: Sequence[str]) -> int:
    """Operations `reconcile plan` proposes now (right after an apply: must be none)."""
    binary = Path(sys.executable).with_name("symbl-batch")
    env = {**os.environ, **APP, "NO_COLOR": "1", "COLUMNS": "200"}
    args = [str(binary), "reconcile", "plan", str(manifest), *paths]
    out = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, check=False).stdout
    found = re.search(r"^total: (\d+) named, (\d+) merged", out, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"reconcile plan printed no total: {out[-500:]!r}")
    return int(found[1]) + int(found[2])


@contextmanager
def pointed(manifest: Path, base_url: str, name: str) -> Iterator[Path]:
    """A copy of the manifest beside it (so its relative paths hold) that talks to `base_url`, removed on exit; its
    name holds the port, so evaluations running side by side never share one."""
    text = manifest.read_text().replace("[api]\n", f'[api]\nbase_url = "{base_url}"\n', 1)
    path = manifest.with_name(f"_eval-{name}-{base_url.rsplit(':', 1)[-1]}.toml")
    path.write_text(text)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def scripted_corpus(set_dir: Path, into: Path) -> Path:
    """The set's truth as a corpus the scripted backend answers from (scripts found by the media's SHA-256)."""
    into.mkdir(parents=True, exist_ok=True)
    index = {}
    for truth in sorted((set_dir / "media").glob("*.json")):
        media = truth.with_suffix("")
        raw = json.loads(truth.read_text())
        script = {
            "id": media.name,
            "duration": raw["duration"],
            "utterances": [
                {"speaker": u["speaker"], "start": u["start"], "end": u["end"], "text": u["text"]}
                for u in raw["utterances"]
            ],
            "topics": [],
        }
        (into / f"{media.name}.json").write_text(json.dumps(script))
        index[hashlib.sha256(media.read_bytes()).hexdigest()] = f"{media.name}.json"
    (into / "index.json").write_text(json.dumps(index))
    return into


class Run:
    """One working copy: the backend's data, the client's state and outputs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data, self.state, self.out = folder / "backend", folder / "state.db", folder / "out"
        self.log = folder / "log.txt"

    def copy(self, folder: Path) -> Run:
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(self.folder, folder)
        return Run(folder)

    def paths(self, out: Path | None = None) -> list[str]:
        return ["--state", str(self.state), "--output", str(out or self.out)]


def truth_of(set_dir: Path, media: str) -> list[Truth]:
    raw = json.loads((set_dir / f"{media}.json").read_text())
    return [Truth(u["speaker"], u.get("email"), float(u["start"]), float(u["end"])) for u in raw["utterances"]]


def said_in(set_dir: Path, truth: dict[str, Any], batch: int, before: Path, after: Path) -> list[Said]:
    rows: list[Said] = []
    for cid, conv in truth["conversations"].items():
        if conv["batch"] != batch or not (after / cid / "messages.json").is_file():
            continue
        segments = json.loads((before / cid / "segments.json").read_text())
        rows += messages_said(
            cid,
            json.loads((before / cid / "messages.json").read_text()),
            json.loads((after / cid / "messages.json").read_text()),
            [s["messageIds"] for s in segments],
            [truth_of(set_dir, s["media"]) for s in conv["segments"]],
        )
    return rows


def figures(run: Run, set_dir: Path, truth: dict[str, Any], *, batch: int, before: Path, after: Path) -> Figures:
    said = said_in(set_dir, truth, batch, before, after)
    conversations = {cid for cid, c in truth["conversations"].items() if c["batch"] == batch}
    with sqlite3.connect(run.state) as db:
        ops = db.execute("SELECT kind, member_id, survivor_id, status FROM reconcile_ops").fetchall()
    mine = {s.member_before for s in said}
    merges = [(m, s) for kind, m, s, status in ops if kind == "merge" and status == "done" and m in mine]
    renames = sum(1 for kind, m, _, status in ops if kind == "rename" and status == "done" and m in mine)
    entries = 0
    for cid in conversations:
        review = after / cid / "review.toml"
        if review.is_file():
            entries += review.read_text().count("[[voice]]")
    roster = {p["email"] for p in truth["roster"]}
    return score(said, merges, renames, entries, roster)


def answer_reviews(run: Run, set_dir: Path, truth: dict[str, Any], manifest: Path, before: Path) -> int:
    said = said_in(set_dir, truth, 1, before, run.out)
    names = {p["key"]: p["name"] for p in [*truth["roster"], truth["outsider"]]}
    emails = {p["key"]: p.get("email") for p in [*truth["roster"], truth["outsider"]]}
    answered = 0
    for review in sorted(run.out.glob("*/review.toml")):
        text, named = oracle.answer(review, said, names, emails)
        review.write_text(text)
        answered += named
        if cli(["reconcile", "apply", str(manifest), *run.paths(), "--review", str(review)], run.log):
            raise RuntimeError(f"reconcile apply --review {review} failed (see {run.log})")
    return answered


def evaluate(mode: str, set_dir: Path, work: Path, *, reuse: bool = False) -> dict[str, dict[str, Any]]:
    truth = json.loads((set_dir / "truth.json").read_text())
    corpus = scripted_corpus(set_dir, work / "scripted-corpus") if mode == "scripted" else ROOT / "corpus"
    manifests = {name: set_dir / spec["manifest"] for name, spec in truth["scenarios"].items()}
    base = Run(work / mode / "base")
    results: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    if not (reuse and (base.out / "report.json").is_file()):  # batch 1, processed once for every scenario
        if base.folder.exists():
            shutil.rmtree(base.folder)
        base.folder.mkdir(parents=True)
        with server(mode, corpus, base.data, base.log) as url, pointed(manifests["nobody"], url, "nobody") as manifest:
            if cli(["run", str(manifest), *base.paths(), "--no-reconcile"], base.log):
                raise RuntimeError(f"batch 1 failed (see {base.log})")
    processing = time.perf_counter() - started
    for name in SCENARIOS:
        run = base.copy(work / mode / name)
        with server(mode, corpus, run.data, run.log) as url, pointed(manifests[name], url, name) as manifest:
            if cli(["reconcile", "apply", str(manifest), *run.paths()], run.log):
                raise RuntimeError(f"{mode}/{name}: reconcile apply failed (see {run.log})")
            results[name] = figures(run, set_dir, truth, batch=1, before=base.out, after=run.out).as_dict()
            results[name]["proposed_after"] = proposed(manifest, run.paths())
            if name == "nobody":
                answered = answer_reviews(run, set_dir, truth, manifest, base.out)
                with pointed(manifests["second"], url, "second") as second:
                    before = run.folder / "out2-before"
                    if cli(
                        ["run", str(second), "--state", str(run.state), "--output", str(before), "--no-reconcile"],
                        run.log,
                    ):
                        raise RuntimeError(f"{mode}: batch 2 failed (see {run.log})")
                    after = run.folder / "out2"
                    shutil.copytree(before, after)
                    if cli(
                        ["reconcile", "apply", str(second), "--state", str(run.state), "--output", str(after)], run.log
                    ):
                        raise RuntimeError(f"{mode}: batch 2 reconcile failed (see {run.log})")
                    results["second"] = figures(run, set_dir, truth, batch=2, before=before, after=after).as_dict()
                    results["second"]["proposed_after"] = proposed(second, run.paths(after))
                    results["second"]["answered_in_review"] = answered
    results["_"] = {"batch1_processing_s": round(processing, 1)}
    return results


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def table(found: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = [
        "| scenario | backend | precision: messages | by speech time | members named right | recall (≥ 8 s) |"
        " wrong merges | merges |"
        " renames | duplicates left | review entries / unknown voice | proposed by a plan right after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in (*SCENARIOS, "second"):
        for mode, results in found.items():
            r = results[name]
            per = r["review_per_unknown_voice"]
            lines.append(
                f"| {name} | {mode} | {_pct(r['precision'])} ({r['right']}/{r['identified']}) |"
                f" {_pct(r['seconds_precision'])} |"
                f" {_pct(r['member_precision'])} ({r['members_named']}) | {_pct(r['recall'])} |"
                f" {r['wrong_merges']} | {r['merges']} | {r['renames']} | {r['duplicates_left']} |"
                f" {r['review_entries']} / {r['unknown_voices']}" + (f" = {per:.2f}" if per is not None else "") + " |"
                f" {r['proposed_after']} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.reconeval", description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="the small set (the unit suite's)")
    parser.add_argument("--set", type=Path, default=None, help="a built set folder (default: build it in .cache)")
    parser.add_argument("--modes", default="real,scripted", help="backend modes, comma-separated")
    parser.add_argument("--work", type=Path, default=ROOT / ".cache" / "reconeval", help="working folder")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--reuse", action="store_true", help="keep batch 1's processed run from an earlier run")
    args = parser.parse_args(argv)
    set_dir = args.set or ROOT / ".cache" / ("reconset-small" if args.small else "reconset")
    if not (set_dir / "truth.json").is_file():
        from tests.benchmarks.reconset import build  # noqa: PLC0415 - only when the set is not built yet

        build.main([*(["--small"] if args.small else []), "--out", str(set_dir)])
    found = {mode: evaluate(mode, set_dir, args.work, reuse=args.reuse) for mode in args.modes.split(",")}
    print(table(found))
    if args.json:
        args.json.write_text(json.dumps(found, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
