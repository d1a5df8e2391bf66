"""The run report: every recording's outcome and error, the totals, and what reconciliation did. Pure.

Reconciliation keeps one record per conversation, `<output>/<conversation>/reconcile.json` (`RECONCILE_RECORD`,
written by `reconcile`, read by `outputs.reconciliation` for the run's report and for `status`): how many members
were named and merged so far (every operation carried out on the conversation, counted once however often it is
reconciled), what the last reconciliation left for review and where, and the operations the server answered for
without showing their effect. A report without records (no people in the manifest, `--no-reconcile`) shows
nothing of reconciliation at all.
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from batch import render, speakers
from batch.lifecycle import Row, Status
from batch.models import Manifest, Segment
from batch.spill import SpilledList

RECONCILE_RECORD = "reconcile.json"  # exported as `batch.RECONCILE_RECORD`: reconcile/record.py writes it
COUNTS = ("named", "merged", "for_review", "unconfirmed")
SPEAKERS_SHOWN = 1000  # conversations whose speaker summary report.md shows, at most (each is a file to read)


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What reconciliation did to one conversation, as its record says."""

    conversation: str
    conversation_id: str
    segments: int  # how many segments the conversation had when it was reconciled
    named: int
    merged: int
    for_review: int
    unconfirmed: int  # operations answered 200 whose effect the members list did not show: sent again next time
    review_file: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "conversation": self.conversation,
            "conversationId": self.conversation_id,
            **{name: getattr(self, name) for name in COUNTS},
            "reviewFile": self.review_file,
        }


def reconciled_from(data: Any) -> Reconciled | None:
    """The record as reconcile wrote it, or None when it is not one (a hand edit, a foreign file)."""
    if not isinstance(data, dict):
        return None
    texts, numbers = ("conversation", "conversation_id"), ("segments", *COUNTS)
    if not all(isinstance(data.get(k), str) for k in texts):
        return None
    if not all(isinstance(data.get(k), int) and not isinstance(data[k], bool) and data[k] >= 0 for k in numbers):
        return None
    review_file = data.get("review_file")
    if review_file is not None and not isinstance(review_file, str):
        return None
    counts = {k: data[k] for k in COUNTS}
    return Reconciled(
        data["conversation"], data["conversation_id"], data["segments"], **counts, review_file=review_file
    )


def reconciled_totals(records: Sequence[Reconciled]) -> dict[str, int]:
    return {name: sum(getattr(r, name) for r in records) for name in COUNTS}


def counted(counts: Mapping[str, int]) -> str:
    """`3 named, 1 merged, 2 left for review`."""
    return f"{counts['named']} named, {counts['merged']} merged, {counts['for_review']} left for review"


def unconfirmed_sentence(count: int) -> str:
    return f"{count} operation(s) not confirmed by the server; `reconcile apply` will send them again"


def reconciliation_lines(records: Sequence[Reconciled]) -> list[str]:
    """For people: the total, then one line per conversation with its review file and its unconfirmed operations."""
    if not records:
        return []
    total = reconciled_totals(records)
    lines = [f"reconciliation: {counted(total)} ({len(records)} conversation(s))"]
    for record in records:
        counts = reconciled_totals([record])
        lines.append(f"  {record.conversation:<24} {counted(counts)}")
        if record.review_file:
            lines.append(f"    review file: {record.review_file}")
        if record.unconfirmed:
            lines.append(f"    {unconfirmed_sentence(record.unconfirmed)}")
    if total["unconfirmed"]:
        lines.append(f"  in all, {unconfirmed_sentence(total['unconfirmed'])}")
    return lines


class Outcomes(Sequence[dict[str, Any]]):
    """Every segment's outcome, as report.json gives it: a dict made when it is read, from one small tuple per
    segment kept in a temporary file (`spill.SpilledList`: a million-row run's report is not in memory)."""

    __slots__ = ("_facts", "_manifest", "_starts")

    def __init__(self, manifest: Manifest, facts: Sequence[tuple[Any, ...]]) -> None:
        """`facts`: one per segment of `manifest`, in its order (its segments are read again when shown)."""
        self._manifest, self._facts = manifest, facts
        self._starts: array[int] | None = None  # where each conversation's segments begin: made when indexed

    def __len__(self) -> int:
        return len(self._facts)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self._outcome(self._segment(i), self._facts[i]) for i in range(*index.indices(len(self)))]
        i = range(len(self))[index]
        return self._outcome(self._segment(i), self._facts[i])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self._outcome(s, f) for s, f in zip(self._manifest.segments(), self._facts, strict=True))

    def _segment(self, i: int) -> Segment:
        if self._starts is None:
            lengths = (len(chain) for chain in self._manifest.chains())
            self._starts = array("q", itertools.accumulate(lengths, initial=0))
        n = bisect.bisect_right(self._starts, i) - 1
        return self._manifest.conversations[n].segments[i - self._starts[n]]

    @staticmethod
    def _outcome(segment: Segment, facts: tuple[Any, ...]) -> dict[str, Any]:
        status, conversation_id, job_id, messages, attempts, error = facts
        return {
            "segment": segment.key,
            "conversation": segment.conversation,
            "line": segment.line,
            "source": segment.path or segment.url,
            "status": status,
            "conversationId": conversation_id,
            "jobId": job_id,
            "messages": messages,
            "attempts": attempts,
            "error": error,
        }


@dataclass(frozen=True, slots=True)
class Report:
    segments: Sequence[dict[str, Any]]  # in manifest order (`Outcomes`; any sequence of such dicts)
    totals: dict[str, int]
    problems: list[str] = field(default_factory=list)  # run-level failures: a hook, an unforeseen error
    reconciliation: list[Reconciled] = field(default_factory=list)
    speakers: dict[str, list[speakers.SpeakerLine]] = field(default_factory=dict)  # conversation -> summary (md only)

    @property
    def ok(self) -> bool:
        return not self.problems and self.totals.get(Status.SAVED.value, 0) == len(self.segments)

    def head(self) -> dict[str, Any]:
        """report.json without its segments and reconciliation."""
        return {"ok": self.ok, "totals": self.totals, "problems": self.problems}

    def reconciliation_dict(self) -> dict[str, Any] | None:
        if not self.reconciliation:
            return None
        return {
            "totals": reconciled_totals(self.reconciliation),
            "conversations": [r.as_dict() for r in self.reconciliation],
        }

    def as_dict(self) -> dict[str, Any]:
        found = self.head() | {"segments": list(self.segments)}
        if (reconciled := self.reconciliation_dict()) is not None:
            found["reconciliation"] = reconciled
        return found


def _code(text: str) -> str:
    """A path as a Markdown code span inside a table cell (a `|` would end the cell)."""
    escaped = text.replace("|", "\\|")
    return f"`` {escaped} ``" if "`" in escaped else f"`{escaped}`"


def _speaker_sections(report: Report) -> str:
    lines = ["", "## Speakers", ""]
    if len(report.speakers) == SPEAKERS_SHOWN:
        lines += [f"The first {SPEAKERS_SHOWN} conversations; every conversation.json has its own summary.", ""]
    for conversation, summary in report.speakers.items():
        lines += [f"### {render.markdown_text(conversation)}", "", *speakers.markdown_table(summary), ""]
    return "\n".join(lines)


def markdown(report: Report) -> str:
    return "".join(markdown_parts(report))


def markdown_parts(report: Report) -> Iterator[str]:
    """report.md (the only writer of its text), in parts: the segments' table, a line each, then (when there was
    any) what reconciliation did, then each saved conversation's speaker summary."""
    yield from render.report_markdown_lines(report.totals, report.segments)
    if report.reconciliation:
        yield _reconciliation_section(report)
    if report.speakers:
        yield _speaker_sections(report)


def _reconciliation_section(report: Report) -> str:
    total = reconciled_totals(report.reconciliation)
    lines = [
        "",
        "## Reconciliation",
        "",
        f"Totals: {counted(total)}",
        "",
        "| conversation | named | merged | left for review | not confirmed | review file |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in report.reconciliation:
        review = _code(r.review_file) if r.review_file else ""
        lines.append(f"| {r.conversation} | {r.named} | {r.merged} | {r.for_review} | {r.unconfirmed} | {review} |")
    if total["unconfirmed"]:
        lines += ["", unconfirmed_sentence(total["unconfirmed"]) + "."]
    return "\n".join(lines) + "\n"


def build_report(
    manifest: Manifest,
    rows: Mapping[str, Row],
    *,
    problems: Sequence[str] = (),
    reconciliation: Sequence[Reconciled] = (),
    talk: Mapping[str, list[speakers.SpeakerLine]] | None = None,
) -> Report:
    facts, counts = SpilledList(), Counter[str]()
    for segment in manifest.segments():
        row = rows[segment.key]
        error = row.error if row.status is not Status.SAVED else None
        facts.append((row.status.value, row.conversation_id, row.job_id, len(row.message_ids), row.attempts, error))
        counts[row.status.value] += 1
    return Report(Outcomes(manifest, facts), dict(counts), list(problems), list(reconciliation), dict(talk or {}))
