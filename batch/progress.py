"""The terminal view of a run (rich): a bar, counts per state, slots in use against the ceiling, and the ETA."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from batch.render import clock
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
        self._live.refresh()
        self._live.stop()

    def log(self, line: str) -> None:
        self._console.print(line, markup=False, highlight=False)
