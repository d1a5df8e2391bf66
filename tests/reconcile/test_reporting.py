"""What the user is told about reconciliation: the run's log, terminal summary, report.json/report.md and
`status`, and `reconcile plan`/`apply`, all agree with what the server shows; nothing is said without people."""

from __future__ import annotations

import asyncio
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

import batch
from batch.logs import level
from batch.progress import Output
from batch.report import Reconciled, Report, markdown, reconciled_from
from reconcile import available
from tests.support.emulator import MakeEmulator, write_manifest
from tests.support.people import people_manifest
from tests.support.processes import SCRIPTED, EmulatorProcess, cli, run_cli, start_emulator

needs_voice = pytest.mark.skipif(not available(), reason="the voice extra (onnxruntime) is not installed")
async def server_truth(emu: EmulatorProcess, report: dict[str, Any]) -> dict[str, Any]:
    """From the emulator: renames and merges in all (its counters), and per conversation the members that
    carry a person's email (named) and those that do not (left for review)."""
    stats, state = await emu.control("stats"), await emu.control("state")
    ids = {s["conversationId"]: s["conversation"] for s in report["segments"]}
    per = {}
    for conv in state["conversations"]:
        emails = [m.get("email") for m in conv["members"]]
        per[ids[conv["id"]]] = (sum(e is not None for e in emails), sum(e is None for e in emails))
    return {"named": stats["member_updates"] - stats["merges"], "merged": stats["merges"], "per": per}


@needs_voice
async def test_the_run_reports_what_reconciliation_did_as_the_server_shows_it(tmp_path: Path) -> None:
    """Seed standup + the interview, reconciled by the run: the `reconciled` log events, the summary record and
    table, report.json, report.md and `status` (by manifest and by state file) give the same counts as the
    emulator's state (3 named, 1 merged; 2 left for review in interview's review file, which they all name);
    a later `reconcile apply` that finds nothing new leaves `status`'s counts as they were."""
    emu = await start_emulator("--time-scale", "0.02")
    try:
        manifest = people_manifest(tmp_path, ["standup", "interview"])
        code, out, err = await run_cli(str(manifest), env=emu.env(), seconds=240)
        assert code == 0, err
        report = json.loads((tmp_path / "out" / "report.json").read_text())
        truth = await server_truth(emu, report)
        again = await cli("reconcile", "apply", str(manifest), env=emu.env(), seconds=240)  # finds nothing new
    finally:
        emu.proc.terminate()
        await emu.proc.wait()
    assert again[0] == 0 and "total: 0 named, 0 merged, 2 left for review (2 conversation(s))" in again[1]
    review = str((tmp_path / "out" / "interview" / "review.toml").resolve())
    expected = {"named": truth["named"], "merged": truth["merged"], "for_review": 2, "unconfirmed": 0}
    assert expected == {"named": 3, "merged": 1, "for_review": 2, "unconfirmed": 0}
    assert truth["per"] == {"standup": (3, 0), "interview": (0, 2)}
    assert report["reconciliation"]["totals"] == expected
    by_conversation = {r["conversation"]: r for r in report["reconciliation"]["conversations"]}
    assert {c: (r["named"], r["for_review"]) for c, r in by_conversation.items()} == truth["per"]
    assert by_conversation["standup"]["merged"] == 1 and by_conversation["standup"]["reviewFile"] is None
    assert by_conversation["interview"]["reviewFile"] == review and Path(review).is_file()

    events = [json.loads(line) for line in err.splitlines()]
    reconciled = {e["conversation"]: e for e in events if e["event"] == "reconciled"}
    assert reconciled["standup"]["counts"] == {"named": 3, "merged": 1, "for_review": 0, "unconfirmed": 0}
    assert reconciled["interview"]["counts"]["for_review"] == 2 and reconciled["interview"]["review_file"] == review
    assert "review_file" not in reconciled["standup"]
    (summary,) = [e for e in events if e["event"] == "summary"]
    assert summary["reconciliation"] == expected
    assert "reconciliation: 3 named, 1 merged, 2 left for review" in out

    md = (tmp_path / "out" / "report.md").read_text()
    assert "## Reconciliation" in md and "Totals: 3 named, 1 merged, 2 left for review" in md
    assert "| standup | 3 | 1 | 0 | 0 |  |" in md and f"| interview | 0 | 0 | 2 | 0 | `{review}` |" in md

    for target in (manifest, tmp_path / "out" / "state.sqlite"):
        code, text, err = await cli("status", str(target))
        assert code == 0, err
        assert "reconciliation: 3 named, 1 merged, 2 left for review (2 conversation(s))" in text
        assert re.search(r"standup\s+3 named, 1 merged, 0 left for review", text)
        assert re.search(
            r"interview\s+0 named, 0 merged, 2 left for review\n\s+review file: " + re.escape(review), text
        )
        assert "not confirmed" not in text


@needs_voice
async def test_plan_and_apply_print_the_counts_and_status_follows_apply(tmp_path: Path) -> None:
    """After a run without reconciliation: `plan` prints each conversation's counts and the total and changes
    nothing (nor does `status` show any); `apply` prints the same counts, the review file, and sends exactly
    the renames and merges it counts; `status` then shows them."""
    emu = await start_emulator("--time-scale", "0.02")
    try:
        manifest = people_manifest(tmp_path, ["standup", "interview"])
        assert (await run_cli(str(manifest), "--no-reconcile", env=emu.env()))[0] == 0
        code, out, err = await cli("reconcile", "plan", str(manifest), env=emu.env(), seconds=240)
        assert code == 0, err
        assert "standup: 3 named, 1 merged, 0 left for review (voice used)" in out
        assert "interview: 0 named, 0 merged, 2 left for review (voice used)" in out
        assert "total: 3 named, 1 merged, 2 left for review (2 conversation(s))" in out
        assert (await emu.control("stats"))["member_updates"] == 0
        code, status_text, _ = await cli("status", str(manifest))
        assert code == 0 and "reconciliation" not in status_text
        code, out, err = await cli("reconcile", "apply", str(manifest), env=emu.env(), seconds=240)
        assert code == 0, err
        stats = await emu.control("stats")
    finally:
        emu.proc.terminate()
        await emu.proc.wait()
    review = (tmp_path / "out" / "interview" / "review.toml").resolve()
    assert (stats["member_updates"] - stats["merges"], stats["merges"]) == (3, 1)
    assert "standup: 3 named, 1 merged, 0 left for review (voice used)" in out
    assert f"interview: 0 named, 0 merged, 2 left for review (voice used); review file: {review}" in out
    assert "total: 3 named, 1 merged, 2 left for review (2 conversation(s))" in out
    assert f"\nreview file: {review}\n" in out
    code, status_text, _ = await cli("status", str(manifest))
    assert code == 0 and "reconciliation: 3 named, 1 merged, 2 left for review (2 conversation(s))" in status_text


async def test_without_people_nothing_about_reconciliation_is_shown(tmp_path: Path) -> None:
    """No roster, so no reconciliation: the summary, the log, report.json, report.md and `status` are as
    before (no record is written, no reconciliation key or section)."""
    manifest = write_manifest(tmp_path, [("memo", ["solo-memo.wav"])])
    code, out, err = await run_cli(str(manifest), *SCRIPTED)
    assert code == 0, err
    assert "reconcil" not in out.lower() and "reconciled" not in err
    assert '"reconciliation"' not in err
    assert "reconciliation" not in json.loads((tmp_path / "out" / "report.json").read_text())
    assert "Reconciliation" not in (tmp_path / "out" / "report.md").read_text()
    assert not (tmp_path / "out" / "memo" / "reconcile.json").exists()
    code, text, _ = await cli("status", str(manifest))
    assert code == 0 and "reconcil" not in text.lower()


async def test_status_shows_a_record_only_while_it_describes_the_conversation(tmp_path: Path) -> None:
    """A record with unconfirmed operations is called out; one of another conversation id (the conversation was
    submitted again) or of fewer segments (an append since) is stale and not shown; a broken one is exit 2
    naming the file."""
    manifest = write_manifest(tmp_path, [("memo", ["solo-memo.wav"])])
    assert (await run_cli(str(manifest), *SCRIPTED))[0] == 0
    conversation_id = json.loads((tmp_path / "out" / "report.json").read_text())["segments"][0]["conversationId"]
    path = tmp_path / "out" / "memo" / "reconcile.json"
    good = {"conversation": "memo", "conversation_id": conversation_id, "segments": 1, "named": 1, "merged": 0}
    good |= {"for_review": 0, "unconfirmed": 2, "review_file": None}
    path.write_text(json.dumps(good))
    code, text, _ = await cli("status", str(manifest))
    assert code == 0 and "reconciliation: 1 named, 0 merged, 0 left for review (1 conversation(s))" in text
    assert "2 operation(s) not confirmed by the server; `reconcile apply` will send them again" in text
    for stale in ({"conversation_id": "another"}, {"segments": 2}):
        path.write_text(json.dumps(good | stale))
        code, text, _ = await cli("status", str(manifest))
        assert code == 0 and "reconcil" not in text
    path.write_text("{not json")
    code, _, err = await cli("status", str(manifest))
    assert code == 2 and f"{path}: not a reconciliation record" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "record",
    [
        [],
        {"conversation": "a"},
        {"conversation": "a", "conversation_id": "x", "segments": 1, "named": True, "merged": 0, "for_review": 0},
        {"conversation": "a", "conversation_id": "x", "segments": 1, "named": -1, "merged": 0, "for_review": 0},
        {"conversation": "a", "conversation_id": "x", "segments": 1, "named": 0, "merged": 0, "for_review": 0},
        {
            "conversation": "a",
            "conversation_id": "x",
            "segments": 1,
            "named": 0,
            "merged": 0,
            "for_review": 0,
            "unconfirmed": 0,
            "review_file": 3,
        },
    ],
)
def test_a_record_that_is_not_one_is_refused(record: Any) -> None:
    """Wrong shapes, booleans or negative counts, a missing count or a review file that is not a path: no record."""
    assert reconciled_from(record) is None


def test_unconfirmed_operations_are_called_out_in_report_md_and_the_summary() -> None:
    """report.md and the terminal summary say how many operations the server did not confirm, and that the next
    `reconcile apply` sends them again; the review file (a path with a `|`) stays in its table cell."""
    records = [Reconciled("a", "x", 1, 2, 1, 1, 3, "/o|ut/a/review.toml"), Reconciled("b", "y", 2, 1, 0, 0, 0, None)]
    report = Report([], {}, reconciliation=records)
    md = markdown(report)
    assert "Totals: 3 named, 1 merged, 1 left for review" in md
    assert "| a | 2 | 1 | 1 | 3 | `/o\\|ut/a/review.toml` |" in md and "| b | 1 | 0 | 0 | 0 |  |" in md
    assert "3 operation(s) not confirmed by the server; `reconcile apply` will send them again." in md
    stdout, stderr = io.StringIO(), io.StringIO()
    Output(log_format="text", threshold=0, progress=False, stdout=stdout, stderr=stderr).summary(report, Path("o"), 0)
    assert "reconciliation: 3 named, 1 merged, 1 left for review" in stdout.getvalue()
    assert "3 operation(s) not confirmed by the server" in stdout.getvalue()
    assert "3 operation(s) not confirmed by the server" in stderr.getvalue()


def _with_a_person(manifest: Path) -> Path:
    """The manifest with one person on the roster: only then does a run read reconciliation records."""
    manifest.write_text(manifest.read_text() + '[[people]]\nname = "A"\nemail = "a@example.com"\n')
    return manifest


def _writing(record: bytes | None) -> batch.AfterConversation:
    """A hook that takes its time, then leaves `record` (None: a valid one of the conversation) as reconcile would."""

    async def hook(finished: batch.Finished) -> None:
        await asyncio.sleep(0.2)  # the report is read after the hook, however late it ends
        conversation = finished.conversation
        found = {"conversation": conversation.id, "conversation_id": finished.conversation_id, "named": 2}
        found |= {"segments": len(conversation.segments), "merged": 1, "for_review": 1, "unconfirmed": 0}
        found |= {"review_file": "out/memo/review.toml"}
        folder = batch.conversation_dir(finished.manifest.api.output, conversation.id)
        data = json.dumps(found).encode() if record is None else record
        await batch.write_file(folder / batch.RECONCILE_RECORD, data)

    return hook


async def test_a_library_run_reports_what_its_hook_reconciled(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """`open_run(..., after_conversation=hook)` without the command line: the returned report, report.json and
    report.md carry the record the hook left (read once the hook has finished)."""
    emu = await make_emulator()
    manifest = _with_a_person(write_manifest(tmp_path, [("memo", ["solo-memo.wav"])]))
    report = await emu.run(manifest, after_conversation=_writing(None))
    assert report.ok, report.problems
    expected = {"named": 2, "merged": 1, "for_review": 1, "unconfirmed": 0}
    written = json.loads((tmp_path / "out" / "report.json").read_text())
    assert written == report.as_dict() and written["reconciliation"]["totals"] == expected
    (conversation,) = written["reconciliation"]["conversations"]
    assert conversation["conversation"] == "memo" and conversation["reviewFile"] == "out/memo/review.toml"
    md = (tmp_path / "out" / "report.md").read_text()
    assert "Totals: 2 named, 1 merged, 1 left for review" in md and "| memo | 2 | 1 | 1 | 0 |" in md


async def test_a_broken_record_is_a_warning_and_the_run_goes_on(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    """A record that is not one: a `reconcile_unreadable` warning naming it, a report without reconciliation,
    and the run still ok (the recordings are saved)."""
    emu = await make_emulator()
    manifest = _with_a_person(write_manifest(tmp_path, [("memo", ["solo-memo.wav"])]))
    report = await emu.run(manifest, after_conversation=_writing(b"{not json"))
    assert report.ok and not report.reconciliation
    assert "reconciliation" not in json.loads((tmp_path / "out" / "report.json").read_text())
    (warning,) = [e for e in emu.events if e.event == "reconcile_unreadable"]
    assert level(warning) == "warning"
    assert warning.detail == (
        f"{(tmp_path / 'out' / 'memo' / 'reconcile.json').resolve()}: not a reconciliation record"
        " as `reconcile` writes it; run `symbl-batch reconcile apply MANIFEST` to write it again, or delete it"
    )
