"""The conversation's reconciliation record, `<output>/<conversation>/reconcile.json` (`batch.RECONCILE_RECORD`):
written here after each reconciliation, read by `symbl-batch status` and the run's report.

Rule: named and merged count every operation carried out on the conversation, by this reconciliation or an
earlier one, each once (a set of (kind, member id)): a re-run that finds nothing new changes nothing. What is
left for review and what the server did not confirm are as of the last reconciliation.
Rule: an earlier record counts only while it is of the same conversation id; one that is unreadable, or of a
conversation that was submitted again, is as if there were none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

import batch
from reconcile.session import Outcome

Done = frozenset[tuple[str, str]]  # (kind, member id) of operations the server shows carried out


def counts(outcome: Outcome) -> dict[str, int]:
    """What reconciliation did (or, only planning, would do) to one conversation, by the names batch reports."""
    return {
        "named": outcome.named,
        "merged": outcome.merged,
        "for_review": outcome.for_review,
        "unconfirmed": len(outcome.unconfirmed),
    }


def record(outcome: Outcome, segments: int, earlier: Done = frozenset()) -> dict[str, Any]:
    """The record as batch's report reads it: this reconciliation's operations the server confirmed, with the
    `earlier` ones, counted by kind."""
    done = sorted(
        earlier | {(op.kind, op.member_id) for op in outcome.plan.operations if op not in outcome.unconfirmed}
    )
    return {
        "conversation": outcome.conversation,
        "conversation_id": outcome.conversation_id,
        "segments": segments,
        "named": sum(kind == "rename" for kind, _ in done),
        "merged": sum(kind == "merge" for kind, _ in done),
        "for_review": outcome.for_review,
        "unconfirmed": len(outcome.unconfirmed),
        "review_file": str(outcome.review_file) if outcome.review_file is not None else None,
        "voice_used": outcome.voice_used,
        "done": [list(d) for d in done],
    }


def earlier_done(path: Path, conversation_id: str) -> Done:
    """What an earlier record of this conversation counted as carried out; nothing when it is unreadable or of
    another conversation id (the conversation was submitted again)."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return frozenset()
    if not isinstance(data, dict) or data.get("conversation_id") != conversation_id:
        return frozenset()
    done = data.get("done")
    pairs = done if isinstance(done, list) else []
    return frozenset(
        (p[0], p[1]) for p in pairs if isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
    )


async def keep(manifest: batch.Manifest, conversation: batch.Conversation, outcome: Outcome) -> None:
    """Write the record beside the conversation's outputs, replacing an earlier one: `status` reads it later."""
    path = batch.conversation_dir(manifest.api.output, conversation.id) / batch.RECONCILE_RECORD
    data = record(outcome, len(conversation.segments), earlier_done(path, outcome.conversation_id))
    await batch.write_file(path, orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
