"""One recording of the set: its lines laid out in time, mixed, degraded per condition, written with its truth.

The truth of a file is `<media>.json`: {"media", "split", "conversation", "part", "condition", "format",
"duration", "speakers": {key: name}, "utterances": [{"speaker", "start", "end", "text"}], ...condition figures};
`start`/`end` are the exact sample positions of each line in the 16 kHz mix, in seconds. Every writer returns the
index entries of what it wrote.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tests.benchmarks.speechset import acoustics, synth
from tests.benchmarks.speechset.scene import Condition, Line, Timing, Voice, layout

RATE = synth.RATE
HUM_SHARE = 0.5  # amplitude of mains hum added to the pink noise of a condition with `hum`
Pieces = dict[tuple[str, str], NDArray[np.int16]]  # filled in place by the build


@dataclass(frozen=True, slots=True)
class Studio:
    """What every recording is made with: the people, the synthesized samples of each (speaker, text), the
    timing rules, and the folder the set is written to."""

    cast: Mapping[str, Voice]
    pieces: Pieces
    timing: Timing
    out: Path


@dataclass(frozen=True, slots=True)
class Recording:
    id: str
    split: str
    lines: tuple[Line, ...]
    starts: tuple[int, ...]
    lengths: tuple[int, ...]
    length: int
    part: int | None = None

    @property
    def duration(self) -> float:
        return self.length / RATE

    @property
    def spans(self) -> list[tuple[int, int]]:
        return [(s, s + n) for s, n in zip(self.starts, self.lengths, strict=True)]

    @property
    def stem(self) -> str:
        return self.id if self.part is None else f"{self.id}.part{self.part}"


def lay_out(studio: Studio, lines: Sequence[Line], *, rec_id: str, split: str, seed: int,
            part: int | None = None) -> Recording:
    lengths = [len(studio.pieces[line.speaker, line.text]) for line in lines]
    starts = layout(lengths, lines, studio.timing, RATE, seed)
    end = max(s + n for s, n in zip(starts, lengths, strict=True)) + round(studio.timing.edge * RATE)
    return Recording(rec_id, split, tuple(lines), tuple(starts), tuple(lengths), end, part)


def render(studio: Studio, rec: Recording) -> acoustics.Audio:
    audio = [acoustics.gain(acoustics.from_pcm16(studio.pieces[line.speaker, line.text]),
                            studio.cast[line.speaker].gain_db) for line in rec.lines]
    return acoustics.mix(audio, rec.starts, rec.length)


def degrade(clean: acoustics.Audio, active: NDArray[np.bool_], condition: Condition,
            rng: np.random.Generator) -> tuple[acoustics.Audio, dict[str, float]]:
    """The clean mix in `condition`'s room and noise, with the figures measured back."""
    if condition.snr_db is None or condition.rt60 is None:
        return clean, {}
    response = acoustics.impulse_response(condition.rt60, condition.drr_db, RATE, rng)
    wet = acoustics.reverberate(clean, response)
    noise = acoustics.pink_noise(len(clean), rng)
    if condition.hum:
        noise = noise + HUM_SHARE * acoustics.hum(len(clean), RATE, rng)
    noisy = acoustics.add_noise(wet, noise, active, condition.snr_db)
    figures = {"snr_db": round(acoustics.measured_snr(wet, noisy, active), 2),
               "rt60": round(acoustics.decay_time(response, RATE), 3), "drr_db": condition.drr_db}
    return noisy, figures


def write_conditions(studio: Studio, rec: Recording, conditions: Sequence[Condition],
                     seed: int) -> list[dict[str, Any]]:
    clean = render(studio, rec)
    active = acoustics.active_mask(rec.spans, rec.length)
    entries = []
    for k, condition in enumerate(conditions):
        audio, figures = degrade(clean, active, condition, np.random.default_rng([seed, k]))
        media = studio.out / rec.split / f"{rec.stem}.{condition.name}.wav"
        synth.write_wav(media, acoustics.to_pcm16(audio))
        entries.append(write_truth(studio, rec, media, condition=condition.name, figures=figures))
    return entries


def write_clean(studio: Studio, rec: Recording, kind: str) -> dict[str, Any]:
    media = studio.out / rec.split / f"{rec.stem}.clean.wav"
    synth.write_wav(media, acoustics.to_pcm16(render(studio, rec)))
    return write_truth(studio, rec, media, kind=kind)


FORMATS = (  # (format, file suffix after the stem, writer, source: the 16 kHz or the 44.1 kHz copy)
    ("wav44k-stereo", "clean-44k-stereo.wav", synth.to_stereo_44k, "wav16k"),
    ("wav8k-ulaw", "clean-8k-ulaw.wav", synth.to_ulaw_8k, "wav16k"),
    ("mp3", "clean.mp3", synth.to_mp3, "wav44k-stereo"),
    ("mp4", "clean.mp4", synth.to_mp4, "wav44k-stereo"),
)


def write_formats(studio: Studio, rec: Recording) -> list[dict[str, Any]]:
    """Copies of the clean file (already written) in other containers, rates and codecs; same truth."""
    written = {"wav16k": studio.out / rec.split / f"{rec.stem}.clean.wav"}
    entries = []
    for fmt, suffix, writer, source in FORMATS:
        media = studio.out / rec.split / f"{rec.stem}.{suffix}"
        writer(written[source], media)
        written[fmt] = media
        entries.append(write_truth(studio, rec, media, fmt=fmt))
    return entries


def truth(rec: Recording, cast: Mapping[str, Voice], media: str, *, condition: str, fmt: str,
          figures: Mapping[str, float]) -> dict[str, Any]:
    speakers = sorted({line.speaker for line in rec.lines})
    utterances = [{"speaker": line.speaker, "start": start / RATE, "end": end / RATE, "text": line.text}
                  for line, (start, end) in zip(rec.lines, rec.spans, strict=True)]
    return {"media": media, "split": rec.split, "conversation": rec.id, "part": rec.part, "condition": condition,
            "format": fmt, "duration": rec.duration, "speakers": {k: cast[k].name for k in speakers},
            **figures, "utterances": utterances}


def write_truth(studio: Studio, rec: Recording, media: Path, *, condition: str = "clean", fmt: str = "wav16k",
                kind: str = "conversation", figures: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Write `<media>.json` and return the index entry of `media`."""
    name = media.relative_to(studio.out).as_posix()
    body = truth(rec, studio.cast, name, condition=condition, fmt=fmt, figures=figures or {})
    script = media.with_name(media.name + ".json")
    script.write_text(json.dumps(body, indent=1) + "\n")
    return {"media": name, "script": script.relative_to(studio.out).as_posix(), "split": rec.split,
            "condition": condition, "format": fmt, "kind": kind, "conversation": rec.id, "part": rec.part,
            "speakers": len(body["speakers"]), "duration": rec.duration}
