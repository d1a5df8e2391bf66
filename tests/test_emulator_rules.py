"""Pure rules of the emulator, table-driven and property-based, with no event loop."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch.emulator import diarize, params
from batch.emulator.corpus import Utterance
from batch.emulator.errors import BadRequest
from batch.emulator.media import sniff
from batch.emulator.models import IllegalTransition, Job, JobStatus, move

NAMES = sorted(params.CHECKS)


@given(st.dictionaries(st.sampled_from([*NAMES, "bogus"]), st.lists(st.text(max_size=12), min_size=1, max_size=3)))
def test_query_parsing_either_validates_or_raises_bad_request(query: dict[str, list[str]]) -> None:
    """Any query string gives valid parameters or a 400 with a message, never another exception."""
    try:
        parsed = params.parse(query, None, url_variant=False)
    except BadRequest as exc:
        assert exc.message
    else:
        assert not parsed.diarization or (parsed.speaker_count or 0) >= 1


utterance_lists = st.lists(st.tuples(st.sampled_from("abcde"), st.floats(0.1, 5.0)), min_size=1, max_size=30).map(
    lambda items: tuple(Utterance(s, float(i), float(i) + d, "x") for i, (s, d) in enumerate(items))
)


@given(utterance_lists, st.integers(1, 8), st.integers(0, 10**6))
def test_diarizer_member_count_rules(utterances: tuple[Utterance, ...], count: int, seed: int) -> None:
    """Members never exceed the count; fewer speakers than asked are split only while a label has 2+ turns."""
    labels, names = diarize.assign(utterances, diarization=True, count=count, rng=random.Random(seed))
    true = len({u.speaker for u in utterances})
    assert set(labels) == set(names)
    assert len(names) == min(count, true) if count <= true else true <= len(names) <= count
    assert sorted(names.values()) == [f"Speaker {n}" for n in range(1, len(names) + 1)]


def test_diarizer_folds_the_least_talking_speaker_into_the_most_talking() -> None:
    """Count 1 below 2 true speakers: everyone becomes the member of the speaker who talked most."""
    utts = (Utterance("a", 0, 1, "x"), Utterance("b", 1, 5, "y"), Utterance("a", 5, 6, "z"))
    labels, _ = diarize.assign(utts, diarization=True, count=1, rng=random.Random(0))
    assert labels == ["b", "b", "b"]


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"),
        (b"\x00\x00\x00\x18ftypmp42", "mp4"),
        (b"ID3\x04", "mp3"),
        (b"\xff\xfb\x90\x00", "mp3"),
        (b"OggS\x00", "ogg"),
        (b"fLaC", "flac"),
        (b"#!AMR\n", "amr"),
        (b"hello", "unknown"),
    ],
)
def test_media_kind_is_sniffed_from_magic_bytes(head: bytes, kind: str) -> None:
    """Media kinds come from the bytes, never from names."""
    assert sniff(head) == kind


def test_job_state_table_refuses_illegal_moves() -> None:
    """A completed job cannot move again; scheduled cannot jump to completed."""
    job = Job("j", "c", 0, None, (), (), params.AsyncParams(), False, 0.0)  # type: ignore[arg-type]
    with pytest.raises(IllegalTransition):
        move(job, JobStatus.COMPLETED)
    move(job, JobStatus.IN_PROGRESS)
    move(job, JobStatus.COMPLETED)
    with pytest.raises(IllegalTransition):
        move(job, JobStatus.FAILED)
