"""The recogniser gives a medium the same words whatever it heard before (its sampling fallback is re-seeded)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from speech import decode
from speech.activity import ActivitySettings, speech_spans
from speech.pipeline import Pipeline
from speech.recognizer import Recognizer

pytest.importorskip("faster_whisper", reason="the speech extra is not installed")
pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None and os.environ.get("SYMBL_REQUIRE_TTS") != "1",
    reason="needs Debian's espeak-ng to speak a phrase Whisper loops on",
)


@pytest.fixture(scope="module")
def looping(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A phrase said over and over: Whisper's greedy decoding loops on it, so faster-whisper falls back to
    sampling at a higher temperature (a random draw) for some of it."""
    path = tmp_path_factory.mktemp("loop") / "loop.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "the cost of the cost of the cost, " * 12], check=True)
    return path


def test_the_phrase_makes_the_recogniser_sample(looping: Path) -> None:
    """Else the test below would prove nothing."""
    samples = decode.read(looping)
    recognizer = Recognizer(threads=1)
    recognizer.words(samples, speech_spans(samples, ActivitySettings()), 0.0)
    assert recognizer.sampled


def test_a_medium_gives_the_same_transcript_whatever_ran_before(looping: Path) -> None:
    pipeline = Pipeline(threads=1)
    first = pipeline.process_file(looping, diarize=False)
    again = pipeline.process_file(looping, diarize=False)
    assert first.utterances and again == first
