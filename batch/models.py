"""Plain records of a validated manifest. No I/O, no validation: `manifest.py` builds them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_BASE_URL = "https://api.symbl.ai"
# The timing defaults, defined here once: the manifest schema, ApiConfig and the engine's Timing all use these.
POLL_MIN = 1.0  # seconds before the first poll of a job, at least
POLL_CAP = 30.0  # seconds between polls of one job past its predicted end, at most
JOB_TIMEOUT = 4 * 3600.0  # seconds a run waits for one job before marking it timed out
LOST_ANSWER_GRACE = 5.0  # seconds to wait before resolving a lost answer
UNDECIDED_AFTER = 600.0  # the settling window of a lost answer (plus 3x the predicted processing time)
PROBE_AFTER = 30.0  # seconds of full, 429-free use before the slot ceiling is raised


@dataclass(frozen=True, slots=True)
class ApiConfig:
    base_url: str = DEFAULT_BASE_URL
    app_id: str | None = None
    app_secret: str | None = field(default=None, repr=False)  # never printed
    concurrency: int = 5
    output: Path = Path("output")
    state: Path = Path("output/state.sqlite")
    max_upload_bytes: int = 1 << 30
    poll_cap: float = POLL_CAP
    job_timeout: float = JOB_TIMEOUT
    poll_min: float = POLL_MIN
    lost_answer_grace: float = LOST_ANSWER_GRACE
    undecided_after: float = UNDECIDED_AFTER
    probe_after: float = PROBE_AFTER
    webhook_listen: str | None = None  # "host:port" for the optional webhook receiver
    webhook_public_url: str | None = None  # how the API reaches that receiver (default http://host:port)


@dataclass(frozen=True, slots=True)
class Person:
    name: str
    email: str  # lower-cased (docs/api-contract.md §13 #11)
    enrolment: Path | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    key: str  # "<conversation id>/<segment id>", unique in the manifest
    conversation: str
    index: int  # 0 creates the conversation, 1.. are appends in this order
    kind: str  # audio | video
    path: str | None  # a local file (text, not a Path: a million segments stay small); `file` is its Path
    url: str | None
    params: dict[str, Any]  # documented async parameters, after defaults and conversation overrides
    line: int | None  # where the manifest defines it, for messages
    size: int = 0  # bytes of a local file (0 for URLs)
    duration: float | None = None  # seconds, when the media says so (WAV header); else None

    @property
    def file(self) -> Path | None:
        return None if self.path is None else Path(self.path)


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    name: str  # the Symbl conversation name: deterministic, used to find a create whose answer was lost
    participants: tuple[str, ...]  # emails of roster people
    segments: tuple[Segment, ...]


@dataclass(frozen=True, slots=True)
class Manifest:
    path: Path
    api: ApiConfig
    people: tuple[Person, ...]
    conversations: Sequence[Conversation]  # a tuple (TOML) or read from a temporary file when asked (JSONL)
    reconcile: dict[str, Any] = field(default_factory=dict)  # the [reconcile] table, for the reconcile package
    index: Mapping[str, int] = field(init=False, repr=False, compare=False)  # conversation id -> its position
    by_id: Mapping[str, Conversation] = field(init=False, repr=False, compare=False)  # one lookup for every reader

    def __post_init__(self) -> None:
        given = getattr(self.conversations, "positions", None)  # a spilled manifest looks its ids up in its file
        index = given if isinstance(given, Mapping) else {c.id: n for n, c in enumerate(self.conversations)}
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "by_id", _ById(self.conversations, self.index))

    def segments(self) -> Iterator[Segment]:
        """Every segment, in manifest order (read as it is used: a million rows are never all in memory)."""
        return (s for c in self.conversations for s in c.segments)

    def chains(self) -> Sequence[Sequence[Segment]]:
        """Each conversation's segments, by position (what the planner and the tally index)."""
        return _Chains(self.conversations)


class _ById(Mapping[str, Conversation]):
    """Conversation id -> conversation, through the manifest's one index (no second table of a million keys)."""

    __slots__ = ("_conversations", "_index")

    def __init__(self, conversations: Sequence[Conversation], index: Mapping[str, int]) -> None:
        self._conversations, self._index = conversations, index

    def __getitem__(self, key: str) -> Conversation:
        return self._conversations[self._index[key]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


class _Chains(Sequence[Sequence[Segment]]):
    __slots__ = ("_conversations",)

    def __init__(self, conversations: Sequence[Conversation]) -> None:
        self._conversations = conversations

    def __len__(self) -> int:
        return len(self._conversations)

    def __getitem__(self, position: Any) -> Any:
        if isinstance(position, slice):
            return [c.segments for c in self._conversations[position]]
        return self._conversations[position].segments

    def __iter__(self) -> Iterator[Sequence[Segment]]:
        return (c.segments for c in self._conversations)
