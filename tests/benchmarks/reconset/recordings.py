"""One media file of the set (a conversation's part, or an enrolment sample) with its truth beside it.

A file is laid out, mixed and degraded exactly as the speech set does it (`speechset.recording`: the timing rules,
the cast's gains, the room and noise of a condition, every draw seeded), written as 16 kHz mono WAV and then
converted to its format (`formats`). The truth, `<media>.json`: {"media", "conversation", "batch", "part",
"parts", "format", "rate", "channels", "codec", "condition", "duration", "speakers": {key: {"name", "email"}},
"participants", "diarizationSpeakerCount", ...condition figures, "utterances": [{"speaker", "email", "start",
"end", "text"}]}; `start`/`end` are exact sample positions in the 16 kHz mix, in seconds; `email` is null for
the outsider, who is on no roster.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.benchmarks.reconset import formats
from tests.benchmarks.reconset.plan import Person
from tests.benchmarks.speechset import acoustics, recording, synth
from tests.benchmarks.speechset.recording import Recording, Studio
from tests.benchmarks.speechset.scene import Condition, Line

RATE = recording.RATE
SPLIT = "test"  # every voice of the set is a held-out test voice of the speech set


@dataclass(frozen=True, slots=True)
class Job:
    """What to write: `lines` laid out with `seed`, in `condition`, as `media` (relative to the set's folder)."""

    media: str
    fmt: str
    condition: Condition
    lines: tuple[Line, ...]
    seed: int
    info: Mapping[str, Any]  # conversation, batch, part, parts, participants ... copied into the truth


def lay_out(studio: Studio, lines: Sequence[Line], seed: int) -> Recording:
    return recording.lay_out(studio, lines, rec_id="", split=SPLIT, seed=seed)


def speech_seconds(rec: Recording, speaker: str) -> float:
    return sum(n for line, n in zip(rec.lines, rec.lengths, strict=True) if line.speaker == speaker) / RATE


def write(studio: Studio, people: Mapping[str, Person], job: Job) -> dict[str, Any]:
    """Write the job's media and truth under `studio.out`; return the truth."""
    rec = lay_out(studio, job.lines, job.seed)
    clean = recording.render(studio, rec)
    active = acoustics.active_mask(rec.spans, rec.length)
    audio, figures = recording.degrade(clean, active, job.condition, np.random.default_rng([job.seed, 7]))
    media = studio.out / job.media
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "mix.wav"
        synth.write_wav(wav, acoustics.to_pcm16(audio))
        formats.write(job.fmt, wav, media, Path(tmp))
    body = truth(rec, people, job, figures)
    media.with_name(media.name + ".json").write_text(json.dumps(body, indent=1) + "\n")
    return body


def truth(rec: Recording, people: Mapping[str, Person], job: Job, figures: Mapping[str, float]) -> dict[str, Any]:
    fmt = formats.FORMATS[job.fmt]
    speakers = sorted({line.speaker for line in rec.lines})
    utterances = [
        {
            "speaker": line.speaker,
            "email": people[line.speaker].email,
            "start": start / RATE,
            "end": end / RATE,
            "text": line.text,
        }
        for line, (start, end) in zip(rec.lines, rec.spans, strict=True)
    ]
    return {
        "media": job.media,
        **job.info,
        "format": fmt.name,
        "rate": fmt.rate,
        "channels": fmt.channels,
        "codec": fmt.codec,
        "condition": job.condition.name,
        "duration": rec.duration,
        "speakers": {k: {"name": people[k].name, "email": people[k].email} for k in speakers},
        "diarizationSpeakerCount": len(speakers),
        **figures,
        "utterances": utterances,
    }
