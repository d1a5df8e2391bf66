"""Events a run reports (to the CLI's logs, to library callers): one per transition or decision."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    event: str  # submitted, completed, saved, failed, rate_limited, ceiling, unknown, recovered, stuck, ...
    segment: str | None = None
    conversation: str | None = None
    conversation_id: str | None = None
    job_id: str | None = None
    line: int | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


EventSink = Callable[[Event], None]


def ignore(_: Event) -> None:
    """The default sink: drop events."""
