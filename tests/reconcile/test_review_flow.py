"""One question per voice, answered once: the review file through the real client against the emulator.

The corpus standup (part 1: John, Alice; part 2 appended: John, May) with introductions ignored and nobody
enrolled leaves every voice to review; the answers name and merge, "new" and "skip" are remembered, and the
identity directory knows the answered voices afterwards.
"""

from __future__ import annotations

import sqlite3
import tomllib
import wave
from pathlib import Path
from typing import Any

import pytest

from batch import load_manifest
from reconcile import Ledger, available, read_review
from reconcile.cli import _reconcile_all
from tests.support.emulator import MakeEmulator
from tests.support.people import CAST, corpus_truth, roster, run_with_reconcile
from tests.support.server import CORPUS

pytestmark = pytest.mark.skipif(not available(), reason="the voice extra (onnxruntime, PyAV) is not installed")
JOHN, ALICE, MAY = (CAST[k][1] for k in ("john", "alice", "may"))


def standup(folder: Path, *, enrolled: tuple[str, ...] = ()) -> Path:
    people = "\n".join(roster([key], enrol=key in enrolled) for key in ("john", "alice", "may"))
    listed = f"participants = {[JOHN, ALICE, MAY]}\n".replace("'", '"')
    text = (
        '[api]\noutput = "out"\n\n[reconcile]\nuse_introductions = false\n\n[defaults]\n'
        "enableSpeakerDiarization = true\ndiarizationSpeakerCount = 2\n\n"
        + people
        + f'\n[[conversations]]\nid = "standup"\nname = "Weekly standup"\n{listed}'
        f'  [[conversations.segments]]\n  file = "{CORPUS / "media" / "standup-part1.wav"}"\n'
        f'  [[conversations.segments]]\n  file = "{CORPUS / "media" / "standup-part2.wav"}"\n'
    )
    path = folder / "standup.toml"
    path.write_text(text)
    return path


def truth_of(conversation: dict[str, Any]) -> dict[str, str]:
    """Member id -> the corpus person who said most of its messages (the corpus lines are known)."""
    truth = corpus_truth()
    said: dict[str, list[str]] = {}
    for message in conversation["messages"]:
        said.setdefault(message["from"]["id"], []).append(truth[message["text"]])
    emails = {email: key for key, (_, email) in CAST.items()}
    return {member: emails[max(set(found), key=found.count)] for member, found in said.items()}


async def test_each_voice_is_asked_once_and_answers_name_merge_and_are_remembered(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emu = await make_emulator()
    manifest = standup(tmp_path)
    await run_with_reconcile(emu, manifest)
    review_file = tmp_path / "out" / "standup" / "review.toml"
    entries = tomllib.loads(review_file.read_text())["voice"]
    assert len(entries) == 3  # John (two members, one per segment), Alice, May: one question per voice
    john = next(e for e in entries if len(e["members"]) == 2)
    assert john["segments"] == [1, 2]
    for entry in entries:
        assert {c["email"] for c in entry["candidates"]} == {JOHN, ALICE, MAY}  # every participant, no samples
        assert all(q["end"] > q["start"] >= 0 for q in entry["quotes"])
        with wave.open(str(review_file.parent / entry["clip"])) as clip:  # a clip to listen to, beside the file
            assert 1.0 <= clip.getnframes() / clip.getframerate() <= 12.0
    (conv,) = (await emu.control("state"))["conversations"]
    truth = truth_of(conv)

    def who(entry: dict[str, Any]) -> str:
        (found,) = {truth[m] for m in entry["members"]}  # a voice is one person's
        return found

    assert sorted(who(e) for e in entries) == ["alice", "john", "may"] and who(john) == "john"
    answer = {  # John by email; the voice of Alice's lines as a new person without an email; May skipped
        "john": f'identity = "{JOHN}"',
        "alice": 'identity = "new"\nnew_name = "Guest Speaker"',
        "may": 'identity = "skip"',
    }
    blocks = review_file.read_text().split("[[voice]]")
    for i, entry in enumerate(entries, 1):
        blocks[i] = blocks[i].replace('identity = ""\nnew_name = ""', answer[who(entry)])
    review_file.write_text("[[voice]]".join(blocks))
    loaded = load_manifest(manifest, environ=emu.env())
    given = read_review(review_file, {p.email for p in loaded.people})
    assert await _reconcile_all(loaded, apply=True, answers=given, use_voice=True) == 0
    (conv,) = (await emu.control("state"))["conversations"]
    names = sorted((m["name"], m.get("email")) for m in conv["members"])
    assert names.count(("John Doe", JOHN)) == 1 and len(conv["members"]) == 3  # John's two members merged
    assert ("Guest Speaker", None) in names  # "new" without an email: renamed, nothing invented
    assert not review_file.exists()  # skip and new are remembered: nothing is asked again
    assert await _reconcile_all(loaded, apply=True, answers=[], use_voice=True) == 0
    assert not review_file.exists()
    ledger = Ledger(loaded.api.state)
    people = {person for person, _, _ in ledger.people()}
    ledger.close()
    assert JOHN in people and "new:guest speaker" in people  # the directory knows the answered voices


async def test_the_one_participant_without_a_sample_is_found_by_elimination(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    """John and Alice enrolled, May not: her voice matches none on file and she is the one listed participant
    without a sample, so she is named, and the plan says why."""
    emu = await make_emulator()
    manifest = standup(tmp_path, enrolled=("john", "alice"))
    await run_with_reconcile(emu, manifest)
    (conv,) = (await emu.control("state"))["conversations"]
    assert sorted((m["name"], m["email"]) for m in conv["members"]) == sorted(
        [CAST["john"], CAST["alice"], CAST["may"]]
    )
    state = tmp_path / "out" / "state.sqlite"
    reasons = [r for (r,) in sqlite3.connect(state).execute("SELECT source FROM voice_samples")]
    assert any(r.startswith("elimination") for r in reasons)
