"""The records of a speech benchmark run, its table (rows by split / condition / format, ours beside the scripted
baseline) and its JSON.

Figures of a row are sums over its files (speechscore.total); × real time is audio seconds over processing
seconds of the runs without a given speaker count (model load excluded, it is reported apart); peak RSS is the
largest of the row's runs. Percentages are printed with one decimal; NA is a figure that does not apply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.benchmarks import speechscore
from tests.benchmarks.speechscore import Score

SPLITS = ("dev", "test", "corpus")
NA = "-"  # a figure that does not apply
KINDS = ("conversation", "part", "long", "tiled")
CONDITIONS = ("clean", "mild", "noisy")
FORMATS = ("wav16k", "wav44k-stereo", "wav8k-ulaw", "mp3", "mp4")


@dataclass(frozen=True, slots=True)
class Item:
    """One file to measure, as the set's index (or the corpus scripts) describes it."""

    media: Path
    script: Path
    split: str
    condition: str
    format: str
    kind: str  # conversation | part (of an append) | long | tiled
    conversation: str
    part: int | None
    speakers: int
    duration: float

    @property
    def group(self) -> tuple[str, str, str, str]:
        return self.split, self.kind, self.condition, self.format

    @property
    def label(self) -> str:
        return " ".join(x for x in (self.split, self.condition, self.format, self.kind) if x != "conversation")


@dataclass(frozen=True, slots=True)
class Run:
    output: dict[str, Any] | None  # the child's JSON, None when it failed
    peak_rss_mb: float
    error: str | None


@dataclass(frozen=True, slots=True)
class FileResult:
    item: Item
    base: Score | None
    auto: Score | None  # speaker count not given
    given: Score | None  # the true speaker count given
    run: Run  # the run without a count: speed and memory


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    results: tuple[FileResult, ...]

    def total(self, pick: Callable[[FileResult], Score | None]) -> Score | None:
        scores = [s for s in map(pick, self.results) if s is not None]
        return speechscore.total(scores) if scores else None

    @property
    def minutes(self) -> float:
        return sum(r.item.duration for r in self.results) / 60

    @property
    def realtime(self) -> float | None:
        seconds = sum(r.run.output["process_s"] for r in self.results if r.run.output)
        audio = sum(r.item.duration for r in self.results if r.run.output)
        return audio / seconds if seconds else None

    @property
    def load_s(self) -> float | None:
        loads = [r.run.output["load_s"] for r in self.results if r.run.output]
        return sum(loads) / len(loads) if loads else None

    @property
    def peak_rss_mb(self) -> float:
        return max(r.run.peak_rss_mb for r in self.results)


def _order(group: tuple[str, str, str, str]) -> tuple[int, ...]:
    split, kind, condition, fmt = group
    return SPLITS.index(split), KINDS.index(kind), CONDITIONS.index(condition), FORMATS.index(fmt)


def rows(results: Sequence[FileResult]) -> list[Row]:
    groups: dict[tuple[str, str, str, str], list[FileResult]] = {}
    for r in results:
        groups.setdefault(r.item.group, []).append(r)
    return [Row(groups[g][0].item.label, tuple(groups[g])) for g in sorted(groups, key=_order)]


def _pct(value: float | None) -> str:
    return NA if value is None else f"{100 * value:.1f}"


def _pair(row: Row, rate: Callable[[Score], float]) -> tuple[str, str]:
    ours, base = row.total(lambda r: r.auto), row.total(lambda r: r.base)
    return _pct(rate(ours) if ours else None), _pct(rate(base) if base else None)


def _parts(score: Score | None) -> str:
    """Missed / false alarm / confusion, each as a share of the reference speaker-frames (no collar)."""
    if score is None:
        return NA
    d = score.der
    return "/".join(_pct(x / d.scored if d.scored else None) for x in (d.missed, d.false_alarm, d.confusion))


def _count(score: Score | None) -> str:
    return NA if score is None else f"{score.exact}/{score.files}"


def _cells(row: Row) -> list[str]:
    given, ours, base = row.total(lambda r: r.given), row.total(lambda r: r.auto), row.total(lambda r: r.base)
    failed = sum(r.run.error is not None for r in row.results)
    realtime, load = row.realtime, row.load_s
    return [
        row.label + (f" ({failed} failed)" if failed else ""), str(len(row.results)), f"{row.minutes:.1f}",
        *_pair(row, lambda s: s.wer.rate), *_pair(row, lambda s: s.cpwer.rate), *_pair(row, lambda s: s.der.rate),
        _parts(ours), *_pair(row, lambda s: s.der_collar.rate), _pct(given.der.rate if given else None),
        *_pair(row, lambda s: s.right.rate), _count(ours), _count(given), _count(base),
        NA if realtime is None else f"{realtime:.1f}", NA if load is None else f"{load:.1f}",
        f"{row.peak_rss_mb:.0f}",
    ]


HEADER = (
    ("", "", "", "WER %", "", "cpWER %", "", "DER %", "", "ours: miss", "DER % 0.25s", "", "DER %", "right spk %",
     "", "count right", "", "", "x real", "load", "peak"),
    ("row", "files", "min", "ours", "base", "ours", "base", "ours", "base", "fa/conf", "ours", "base", "n given",
     "ours", "base", "ours", "n given", "base", "time 1cpu", "s", "RSS MB"),
)


def render(results: Sequence[FileResult], *, verbose: bool = False) -> str:
    """The table; with `verbose`, a row per file under each group row."""
    body: list[list[str]] = []
    for row in rows(results):
        body.append(_cells(row))
        if verbose:
            body += [_cells(Row("  " + r.item.media.name, (r,))) for r in row.results]
    table = [list(HEADER[0]), list(HEADER[1]), *body]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths,
                                                                                          strict=True)))
             for line in table]
    notes = [f"{r.item.media.name}: {_last_line(r.run.error)}" for r in results if r.run.error]
    legend = ("ours: the pipeline, speaker count not given (\"n given\": the true count given); base: the scripted "
              "baseline. count right: files whose speaker count is right.")
    return "\n".join([*lines, "", legend, *memory_lines(results), *notes])


def memory_lines(results: Sequence[FileResult]) -> list[str]:
    """Speed and peak RSS of the long recordings, one line each (a child process each, model load included)."""
    long = sorted((r for r in results if r.item.kind in ("long", "tiled")), key=lambda r: r.item.duration)
    lines = [f"  {r.item.media.name}: {r.item.duration / 60:.1f} min, peak RSS {r.run.peak_rss_mb:.0f} MB, "
             f"{_speed(r)}" for r in long]
    return ["", "Long recordings (speaker count not given):", *lines] if lines else []


def _speed(r: FileResult) -> str:
    out = r.run.output
    return f"{r.item.duration / out['process_s']:.1f}x real time" if out and out["process_s"] else "failed"


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def progress(result: FileResult) -> str:
    item, run = result.item, result.run
    if run.error:
        return f"{item.media.name}: FAILED {_last_line(run.error)}"
    figures = f"WER {_pct(result.auto.wer.rate)} DER {_pct(result.auto.der.rate)}" if result.auto else ""
    speed = item.duration / run.output["process_s"] if run.output and run.output["process_s"] else 0.0
    return f"{item.media.name}: {figures} {speed:.1f}x RSS {run.peak_rss_mb:.0f} MB"


def _file_json(r: FileResult) -> dict[str, Any]:
    out = r.run.output or {}
    return {"media": r.item.media.name, "split": r.item.split, "condition": r.item.condition,
            "format": r.item.format, "kind": r.item.kind, "conversation": r.item.conversation, "part": r.item.part,
            "seconds": r.item.duration, "speakers_true": r.item.speakers,
            "ours": speechscore.as_json(r.auto) if r.auto else None,
            "ours_count_given": speechscore.as_json(r.given) if r.given else None,
            "baseline": speechscore.as_json(r.base) if r.base else None,
            "load_s": out.get("load_s"), "process_s": out.get("process_s"), "process_cpu_s": out.get("process_cpu_s"),
            "x_realtime": r.item.duration / out["process_s"] if out.get("process_s") else None,
            "peak_rss_mb": round(r.run.peak_rss_mb, 1), "vmhwm_mb": out.get("vmhwm_mb"), "error": r.run.error}


def as_json(results: Sequence[FileResult]) -> dict[str, Any]:
    groups = []
    for row in rows(results):
        ours, given, base = (row.total(lambda r: r.auto), row.total(lambda r: r.given),
                             row.total(lambda r: r.base))
        groups.append({"row": row.label, "files": len(row.results), "minutes": round(row.minutes, 2),
                       "ours": speechscore.as_json(ours) if ours else None,
                       "ours_count_given": speechscore.as_json(given) if given else None,
                       "baseline": speechscore.as_json(base) if base else None,
                       "x_realtime": row.realtime, "load_s": row.load_s, "peak_rss_mb": round(row.peak_rss_mb, 1)})
    memory = [{"media": r.item.media.name, "minutes": round(r.item.duration / 60, 1),
               "peak_rss_mb": round(r.run.peak_rss_mb, 1)} for r in results if r.item.kind in ("long", "tiled")]
    return {"rows": groups, "memory": memory, "files": [_file_json(r) for r in results]}
