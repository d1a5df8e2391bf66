"""The reconciliation evaluation, small: the small evaluation set (tests/benchmarks/reconset, built here from
Debian's speech synthesizers) through the real speech backend and the command line, in the four scenarios; about
75 s. Skipped only where the synthesizers are missing, never under .ci/run (SYMBL_REQUIRE_TTS=1: it installs them).
The full set and the figures in docs/reconciliation.md and README's "Measured" paragraph:
`python -m tests.benchmarks.reconeval`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from reconcile import available
from tests.benchmarks.reconeval.__main__ import evaluate
from tests.benchmarks.reconset import build

TOOLS = ("espeak-ng", "flite", "text2wave", "sox", "ffmpeg")
pytestmark = [
    pytest.mark.skipif(not available(), reason="the voice extra (onnxruntime, PyAV) is not installed"),
    pytest.mark.skipif(
        not all(shutil.which(t) for t in TOOLS) and os.environ.get("SYMBL_REQUIRE_TTS") != "1",
        reason=f"building the set needs Debian's {', '.join(TOOLS)} (.ci/run installs them)",
    ),
    pytest.mark.timeout(900),
]


def test_the_small_set_never_merges_or_names_wrongly_and_asks_once_per_voice(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    assert build.main(["--small", "--out", str(folder)]) == 0
    found = evaluate("real", folder, tmp_path / "work")
    for scenario in ("everyone", "half", "nobody", "second"):
        figures = found[scenario]
        assert figures["wrong_merges"] == 0, (scenario, figures)
        assert figures["member_precision"] in (None, 1.0), (scenario, figures)  # every member named is right
        assert figures["proposed_after"] == 0, (scenario, figures)  # planning again proposes nothing new
        assert figures["review_entries"] <= figures["unknown_voices"] + 1, (scenario, figures)
    assert found["everyone"]["recall"] > found["nobody"]["recall"]  # enrolment samples name people
    assert found["second"]["recall"] > found["nobody"]["recall"]  # the directory knows the answered voices
