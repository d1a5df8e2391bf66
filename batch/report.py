"""The run report: every recording's outcome and error, and the totals. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from batch.lifecycle import Row, Status
from batch.models import Manifest


@dataclass(frozen=True, slots=True)
class Report:
    segments: list[dict[str, Any]]
    totals: dict[str, int]
    problems: list[str] = field(default_factory=list)  # run-level failures: a hook, an unforeseen error

    @property
    def ok(self) -> bool:
        return not self.problems and all(s["status"] == Status.SAVED for s in self.segments)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "totals": self.totals, "problems": self.problems, "segments": self.segments}


def build_report(manifest: Manifest, rows: Mapping[str, Row], *, problems: Sequence[str] = ()) -> Report:
    segments = []
    for segment in manifest.segments():
        row = rows[segment.key]
        segments.append(
            {
                "segment": segment.key,
                "conversation": segment.conversation,
                "line": segment.line,
                "source": str(segment.file) if segment.file else segment.url,
                "status": row.status.value,
                "conversationId": row.conversation_id,
                "jobId": row.job_id,
                "messages": len(row.message_ids),
                "attempts": row.attempts,
                "error": row.error if row.status is not Status.SAVED else None,
            }
        )
    return Report(segments, dict(Counter(str(s["status"]) for s in segments)), list(problems))
