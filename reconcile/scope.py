"""Which conversations a `reconcile plan|apply` covers: every finished conversation of the manifest, or, with
`--review FILE`, only those the file's answers name.

Rule: a conversation is finished when every one of its segments is saved; only finished conversations are
reconciled (an unfinished one's members are not all known yet).
Rule: a review file answering nothing, or about a conversation that is not a finished one of this manifest, is
the user's mistake (ReviewError, exit 2), found before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import batch
from reconcile.errors import ReviewError
from reconcile.review import Answer

Ready = list[tuple[batch.Conversation, str]]  # a manifest's conversations whose every segment is saved, and ids


def covered(
    manifest: batch.Manifest, store: batch.Store, *, answers: Sequence[Answer], review_file: Path | None
) -> Ready:
    """The conversations a command reconciles, in manifest order: all finished ones, or those `review_file`'s
    `answers` are about."""
    finished = finished_conversations(manifest, store)
    if review_file is None:
        return finished
    named = {answer.conversation_id for answer in answers}
    return answered_conversations(finished, named, review_file, started_conversations(manifest, store))


def finished_conversations(manifest: batch.Manifest, store: batch.Store) -> Ready:
    rows = store.rows()
    done = []
    for conversation in manifest.conversations:
        mine = [rows.get(s.key) for s in conversation.segments]
        if all(r is not None and r.status.value == "saved" for r in mine) and mine[0] and mine[0].conversation_id:
            done.append((conversation, mine[0].conversation_id))
    return done


def started_conversations(manifest: batch.Manifest, store: batch.Store) -> dict[str, str]:
    """Conversation id -> manifest id, for this manifest's conversations the server has (finished or not)."""
    rows = store.rows()
    found = {}
    for conversation in manifest.conversations:
        first = rows.get(conversation.segments[0].key)
        if first is not None and first.conversation_id:
            found[first.conversation_id] = conversation.id
    return found


def answered_conversations(finished: Ready, named: set[str], review_file: Path, started: dict[str, str]) -> Ready:
    """The finished conversations a review file answers about (`named`: their conversation ids). `started`:
    conversation id -> manifest id of this manifest's conversations the server has, finished or not."""
    if not named:
        raise ReviewError(
            f'{review_file}: no voice is answered; set identity to a roster email, "new" or "skip", then run again'
        )
    done = {conversation_id for _, conversation_id in finished}
    for conversation_id in sorted(named):
        if conversation_id in done:
            continue
        if conversation_id in started:
            raise ReviewError(
                f"{review_file}: conversation '{started[conversation_id]}' ({conversation_id}) has segments not "
                "saved yet; run the manifest until it is finished, then apply the review file"
            )
        raise ReviewError(
            f"{review_file}: conversation {conversation_id} is not a conversation of this manifest; give the "
            "review file (<output>/<conversation>/review.toml) of one of its finished conversations"
        )
    return [(conversation, cid) for conversation, cid in finished if cid in named]
