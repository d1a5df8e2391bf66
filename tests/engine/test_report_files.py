"""report.json and report.md are written a segment at a time; what they hold is exactly the report's own."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Sequence
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch.lifecycle import Row, Status
from batch.models import ApiConfig, Conversation, Manifest, Segment
from batch.outputs import save_report
from batch.progress import SUMMARY_ROWS, Output
from batch.report import Reconciled, Report, build_report, markdown

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
ROW = st.tuples(st.sampled_from(list(Status)), st.none() | TEXT, st.none() | TEXT, st.integers(0, 5), TEXT)


Outcome = tuple[Status, str | None, str | None, int, str]


def _report(tmp_path: Path, rows: Sequence[Outcome], *, reconciled: bool) -> Report:
    segments = [Segment(f"c{n}/1", f"c{n}", 0, "audio", f"/m/{n}.wav", None, {}, n + 1) for n in range(len(rows))]
    conversations = tuple(Conversation(s.conversation, s.conversation, (), (s,)) for s in segments)
    manifest = Manifest(tmp_path / "m.jsonl", ApiConfig(output=tmp_path), (), conversations)
    state = {
        s.key: Row(s.key, s.conversation, 0, "f", status, cid, job, {}, ["m"] * count, 1, error)
        for s, (status, cid, job, count, error) in zip(segments, rows, strict=True)
    }
    records = [Reconciled("c0", "x", 1, 2, 1, 0, 0, None)] if reconciled else []
    return build_report(manifest, state, problems=["a problem"] if len(rows) % 2 else [], reconciliation=records)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(ROW, max_size=12), st.booleans())
def test_the_files_hold_exactly_the_report(tmp_path: Path, rows: list[Outcome], reconciled: bool) -> None:
    """Any outcomes, texts and reconciliation: report.json parses to `as_dict()`, report.md is `markdown()`."""
    report = _report(tmp_path, rows, reconciled=reconciled)
    asyncio.run(save_report(tmp_path, report))
    assert json.loads((tmp_path / "report.json").read_text()) == json.loads(json.dumps(report.as_dict()))
    assert (tmp_path / "report.md").read_bytes().decode() == markdown(report)
    assert report.ok == (not report.problems and all(s["status"] == "saved" for s in report.segments))
    assert [s["segment"] for s in report.segments[1:3]] == [s["segment"] for s in list(report.segments)[1:3]]


def test_the_terminal_summary_lists_what_was_not_saved_when_all_would_not_fit(tmp_path: Path) -> None:
    """Past SUMMARY_ROWS segments the table lists the ones not saved and says where the rest are."""
    rows: list[Outcome] = [(Status.SAVED, "x", "j", 1, "")] * (SUMMARY_ROWS + 40)
    rows[7] = rows[90] = (Status.FAILED, None, None, 0, "the reason")
    report = _report(tmp_path, rows, reconciled=False)
    stdout = io.StringIO()
    Output(log_format="text", threshold=0, progress=False, stdout=stdout, stderr=io.StringIO()).summary(
        report, tmp_path, 1
    )
    shown = stdout.getvalue()
    assert "c7/1" in shown and "c90/1" in shown and "c8/1" not in shown
    assert f"{SUMMARY_ROWS + 38:,} more segments in report.md" in " ".join(shown.split())
