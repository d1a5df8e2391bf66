"""A JSONL manifest is kept in a temporary file, not in memory (batch/spill.py): what the run reads back is what
the manifest says, by position, by id and in order, however far apart a conversation's lines are."""

from __future__ import annotations

import json
import os
from pathlib import Path

from batch import load_manifest
from batch.jsonl import _Opened
from batch.spill import SpilledList
from tests.benchmarks.memory import wav_header


def test_a_spilled_manifest_reads_back_what_its_lines_say(tmp_path: Path) -> None:
    """6,000 one-line conversations between the two lines of `late` (more than the conversations kept in memory
    while reading, so `late` is written out and read back): every conversation comes back in the order of its
    first line, by position, by id and when iterated, with its segments in line order."""
    original = tmp_path / "a.wav"
    original.write_bytes(wav_header(4000, 1000) + b"\x01\x00" * 2000)
    many = _Opened.KEPT + 1904
    lines = [{"api": {"concurrency": 5}}, {"conversation": "late", "file": "a.wav", "id": "first"}]
    for i in range(many):
        os.link(original, tmp_path / f"r{i}.wav")
        lines.append({"conversation": f"c{i:05d}", "file": f"r{i}.wav", "name": f"Call {i}"})
    lines.append({"conversation": "late", "file": "a.wav", "id": "second"})
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")

    manifest = load_manifest(path, environ={})

    assert len(manifest.conversations) == many + 1
    late = manifest.conversations[0]
    assert [s.key for s in late.segments] == ["late/first", "late/second"] and late.segments[1].index == 1
    assert manifest.index["late"] == 0 and manifest.by_id["late"] == late
    middle = manifest.by_id[f"c{many // 2:05d}"]
    assert middle.name == f"Call {many // 2}" and middle.segments[0].file == tmp_path / f"r{many // 2}.wav"
    assert manifest.conversations[-1].id == f"c{many - 1:05d}"
    assert list(manifest.conversations) == [manifest.conversations[n] for n in range(many + 1)]
    assert [s.key for s in manifest.segments()][:3] == ["late/first", "late/second", "c00000/1"]
    assert "nobody" not in manifest.index


def test_a_spilled_list_gives_back_its_items() -> None:
    items = [(n, f"id-{n}", None if n % 3 else "error", n * 0.5) for n in range(5000)]
    spilled = SpilledList()
    for item in items:
        spilled.append(item)
    assert len(spilled) == len(items) and list(spilled) == items
    assert spilled[0] == items[0] and spilled[-1] == items[-1] and spilled[10:13] == items[10:13]
