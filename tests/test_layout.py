"""Project layout rules that a tool checks: the import contract's list and the committed corpus."""

from __future__ import annotations

import hashlib
import itertools
import json
import pkgutil
import subprocess
import sys
import tomllib
import wave

import batch
from tests.support.server import CORPUS, ROOT


def test_emulator_contract_forbids_every_client_module() -> None:
    """The import-linter contract names every `batch` module outside the emulator, so none can slip in."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = config["tool"]["importlinter"]["contracts"][0]
    assert contract["source_modules"] == ["batch.emulator"]
    client_side = {f"batch.{m.name}" for m in pkgutil.iter_modules(batch.__path__) if m.name != "emulator"}
    assert set(contract["forbidden_modules"]) == client_side | {"reconcile"}


def test_corpus_index_matches_the_committed_files() -> None:
    """index.json maps the SHA-256 of every committed medium to its script, and the corpus stays ≤ 20 MB."""
    index = json.loads((CORPUS / "index.json").read_text())
    media = sorted((CORPUS / "media").iterdir())
    assert len(index) == len(media) == 10
    for path in media:
        script = json.loads((CORPUS / index[hashlib.sha256(path.read_bytes()).hexdigest()]).read_text())
        assert script["media"] == f"media/{path.name}"
    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    assert total <= 20 * 1024 * 1024


def test_corpus_scripts_use_the_cast_and_cover_the_scenarios() -> None:
    """Scripts name only cast members; the scenarios the issue asks for are all present."""
    cast = tomllib.loads((CORPUS / "cast.toml").read_text())["people"]
    assert len(cast) == 6 and cast["john"] == cast["john"] | {"name": "John Doe", "email": "john@example.com"}
    scripts = {p.stem: json.loads(p.read_text()) for p in (CORPUS / "scripts").glob("*.json")}
    speakers = {name: {u["speaker"] for u in s["utterances"]} for name, s in scripts.items()}
    assert all(people <= set(cast) for people in speakers.values())
    assert speakers["standup-part1"] == {"john", "alice"} and speakers["standup-part2"] == {"john", "may"}
    p1, p2, p3 = (speakers[f"planning-part{i}"] for i in (1, 2, 3))
    assert len(p1) == 3 and p2 < p1 and len(p3 - p1) == 1 and len(p3) == 3
    assert sorted(len(speakers[n]) for n in ("solo-memo", "interview", "panel", "workshop")) == [1, 2, 3, 4]
    assert scripts["video-brief"]["media"].endswith(".mp4")
    for script in scripts.values():
        times = [(u["start"], u["end"]) for u in script["utterances"]]
        assert all(a < b for a, b in times) and all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(times))


def test_enrolment_samples_are_clean_16k_mono_of_5_to_15_seconds() -> None:
    """Each person has one enrolment WAV: 16 kHz mono 16-bit, 5-15 s long."""
    for key in tomllib.loads((CORPUS / "cast.toml").read_text())["people"]:
        with wave.open(str(CORPUS / "enrol" / f"{key}.wav"), "rb") as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
            assert 5 <= w.getnframes() / 16000 <= 15


def test_importing_the_server_loads_no_client_module() -> None:
    """`import batch.emulator.app` (the local server) loads neither the client, the engine nor the speech models."""
    code = (
        "import sys, batch.emulator.app; "
        "print(sorted(m for m in sys.modules if (m.startswith('batch.') and not m.startswith('batch.emulator'))"
        " or m.startswith('reconcile') or m in ('faster_whisper', 'onnxruntime', 'speech.pipeline')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"
