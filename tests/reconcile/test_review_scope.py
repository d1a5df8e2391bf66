"""`reconcile apply --review FILE` changes only the conversation(s) the file's answers are about; a file about
a conversation this manifest has not finished is an input error before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batch.models import Conversation
from reconcile import ReviewError, available
from reconcile.scope import answered_conversations
from tests.support.people import people_manifest
from tests.support.processes import EmulatorProcess, cli, run_cli, start_emulator

needs_voice = pytest.mark.skipif(not available(), reason="the voice extra (onnxruntime) is not installed")


def _answer(review: Path) -> None:
    """The first voice is May (a roster email), the second skipped."""
    text = review.read_text()
    text = text.replace('identity = ""', 'identity = "may@example.com"', 1).replace(
        'identity = ""', 'identity = "skip"', 1
    )
    review.write_text(text)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


async def _members(emu: EmulatorProcess, output: Path, conversation: str) -> list[dict[str, Any]]:
    report = json.loads((output / "report.json").read_text())
    (conversation_id,) = {s["conversationId"] for s in report["segments"] if s["conversation"] == conversation}
    (found,) = [c for c in (await emu.control("state"))["conversations"] if c["id"] == conversation_id]
    members: list[dict[str, Any]] = found["members"]
    return members


async def _interview_reviewed(tmp_path: Path, emu: EmulatorProcess) -> Path:
    """The interview (Raj and Sofia, not on the roster) run and reconciled: its review file, answered."""
    manifest = people_manifest(tmp_path, ["interview"])
    code, _, err = await run_cli(str(manifest), env=emu.env(), seconds=240)
    assert code == 0, err
    review = tmp_path / "out" / "interview" / "review.toml"
    _answer(review)
    return review


@needs_voice
async def test_apply_with_a_review_file_changes_only_its_conversation(tmp_path: Path) -> None:
    """Two finished conversations, the standup never reconciled (it has automatic decisions pending): applying
    the interview's review file names the interview's member and leaves the standup's members on the server
    and its output files exactly as they were."""
    emu = await start_emulator("--time-scale", "0.02")
    try:
        review = await _interview_reviewed(tmp_path, emu)
        manifest = people_manifest(tmp_path, ["interview", "standup"])
        assert (await run_cli(str(manifest), "--no-reconcile", env=emu.env()))[0] == 0
        output = tmp_path / "out"
        standup_before, files_before = await _members(emu, output, "standup"), _files(output / "standup")
        updates_before = (await emu.control("stats"))["member_updates"]
        code, out, err = await cli("reconcile", "apply", str(manifest), "--review", str(review), env=emu.env())
        assert code == 0, out + err
        assert await _members(emu, output, "standup") == standup_before
        interview = await _members(emu, output, "interview")
        updates = (await emu.control("stats"))["member_updates"] - updates_before
    finally:
        emu.proc.terminate()
        await emu.proc.wait()
    assert _files(output / "standup") == files_before and "reconcile.json" not in files_before
    assert [m["email"] for m in interview if m.get("email")] == ["may@example.com"] and updates == 1
    assert "standup" not in out and "(1 conversation(s))" in out


@needs_voice
async def test_a_review_file_of_a_conversation_not_in_the_manifest_is_exit_2(tmp_path: Path) -> None:
    """The manifest now holds only the standup: the interview's review file is refused in one sentence naming
    the file and the conversation, and nothing is sent (not even the standup's pending decisions)."""
    emu = await start_emulator("--time-scale", "0.02")
    try:
        review = await _interview_reviewed(tmp_path, emu)
        manifest = people_manifest(tmp_path, ["standup"])
        assert (await run_cli(str(manifest), "--no-reconcile", env=emu.env()))[0] == 0
        updates_before = (await emu.control("stats"))["member_updates"]
        code, out, err = await cli("reconcile", "apply", str(manifest), "--review", str(review), env=emu.env())
        updates = (await emu.control("stats"))["member_updates"] - updates_before
    finally:
        emu.proc.terminate()
        await emu.proc.wait()
    interview_id = json.loads((tmp_path / "out" / "interview" / "reconcile.json").read_text())["conversation_id"]
    assert code == 2 and updates == 0 and out == ""
    assert err == (
        f"symbl-batch: {review}: conversation {interview_id} is not a conversation of this manifest; give the "
        "review file (<output>/<conversation>/review.toml) of one of its finished conversations\n"
    )


A, B = Conversation("a", "a", (), ()), Conversation("b", "b", (), ())
FILE = Path("out/a/review.toml")


@pytest.mark.parametrize(
    ("named", "started", "chosen"),
    [
        ({"id-a"}, {}, ["a"]),
        ({"id-b"}, {}, ["b"]),
        ({"id-a", "id-b"}, {}, ["a", "b"]),
    ],
)
def test_the_answered_conversations_are_chosen(named: set[str], started: dict[str, str], chosen: list[str]) -> None:
    """Only the finished conversations whose ids the answers name, in manifest order."""
    found = answered_conversations([(A, "id-a"), (B, "id-b")], named, FILE, started)
    assert [conversation.id for conversation, _ in found] == chosen


@pytest.mark.parametrize(
    ("named", "started", "message"),
    [
        (set(), {}, f'{FILE}: no voice is answered; set identity to a roster email, "new" or "skip", then run again'),
        (
            {"id-a", "id-c"},
            {"id-c": "c"},
            f"{FILE}: conversation 'c' (id-c) has segments not saved yet; run the manifest until it is finished, "
            "then apply the review file",
        ),
        ({"id-x"}, {}, f"{FILE}: conversation id-x is not a conversation of this manifest; give the review file"),
    ],
)
def test_answers_about_other_conversations_are_refused(named: set[str], started: dict[str, str], message: str) -> None:
    """No answer, an answer about an unfinished conversation, or about one the manifest does not have: one
    sentence naming the file and the conversation."""
    with pytest.raises(ReviewError) as caught:
        answered_conversations([(A, "id-a"), (B, "id-b")], named, FILE, started)
    assert str(caught.value).startswith(message)
