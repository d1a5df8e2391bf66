"""Applying plans: exactly once across a SIGKILL, review answers, the identity directory, and no voice."""

from __future__ import annotations

import asyncio
import tomllib
from asyncio.subprocess import DEVNULL
from pathlib import Path

import aiohttp
import pytest

from batch import load_manifest, open_run
from reconcile import Ledger, Settings, available, read_review, reconcile_conversation
from reconcile.cli import _reconcile_all
from reconcile.voice.embedder import Embedder
from tests.support.emulator import FAST, MakeEmulator
from tests.support.people import CAST, roster, run_with_reconcile, seed_manifest
from tests.support.processes import cli, run_cli, spawn_cli, start_emulator
from tests.support.server import CORPUS

pytestmark = pytest.mark.skipif(not available(), reason="the voice extra (onnxruntime) is not installed")


async def test_killing_apply_between_puts_applies_every_operation_once(tmp_path: Path) -> None:
    """SIGKILL while the second PUT's answer is outstanding (the server acted); the re-run checks the members
    list instead of resending, so the emulator counts each rename and merge exactly once."""
    emu = await start_emulator("--time-scale", "0.02")
    try:
        manifest = seed_manifest(tmp_path)
        code, _, err = await run_cli(str(manifest), "--no-reconcile", env=emu.env())
        assert code == 0, err
        faults = {"faults": {"script": {"PUT /v1/conversations/*/members/*": ["pass", "slow"]}, "slow_seconds": 20}}
        async with aiohttp.ClientSession() as http:
            await http.post(f"{emu.base_url}/_emulator/config", json=faults)
        proc = await spawn_cli("reconcile", "apply", str(manifest), env=emu.env(), stdout=DEVNULL, stderr=DEVNULL)
        for _ in range(600):
            if (await emu.control("stats"))["member_updates"] >= 2:
                break
            await asyncio.sleep(0.05)
        proc.kill()
        await proc.wait()
        code, out, err = await cli("reconcile", "apply", str(manifest), env=emu.env())
        assert code == 0, out + err
        stats = await emu.control("stats")
        assert (stats["member_updates"], stats["merges"]) == (4, 1)
        (conv,) = (await emu.control("state"))["conversations"]
        assert sorted((m["name"], m["email"]) for m in conv["members"]) == sorted(
            [CAST["john"], CAST["alice"], CAST["may"]]
        )
        code, _, _ = await cli("reconcile", "apply", str(manifest), env=emu.env())
        assert code == 0 and (await emu.control("stats"))["member_updates"] == 4  # a finished plan: nothing again
    finally:
        emu.proc.terminate()
        await emu.proc.wait()


async def test_review_answers_are_carried_out(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """Nobody in the mp4 introduces themself and nobody has an enrolment sample: its members go to review;
    answering the review file names them."""
    emu = await make_emulator()
    text = (
        '[api]\noutput = "out"\n[defaults]\nenableSpeakerDiarization = true\ndiarizationSpeakerCount = 2\n'
        + roster(["alice", "john"], enrol=False)
        + f'[[conversations]]\nid = "brief"\n  [[conversations.segments]]\n'
        f'  file = "{CORPUS / "media" / "video-brief.mp4"}"\n'
    )
    manifest = tmp_path / "brief.toml"
    manifest.write_text(text)
    await run_with_reconcile(emu, manifest)
    review_file = tmp_path / "out" / "brief" / "review.toml"
    entries = tomllib.loads(review_file.read_text())["voice"]
    assert len(entries) == 2
    for entry in entries:  # every listed person is a candidate, and none has a voice on file
        assert {c["email"] for c in entry["candidates"]} == {"alice@example.com", "john@example.com"}
        assert all(c["reasons"] == ["no voice on file"] for c in entry["candidates"])
    answered = review_file.read_text()
    for entry in entries:
        launch = any("product launch" in q["text"] for q in entry["quotes"])
        who = "alice@example.com" if launch else "john@example.com"
        answered = answered.replace('identity = ""', f'identity = "{who}"', 1)
    review_file.write_text(answered)
    loaded = load_manifest(manifest, environ=emu.env())
    answers = read_review(review_file, {p.email for p in loaded.people})
    assert await _reconcile_all(loaded, apply=True, answers=answers, use_voice=True) == 0
    (conv,) = (await emu.control("state"))["conversations"]
    assert sorted(m["name"] for m in conv["members"]) == ["Alice Walker", "John Doe"]
    assert not review_file.exists()  # nothing left to review


async def test_identity_directory_recognises_people_without_enrolment_and_forgets(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    """Confirmed voices are kept as profiles (never audio); a later batch without enrolment samples is resolved
    by voice from them; after `forget`, that person is no longer recognised by voice."""
    emu = await make_emulator()
    await run_with_reconcile(emu, seed_manifest(tmp_path))
    state = tmp_path / "out" / "state.sqlite"
    ledger = Ledger(state)
    assert [e for e, _, _ in ledger.people()] == ["alice@example.com", "john@example.com", "may@example.com"]
    bare = seed_manifest(tmp_path, enrol=False, conversation="again")  # no enrolment samples this time
    loaded = load_manifest(bare, environ=emu.env())
    async with open_run(loaded, options=FAST) as run:  # same output folder, so the same state and directory
        assert (await run.run()).ok
        conversation_id = run.store.rows()["again/1"].conversation_id
        assert conversation_id is not None
        voice_only = Settings(use_introductions=False)
        outcome = await reconcile_conversation(
            run.client,
            run.manifest,
            loaded.conversations[0],
            conversation_id,
            ledger=ledger,
            embedder=Embedder(),
            settings=voice_only,
            write=False,
        )
        assert len(outcome.plan.assignments) == 4 and outcome.plan.review == ()
        assert ledger.forget("JOHN@example.com") and not ledger.forget("john@example.com")
        outcome = await reconcile_conversation(
            run.client,
            run.manifest,
            loaded.conversations[0],
            conversation_id,
            ledger=ledger,
            embedder=Embedder(),
            settings=voice_only,
            write=False,
        )
        assert "john@example.com" not in outcome.plan.assignments.values()
    ledger.close()


async def test_without_voice_introductions_still_work_and_it_says_so(tmp_path: Path) -> None:
    """`reconcile plan --no-voice`: introductions settle the seed's people, and the plan says voice was not used."""
    emu = await start_emulator("--time-scale", "0.02")
    try:
        manifest = seed_manifest(tmp_path)
        assert (await run_cli(str(manifest), "--no-reconcile", env=emu.env()))[0] == 0
        code, out, err = await cli("reconcile", "plan", str(manifest), "--no-voice", env=emu.env())
        assert code == 0, err
        assert "(voice not used)" in out and "plan only" in out
        assert "John Doe" in out and "May Lin" in out
        assert (await emu.control("stats"))["member_updates"] == 0  # plan sends nothing
    finally:
        emu.proc.terminate()
        await emu.proc.wait()
