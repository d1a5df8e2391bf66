"""What one step of a segment's way through the API ended in. `Flow`'s steps return these; the runner acts on
them (it alone holds and releases job slots). Plain values: no I/O, no behaviour.

    Sent       the job was accepted: poll it next
    Lost       the answer to a submission was lost: resolve it next (listing or messages decide)
    Busy       429, no job slot: the recording is pending again; the runner lowers the ceiling and pauses
    NotSent    nothing reached the server (no connection, a failed read before it): pending again, after a pause
    Completed  the job completed (the row is `finished`): the slot is free, the results are saved next
    Over       this run is done with the segment (failed, stuck, timed out, unresolved): the slot is free
    Saved      the results are on disk: the conversation's parts, for the after-conversation hook
    NotSaved   the results could not be read or written: the row stays `finished` for the next run
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Sent:
    pass


@dataclass(frozen=True, slots=True)
class Lost:
    pass


@dataclass(frozen=True, slots=True)
class Busy:
    retry_after: float | None


@dataclass(frozen=True, slots=True)
class NotSent:
    pause: float


@dataclass(frozen=True, slots=True)
class Completed:
    pass


@dataclass(frozen=True, slots=True)
class Over:
    status: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Saved:
    parts: dict[str, Any]
    last_of_conversation: bool


@dataclass(frozen=True, slots=True)
class NotSaved:
    reason: str
    transient: bool = False  # the reads kept failing on 5xx, resets, timeouts or 429: trying later may succeed


Step = Sent | Lost | Busy | NotSent | Completed | Over
Save = Saved | NotSaved
