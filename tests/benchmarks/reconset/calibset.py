"""The calibration material: the calibration voices, their sentences, and the speech samples measured on them.

Voices: the speech set's `dev` voices and the project corpus's voices (corpus/cast.toml), never a `test` voice
(the evaluation's); a voice's person is its `source` (two voices of one source, festival's and flite's "slt",
are one person: pairs between them are counted in neither class). Sentences are the speech set's meeting
phrases (phrases.toml) with their slots filled by a seeded generator; each voice has three disjoint pools:
`E` for enrolment samples, `A` and `B` for member samples (a same-person pair of members takes one from each,
so the two never share a sentence).

Samples (every draw from the spec's own seed, so a sample does not depend on which process builds it):
- member: `seconds` of one voice's speech in `condition`, of which a share `share` (0-10 %) is another
  voice's speech joined to the edges of some of its turns, as a diarizer's boundary errors are; turns are
  laid out with pauses, the whole is mixed, put in the room and noise of the condition (speechset acoustics),
  written to 16-bit and cut back to the member's spans, which are joined (as `reconcile.voice.audio.cut`).
- enrolment: a clean 8-15 s file of one voice's `E` sentences with pauses, embedded whole (as `embed_file`).
- two: one member made of two voices, the minority voice holding `share` (20-50 %) of the speech.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tests.benchmarks.reconset.pieces import Pieces
from tests.benchmarks.speechset import acoustics, recording, scene
from tests.benchmarks.speechset.scene import Condition, Voice

RATE = recording.RATE
ROOT = Path(__file__).resolve().parents[3]
SPEECHSET = ROOT / "tests" / "benchmarks" / "speechset"
POOLS = {"E": 12, "A": 30, "B": 30}  # sentences per voice in each pool
MOVES = ("agenda", "ask", "answer", "statement", "question", "agree", "action", "follow")
EDGE = 0.5  # seconds of silence at each end of a laid-out sample
PAUSE = (0.3, 1.0)  # seconds between turns
MIN_CHUNK = 0.2  # seconds: the shortest stray piece of another voice


@dataclass(frozen=True, slots=True)
class Spec:
    index: int
    kind: str  # member | enrolment | two
    voice: str
    pool: str  # E, A or B
    seconds: float  # member and two: seconds of speech; enrolment: seconds of the file
    condition: str
    other: str | None = None  # member: the contaminating voice; two: the minority voice
    share: float = 0.0  # member: contamination share; two: minority share
    seed: int = 0
    windows: bool = False  # also measure the consistency of its windows


@dataclass(frozen=True, slots=True)
class Sample:
    speech: NDArray[np.float32]  # the joined spans (member, two) or the whole file (enrolment)
    audio: NDArray[np.float32]  # the laid-out file the spans are in
    spans: list[tuple[float, float]]  # seconds in `audio`
    foreign: float = 0.0  # seconds of another voice's speech inside the spans


def calibration_cast() -> dict[str, Voice]:
    """Speech set dev voices and corpus voices by key; refuses one whose source a test voice has."""
    cast = scene.parse_cast(tomllib.loads((SPEECHSET / "cast.toml").read_text()))
    voices = {k: v for k, v in cast.items() if v.split == "dev"}
    corpus = tomllib.loads((ROOT / "corpus" / "cast.toml").read_text())["people"]
    for key, row in corpus.items():
        voices[key] = Voice(
            key=key,
            name=row["name"],
            split="dev",
            engine=row["engine"],
            voice=row["voice"],
            source=str(row["voice"]).split("+")[-1],
            pitch=row.get("pitch"),
            rate=row.get("rate"),
        )
    held_out = {v.source for v in cast.values() if v.split == "test"}
    if clash := sorted(k for k, v in voices.items() if v.source in held_out):
        raise ValueError(f"calibration voices share a source with an evaluation voice: {clash}")
    return dict(sorted(voices.items()))


def sentence_pools(cast: Mapping[str, Voice], seed: int) -> dict[tuple[str, str], tuple[str, ...]]:
    """(voice, pool) -> distinct sentences, drawn from the meeting phrases with seeded slots."""
    phrases = tomllib.loads((SPEECHSET / "phrases.toml").read_text())
    slots: Mapping[str, Sequence[str]] = phrases["slots"]
    moves: Mapping[str, Sequence[str]] = phrases["moves"]
    firsts = [v.name.split()[0] for v in cast.values()]
    pools: dict[tuple[str, str], tuple[str, ...]] = {}
    for i, (key, voice) in enumerate(cast.items()):
        rng = np.random.default_rng([seed, i])
        said: list[str] = []
        want = sum(POOLS.values())
        while len(said) < want:
            move = MOVES[int(rng.integers(len(MOVES)))]
            template = moves[move][int(rng.integers(len(moves[move])))]
            text = template.format(
                name=voice.name,
                person=firsts[int(rng.integers(len(firsts)))],
                **{k: v[int(rng.integers(len(v)))] for k, v in slots.items()},
            )
            if text not in said:
                said.append(text)
        at = 0
        for pool, count in POOLS.items():
            pools[key, pool] = tuple(said[at : at + count])
            at += count
    return pools


def specs(cast: Mapping[str, Voice], seed: int, members: int, enrolments: int, twos: int) -> list[Spec]:
    """Every sample to make: per voice `members` member samples in each of pools A and B, `enrolments`
    enrolment samples and `twos` two-voice samples. Lengths cycle through the buckets 3-8, 8-20 and 20-60 s
    (two-voice: from 5 s) and conditions through clean, mild, noisy, so every pairing is covered evenly."""
    rng = np.random.default_rng(seed)
    conditions = ("clean", "mild", "noisy")
    out: list[Spec] = []

    def other_than(key: str) -> str:
        choices = [k for k, v in cast.items() if v.source != cast[key].source]
        return choices[int(rng.integers(len(choices)))]

    def length(j: int, low: float) -> float:
        bucket = ((low, 8.0), (8.0, 20.0), (20.0, 60.0))[j % 3]
        return round(float(rng.uniform(*bucket)), 3)

    for key in cast:
        for pool in ("A", "B"):
            for j in range(members):
                share = 0.0 if rng.random() < 0.3 else round(float(rng.uniform(0.01, 0.10)), 4)
                out.append(
                    Spec(
                        len(out),
                        "member",
                        key,
                        pool,
                        length(j, 3.0),
                        conditions[(j + j // 3) % 3],
                        other_than(key),
                        share,
                        int(rng.integers(2**31)),
                        windows=True,
                    )
                )
        for _ in range(enrolments):
            out.append(
                Spec(
                    len(out),
                    "enrolment",
                    key,
                    "E",
                    round(float(rng.uniform(8.0, 15.0)), 3),
                    "clean",
                    seed=int(rng.integers(2**31)),
                )
            )
        for j in range(twos):
            share = round(float(rng.uniform(0.2, 0.5)), 4)
            out.append(
                Spec(
                    len(out),
                    "two",
                    key,
                    "A",
                    length(j, 5.0),
                    conditions[(j + j // 3) % 3],
                    other_than(key),
                    share,
                    int(rng.integers(2**31)),
                    windows=True,
                )
            )
    return out


def _turns(
    rng: np.random.Generator, sentences: Sequence[str], voice: str, pieces: Pieces, seconds: float
) -> list[NDArray[np.float64]]:
    """Whole sentences of `voice` in a seeded order (the pool repeats if it runs out), the last one cut so the
    turns hold exactly `seconds` of speech."""
    order = [sentences[int(i)] for i in rng.permutation(len(sentences))]
    want, turns, have = round(seconds * RATE), [], 0
    for at in range(10_000):
        if have >= want:
            break
        piece = acoustics.from_pcm16(pieces[voice, order[at % len(order)]])
        turns.append(piece[: want - have])
        have += len(turns[-1])
    return turns


def _stray(
    rng: np.random.Generator, sentences: Sequence[str], voice: str, pieces: Pieces, seconds: float
) -> tuple[NDArray[np.float64], bool]:
    """`seconds` of another voice: the end of one of its sentences (it spoke just before) or the start (just
    after); True when it goes before the turn."""
    piece = acoustics.from_pcm16(pieces[voice, sentences[int(rng.integers(len(sentences)))]])
    n = min(len(piece), round(seconds * RATE))
    before = bool(rng.random() < 0.5)
    return (piece[len(piece) - n :] if before else piece[:n]), before


def _lay(
    rng: np.random.Generator, spans_audio: Sequence[NDArray[np.float64]], gap: tuple[float, float] = PAUSE
) -> tuple[NDArray[np.float64], list[tuple[int, int]]]:
    starts, at = [], round(EDGE * RATE)
    for audio in spans_audio:
        starts.append(at)
        at += len(audio) + round(float(rng.uniform(*gap)) * RATE)
    length = starts[-1] + len(spans_audio[-1]) + round(EDGE * RATE)
    return acoustics.mix(list(spans_audio), starts, length), [
        (s, s + len(a)) for s, a in zip(starts, spans_audio, strict=True)
    ]


def _finish(
    rng: np.random.Generator,
    clean: NDArray[np.float64],
    spans: list[tuple[int, int]],
    condition: Condition,
    foreign: int,
) -> Sample:
    active = acoustics.active_mask(spans, len(clean))
    noisy, _ = recording.degrade(clean, active, condition, rng)
    audio = (acoustics.to_pcm16(noisy).astype(np.float32) / 32768.0).astype(np.float32)
    speech = np.concatenate([audio[s:e] for s, e in spans])
    return Sample(speech, audio, [(s / RATE, e / RATE) for s, e in spans], foreign / RATE)


def make(
    spec: Spec,
    cast: Mapping[str, Voice],
    pools: Mapping[tuple[str, str], Sequence[str]],
    pieces: Pieces,
    conditions: Mapping[str, Condition],
) -> Sample:
    """The audio of one spec (module docstring)."""
    rng = np.random.default_rng(spec.seed)
    gain = {k: float(10.0 ** (v.gain_db / 20.0)) for k, v in cast.items()}
    if spec.kind == "enrolment":
        turns = _turns(rng, pools[spec.voice, "E"], spec.voice, pieces, spec.seconds)
        clean, spans = _lay(rng, [t * gain[spec.voice] for t in turns], (0.3, 0.8))
        clean = clean[: round(spec.seconds * RATE)]
        audio = (acoustics.to_pcm16(clean).astype(np.float32) / 32768.0).astype(np.float32)
        return Sample(audio, audio, [(0.0, len(audio) / RATE)])
    other = spec.other or spec.voice
    others = [*pools[other, "A"], *pools[other, "B"]]
    if spec.kind == "two":
        mine = _turns(rng, pools[spec.voice, spec.pool], spec.voice, pieces, spec.seconds * (1 - spec.share))
        theirs = _turns(rng, others, other, pieces, spec.seconds * spec.share)
        turns = [t * gain[spec.voice] for t in mine] + [t * gain[other] for t in theirs]
        clean, spans = _lay(rng, [turns[int(i)] for i in rng.permutation(len(turns))])
        return _finish(rng, clean, spans, conditions[spec.condition], sum(len(t) for t in theirs))
    turns = [
        t * gain[spec.voice]
        for t in _turns(rng, pools[spec.voice, spec.pool], spec.voice, pieces, spec.seconds * (1 - spec.share))
    ]
    stray = spec.seconds * spec.share
    count = max(1, min(3, int(stray / MIN_CHUNK), len(turns))) if stray >= MIN_CHUNK else 0
    foreign = 0
    for turn in rng.permutation(len(turns))[:count]:
        chunk, before = _stray(rng, others, other, pieces, stray / count)
        foreign += len(chunk)
        chunk = chunk * gain[other]
        turns[int(turn)] = np.concatenate([chunk, turns[int(turn)]] if before else [turns[int(turn)], chunk])
    clean, spans = _lay(rng, turns)
    return _finish(rng, clean, spans, conditions[spec.condition], foreign)


def seconds_of(sample: Sample) -> float:
    return sum(e - s for s, e in sample.spans)


def describe(cast: Mapping[str, Voice]) -> list[dict[str, Any]]:
    return [
        {"key": k, "name": v.name, "engine": v.engine, "voice": v.voice, "source": v.source} for k, v in cast.items()
    ]
