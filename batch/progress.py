"""What a run shows of itself: log lines on stderr, the live view on a terminal (rich), the summary at the end.

Rules:
- a stream that refuses a write (`2>/dev/full`, a closed pipe as in `| head -1`, `>&-`) never stops the run nor
  changes its exit code: the line is lost, nothing else. Log lines lost are counted and the count said once at the
  end if stderr takes it; a refused stream is pointed at /dev/null, so what Python still holds for it does not fail
  a second time at exit (Python's advice for SIGPIPE, library/signal.html#note-on-sigpipe);
- the summary table is for people and goes to stdout; the log gets one `summary` record (totals, the report's path,
  the exit code). When stdout *is* the JSON log (cron's `>> log 2>&1`: one file behind both streams) the table is
  left out, so that every line of that log stays JSON.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from batch import logs
from batch.events import Event
from batch.render import clock
from batch.report import Report, counted, reconciled_totals, unconfirmed_sentence
from batch.snapshot import Snapshot

ORDER = (
    "saved",
    "submitted",
    "submitting",
    "recovered",
    "unknown",
    "finished",
    "pending",
    "failed",
    "timed_out",
    "stuck",
    "blocked",
)
REFUSED = (OSError, ValueError)  # a failed write (EPIPE, ENOSPC, EBADF), or a stream already closed


def render(snapshot: Snapshot) -> RenderableType:
    bar = Table.grid(padding=(0, 1))
    bar.add_row(
        ProgressBar(total=max(1, snapshot.total), completed=snapshot.finished, width=40),
        Text(f"{snapshot.finished}/{snapshot.total} done"),
        Text(f"slots {snapshot.in_use}/{snapshot.ceiling}", style="bold"),
        Text(f"ETA {clock(snapshot.eta_seconds)}" if snapshot.eta_seconds is not None else "ETA -"),
    )
    counts = " · ".join(f"{status} {snapshot.counts[status]}" for status in ORDER if snapshot.counts.get(status))
    return Group(bar, Text(counts, style="dim"))


SUMMARY_ROWS = 100  # segments the terminal summary lists at most: those not saved first (report.md lists all)


def summary_rows(report: Report) -> tuple[list[dict[str, Any]], int]:
    """The segments the summary lists (in manifest order) and how many it leaves out: all of them when they fit,
    else the ones not saved (up to SUMMARY_ROWS)."""
    if len(report.segments) <= SUMMARY_ROWS:
        return list(report.segments), 0
    shown = []
    for row in report.segments:
        if row["status"] != "saved":
            shown.append(row)
            if len(shown) == SUMMARY_ROWS:
                break
    return shown, len(report.segments) - len(shown)


def summary_table(report: Report, output: Path) -> Table:
    shown, left_out = summary_rows(report)
    more = f"; {left_out:,} more segments in report.md" if left_out else ""
    table = Table(
        title=f"symbl-batch: {', '.join(f'{k} {v}' for k, v in sorted(report.totals.items()))}",
        caption=f"results in {output} (report.json, report.md){more}",
    )
    for column in ("segment", "status", "messages", "conversation id", "error"):
        table.add_column(column, justify="right" if column == "messages" else "left", overflow="fold")
    for row in shown:
        style = None if row["status"] == "saved" else "red"
        table.add_row(
            row["segment"],
            row["status"],
            str(row["messages"]),
            row["conversationId"] or "",
            row["error"] or "",
            style=style,
        )
    return table


def reconciliation_table(report: Report) -> Table | None:
    """What reconciliation did, per conversation; None when it did nothing in this run's conversations."""
    if not report.reconciliation:
        return None
    total = reconciled_totals(report.reconciliation)
    unconfirmed = unconfirmed_sentence(total["unconfirmed"]) if total["unconfirmed"] else None
    table = Table(title=f"reconciliation: {counted(total)}", caption=unconfirmed, caption_style="bold red")
    for column in ("conversation", "named", "merged", "for review", "not confirmed", "review file"):
        table.add_column(column, justify="left" if column in ("conversation", "review file") else "right")
    for r in report.reconciliation:
        counts = (r.named, r.merged, r.for_review, r.unconfirmed)
        table.add_row(r.conversation, *map(str, counts), r.review_file or "", style="red" if r.unconfirmed else None)
    return table


def silence(stream: IO[str] | None) -> None:
    """Point the stream's file descriptor at /dev/null: later writes, and Python's flush at exit, succeed."""
    try:
        fd = stream.fileno() if stream is not None else -1
    except REFUSED:  # not a file (a test's StringIO), or closed already
        return
    if fd < 0:
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


class StreamConsole(Console):
    """A rich console that goes quiet when its reader goes away. (rich's default raises SystemExit(1), which would
    turn a finished run's exit code into 1, and it points *stdout* at /dev/null even for a console on stderr.)"""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        silence(self.file)


def _isatty(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except REFUSED:
        return False


def _one_file(a: IO[str] | None, b: IO[str] | None) -> bool:
    """True when both streams write to the same file or pipe (`>> log 2>&1`)."""
    try:
        return a is not None and b is not None and os.path.samestat(os.fstat(a.fileno()), os.fstat(b.fileno()))
    except REFUSED:
        return False


class ProgressView:
    """A live display refreshed from `snapshot()`; log lines printed through `log()` appear above it."""

    def __init__(self, console: Console, snapshot: Callable[[], Snapshot]) -> None:
        self._console, self._snapshot = console, snapshot
        self._live = Live(
            console=console, refresh_per_second=4, transient=False, get_renderable=lambda: render(self._snapshot())
        )

    def __enter__(self) -> ProgressView:
        self._live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self._live.refresh()
        finally:
            self._live.stop()

    def log(self, line: str) -> None:
        self._console.print(line, markup=False, highlight=False)


class Output:
    """Where a command's lines go: logs (JSON lines or text) and the progress view on stderr, tables on stdout.
    The streams are arguments (the CLI passes sys.stdout and sys.stderr; None is a closed one)."""

    def __init__(
        self, *, log_format: str, threshold: int, progress: bool, stdout: IO[str] | None, stderr: IO[str] | None
    ) -> None:
        self.log_format, self.threshold = log_format, threshold
        self.stdout, self.stderr = stdout, stderr
        self.err = StreamConsole(file=stderr if stderr is not None else io.StringIO())
        self.progress = progress and stderr is not None
        self.view: ProgressView | None = None
        self.dropped = 0  # log lines stderr refused

    def event(self, event: Event) -> None:
        if logs.LEVELS[logs.level(event)] >= self.threshold:
            self._log(logs.as_json(event) if self.log_format == "json" else logs.as_text(event))

    def summary(self, report: Report, output: Path, code: int) -> None:
        """The run's end: one `summary` record in the log, and the table on stdout unless stdout is that log."""
        level, path = ("info" if report.ok else "error"), str(output / "report.json")
        if logs.LEVELS[level] >= self.threshold:
            self._log(self._summary_record(report, path, level, code))
        if self.log_format != "json" or _isatty(self.stdout) or not _one_file(self.stdout, self.stderr):
            reconciled = reconciliation_table(report)
            self.show(summary_table(report, output), *([reconciled] if reconciled else []))

    def _summary_record(self, report: Report, path: str, level: str, code: int) -> str:
        reconciled = reconciled_totals(report.reconciliation) if report.reconciliation else None
        if self.log_format == "json":
            fields: dict[str, Any] = {"ok": report.ok, "totals": report.totals, "report": path, "exit_code": code}
            if reconciled:
                fields["reconciliation"] = reconciled
            return logs.as_json_record("summary", level, fields)
        totals = ", ".join(f"{k} {v}" for k, v in sorted(report.totals.items()))
        also = f"; reconciliation: {counted(reconciled)}" if reconciled else ""
        if reconciled and reconciled["unconfirmed"]:
            also += f"; {unconfirmed_sentence(reconciled['unconfirmed'])}"
        return logs.as_text_record("summary", level, f"{totals}{also}; report in {path}")

    def stopped(self, event: str, message: str, code: int, **fields: Any) -> None:
        """Why the command ends early (refused input, a lock held, a signal): one line, whatever the threshold."""
        if self.log_format == "json":
            self._log(logs.as_json_record(event, "error", {"detail": message, "exit_code": code, **fields}))
        else:
            self._log(f"symbl-batch: {message}")

    def show(self, *renderables: RenderableType, **options: Any) -> None:
        """Print on stdout (wide off a terminal); a stdout that refuses is silenced and the rest skipped."""
        if self.stdout is None:
            return
        console = StreamConsole(file=self.stdout, width=None if _isatty(self.stdout) else 160)
        try:
            for renderable in renderables:
                console.print(renderable, **options)
        except REFUSED:
            silence(self.stdout)

    def close(self) -> None:
        """Say once how many log lines were lost, if stderr takes it now; else silence it for the exit."""
        if not self.dropped:
            return
        message = f"{self.dropped} log lines could not be written to stderr and were dropped"
        fields: Mapping[str, Any] = {"detail": message, "dropped": self.dropped}
        json = self.log_format == "json"
        if not self._write(logs.as_json_record("dropped", "warning", fields) if json else f"symbl-batch: {message}"):
            silence(self.stderr)

    def _log(self, line: str) -> None:
        try:
            if self.view is not None:
                self.view.log(line)
                return
        except REFUSED:
            self.dropped += 1
            return
        if not self._write(line):
            self.dropped += 1

    def _write(self, line: str) -> bool:
        if self.stderr is None:
            return False
        try:
            self.stderr.write(line + "\n")
            self.stderr.flush()
        except REFUSED:
            return False
        return True
