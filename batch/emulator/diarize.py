"""Which member of a job says each utterance: the emulated diarizer (decisions §13 #8-9).

Rules:
- Without diarization there are no members (`from: {}` on every message).
- With diarization, each true speaker of the job becomes one member, named `Speaker <n>` with a numbering
  drawn from the job's seeded random generator, so names say nothing about order or identity.
- Count lower than the true number of speakers: the least-talking speakers are folded into the speaker who
  talks most among those kept.
- Count higher: the label with the most turns (at least two) has every second turn moved to a new label,
  repeated until the count is reached or no label can be split.
"""

from __future__ import annotations

import random
from collections import Counter

from batch.emulator.corpus import Utterance


def _fold(labels: list[str], utterances: tuple[Utterance, ...], count: int) -> list[str]:
    talk: dict[str, float] = {}
    for label, utt in zip(labels, utterances, strict=True):
        talk[label] = talk.get(label, 0.0) + utt.end - utt.start
    order = sorted(talk, key=lambda s: (-talk[s], labels.index(s)))
    kept, target = set(order[:count]), order[0]
    return [label if label in kept else target for label in labels]


def _split(labels: list[str], count: int) -> list[str]:
    labels = list(labels)
    while len(set(labels)) < count:
        turns = Counter(labels)
        candidate = max(turns, key=lambda s: (turns[s], -labels.index(s)))
        if turns[candidate] < 2:
            break
        new = f"{candidate}#{len(set(labels))}"
        positions = [i for i, label in enumerate(labels) if label == candidate]
        for i in positions[1::2]:
            labels[i] = new
    return labels


def assign(
    utterances: tuple[Utterance, ...], *, diarization: bool, count: int | None, rng: random.Random
) -> tuple[list[str | None], dict[str, str]]:
    """Per utterance the label of its member (None without diarization), and each label's `Speaker n` name."""
    if not diarization or not utterances:
        return [None] * len(utterances), {}
    labels = [u.speaker for u in utterances]
    true_count = len(set(labels))
    wanted = count or true_count
    if wanted < true_count:
        labels = _fold(labels, utterances, wanted)
    elif wanted > true_count:
        labels = _split(labels, wanted)
    distinct = list(dict.fromkeys(labels))
    numbers = rng.sample(range(1, len(distinct) + 1), len(distinct))
    return list(labels), {label: f"Speaker {n}" for label, n in zip(distinct, numbers, strict=True)}
