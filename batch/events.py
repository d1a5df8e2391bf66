"""Events a run reports (to the CLI's logs, to library callers): one per transition or decision."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batch.lifecycle import Row
    from batch.models import Segment


@dataclass(frozen=True, slots=True)
class Event:
    event: str  # submitted, completed, saved, failed, rate_limited, ceiling, unknown, recovered, stuck, ...
    segment: str | None = None
    conversation: str | None = None
    conversation_id: str | None = None
    job_id: str | None = None
    line: int | None = None
    detail: str | None = None  # the readable sentence
    counts: dict[str, int] | None = None  # what the step counted, e.g. `reconciled`: named, merged, for_review, ...
    review_file: str | None = None  # `reconciled`: the file left for a person to answer

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def of_segment(name: str, segment: Segment, row: Row, detail: str | None = None) -> Event:
    """An event about one segment, with the ids its state row holds now."""
    return Event(name, segment.key, segment.conversation, row.conversation_id, row.job_id, segment.line, detail)


EventSink = Callable[[Event], None]


def ignore(_: Event) -> None:
    """The default sink: drop events."""
