"""The declarations of the speech evaluation set (cast.toml, scenes.toml) as values, and the timing rules.

Pure: parsing, validation and layout take plain data and return plain data; no file is written and no
synthesizer runs here. Invariants the build relies on:
- every speaker of a line is a person of the cast whose `split` is the split of the recording;
- no test voice shares its `source` with a dev voice or a voice of the project corpus;
- `layout` puts at most two speakers on the air at once: an overlap is allowed only when the previous line
  ends last, lasts at least `overlap_after` seconds and is another speaker's.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ENGINES = ("flite", "espeak-ng", "festival")
SPLITS = ("dev", "test")


class SceneError(ValueError):
    """A declaration in cast.toml or scenes.toml is not valid; the message names the entry."""


@dataclass(frozen=True, slots=True)
class Voice:
    key: str
    name: str
    split: str
    engine: str
    voice: str
    source: str
    pitch: int | None = None
    rate: int | None = None
    stretch: float | None = None
    gain_db: float = 0.0


@dataclass(frozen=True, slots=True)
class Line:
    speaker: str
    text: str
    gap: float | None = None  # forced seconds after the previous line ends; negative is an overlap


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    split: str
    seed: int
    lines: tuple[Line, ...]
    split_at: int | None = None
    formats: bool = False


@dataclass(frozen=True, slots=True)
class Meeting:
    id: str
    split: str
    seed: int
    minutes: float
    speakers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Condition:
    name: str
    snr_db: float | None = None
    rt60: float | None = None
    drr_db: float = 0.0
    hum: bool = False


@dataclass(frozen=True, slots=True)
class Timing:
    edge: float
    overlap: float
    overlap_range: tuple[float, float]
    quick: float
    quick_range: tuple[float, float]
    slow_range: tuple[float, float]
    overlap_after: float


@dataclass(frozen=True, slots=True)
class Scenes:
    timing: Timing
    conditions: tuple[Condition, ...]
    conversations: tuple[Conversation, ...]
    meetings: tuple[Meeting, ...]


def parse_cast(data: Mapping[str, Any]) -> dict[str, Voice]:
    cast = {}
    for key, row in data["people"].items():
        try:
            voice = Voice(key=key, **row)
        except TypeError as exc:
            raise SceneError(f"cast person {key!r}: {exc}") from exc
        if voice.engine not in ENGINES or voice.split not in SPLITS:
            raise SceneError(f"cast person {key!r}: engine must be one of {ENGINES}, split one of {SPLITS}")
        if voice.engine == "espeak-ng" and (voice.pitch is None or voice.rate is None):
            raise SceneError(f"cast person {key!r}: an espeak-ng voice needs pitch and rate")
        cast[key] = voice
    return cast


def _line(row: Sequence[Any]) -> Line:
    return Line(str(row[0]), str(row[1]), float(row[2]) if len(row) > 2 else None)


def _pair(value: Sequence[float]) -> tuple[float, float]:
    low, high = value
    return float(low), float(high)


def parse_scenes(data: Mapping[str, Any]) -> Scenes:
    t = data["timing"]
    timing = Timing(t["edge"], t["overlap"], _pair(t["overlap_range"]), t["quick"], _pair(t["quick_range"]),
                    _pair(t["slow_range"]), t["overlap_after"])
    conditions = tuple(Condition(name, **row) for name, row in data["condition"].items())
    conversations = tuple(
        Conversation(c["id"], c["split"], c["seed"], tuple(_line(r) for r in c["lines"]), c.get("split_at"),
                     c.get("formats", False))
        for c in data["conversation"])
    meetings = tuple(Meeting(m["id"], m["split"], m["seed"], m["minutes"], tuple(m["speakers"]))
                     for m in data.get("meeting", ()))
    return Scenes(timing, conditions, conversations, meetings)


def corpus_sources(data: Mapping[str, Any]) -> set[str]:
    """The sources behind the project corpus's voices: the flite voice, or the espeak-ng variant after '+'."""
    return {str(p["voice"]).split("+")[-1] for p in data["people"].values()}


def validate(scenes: Scenes, cast: Mapping[str, Voice], corpus: set[str]) -> None:
    """Raise SceneError on the first declaration that breaks an invariant of the module docstring."""
    ids = [c.id for c in scenes.conversations] + [m.id for m in scenes.meetings]
    if len(ids) != len(set(ids)):
        raise SceneError("scenes.toml: recording ids must be unique")
    for rec_id, split, speakers in _speakers(scenes):
        for key in speakers:
            if key not in cast or cast[key].split != split:
                raise SceneError(f"scenes.toml {rec_id}: speaker {key!r} is not a {split} person of cast.toml")
    for c in scenes.conversations:
        if c.split_at is not None and not 0 < c.split_at < len(c.lines):
            raise SceneError(f"scenes.toml {c.id}: split_at must fall inside the {len(c.lines)} lines")
    dev = {v.source for v in cast.values() if v.split == "dev"}
    for v in cast.values():
        if v.split == "test" and v.source in dev | corpus:
            raise SceneError(f"cast person {v.key!r}: source {v.source!r} is also a dev or corpus voice")


def _speakers(scenes: Scenes) -> list[tuple[str, str, set[str]]]:
    return [(c.id, c.split, {line.speaker for line in c.lines}) for c in scenes.conversations] + [
        (m.id, m.split, set(m.speakers)) for m in scenes.meetings]


def load(folder: Path, corpus_cast: Path) -> tuple[Scenes, dict[str, Voice], dict[str, Any]]:
    """Parsed and validated scenes, cast and phrase banks of `folder`."""
    cast = parse_cast(tomllib.loads((folder / "cast.toml").read_text()))
    scenes = parse_scenes(tomllib.loads((folder / "scenes.toml").read_text()))
    validate(scenes, cast, corpus_sources(tomllib.loads(corpus_cast.read_text())))
    return scenes, cast, tomllib.loads((folder / "phrases.toml").read_text())


def layout(lengths: Sequence[int], lines: Sequence[Line], timing: Timing, rate: int, seed: int) -> list[int]:
    """Start sample of every line. Three draws per line whatever is used, so one line's rule never shifts the
    random gaps of the lines after it."""
    rng = np.random.default_rng(seed)
    starts: list[int] = []
    cursor = round(timing.edge * rate)  # where the last sound so far ends
    for i, (length, line) in enumerate(zip(lengths, lines, strict=True)):
        choice, quick, other = rng.random(3)
        if i == 0:
            start = cursor
        else:
            prev_end = starts[-1] + lengths[i - 1]
            may_overlap = (prev_end == cursor and lengths[i - 1] >= timing.overlap_after * rate
                           and lines[i - 1].speaker != line.speaker)
            gap = line.gap if line.gap is not None else _gap((choice, quick, other), may_overlap, timing)
            start = cursor + round(gap * rate)
        starts.append(start)
        cursor = max(cursor, start + length)
    return starts


def _gap(draws: tuple[float, float, float], may_overlap: bool, timing: Timing) -> float:
    choice, quick, other = draws
    if may_overlap and choice < timing.overlap:
        return -_within(timing.overlap_range, other)
    if choice < timing.overlap + timing.quick:
        return _within(timing.quick_range, quick)
    return _within(timing.slow_range, other)


def _within(bounds: tuple[float, float], u: float) -> float:
    return bounds[0] + (bounds[1] - bounds[0]) * u
