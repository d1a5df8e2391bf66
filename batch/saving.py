"""A finished segment's results: read from the API (only after its job is `completed`, symbl-api.md §13 #12),
checked against the contract by the client's reads (`batch.results`), written (`batch.outputs`), and the row
moved to `saved`. On API, contract or disk trouble the row stays `finished` with the reason: its results are
still on the server, and the next run saves them. A malformed answer is that recording's error (`save_failed`),
never the run's.
"""

from __future__ import annotations

import asyncio

from batch import events, outputs
from batch.client import SymblClient
from batch.errors import ApiError, Unreachable
from batch.events import EventSink
from batch.lifecycle import Status
from batch.models import Manifest, Segment
from batch.outcomes import NotSaved, Save, Saved
from batch.store import StateStore

READS_AT_ONCE = 4  # results reads at once: they may wait, submissions and polls not


class Saver:
    def __init__(self, manifest: Manifest, client: SymblClient, store: StateStore, *, emit: EventSink) -> None:
        self.manifest, self.client, self.store, self.emit = manifest, client, store, emit
        self.conversations = {c.id: c for c in manifest.conversations}
        self._reading = asyncio.Semaphore(READS_AT_ONCE)

    def _event(self, name: str, segment: Segment, detail: str | None = None) -> None:
        self.emit(events.of_segment(name, segment, self.store.row(segment.key), detail))

    async def save(self, segment: Segment) -> Save:
        try:
            return await self._save(segment)
        except Unreachable:
            raise
        except (ApiError, OSError) as exc:  # OSError: e.g. a full disk; reported, the run goes on, nothing is lost
            reason = f"results not saved: {exc}" if isinstance(exc, ApiError) else f"cannot write the results: {exc}"
            if self.store.row(segment.key).status is Status.FINISHED:
                self.store.move(segment.key, Status.FINISHED, error=reason)  # the report says why
            self._event("save_failed", segment, detail=reason)
            return NotSaved(reason)

    async def _save(self, segment: Segment) -> Save:
        conversation = self.conversations[segment.conversation]
        siblings = sorted(conversation.segments, key=lambda s: s.index)
        rows = self.store.rows()
        conversation_id = rows[segment.key].conversation_id or rows[siblings[0].key].conversation_id
        assert conversation_id is not None
        async with self._reading:
            parts = await outputs.fetch(self.client, conversation_id)  # the client checked the contract's shape
        rows = self.store.rows()
        earlier = {m for s in siblings if s.index < segment.index for m in rows[s.key].message_ids}
        mine = [str(m["id"]) for m in parts["messages"] if str(m["id"]) not in earlier]
        ledger = [
            {
                "segment": s.key,
                "jobId": rows[s.key].job_id,
                "messageIds": mine if s.key == segment.key else rows[s.key].message_ids,
            }
            for s in siblings
            if s.index <= segment.index
        ]
        await outputs.save_conversation(
            self.manifest.api.output, segment.conversation, parts, ledger, title=conversation.name
        )
        self.store.move(segment.key, Status.SAVED, message_ids=mine, conversation_id=conversation_id)
        self._event("saved", segment, detail=f"{len(mine)} messages")
        return Saved(parts, last_of_conversation=segment.index == len(siblings) - 1)
