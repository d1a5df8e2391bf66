"""A finished segment's results: read from the API (only after its job is `completed`, docs/api-contract.md §13 #12),
checked against the contract by the client's reads (`batch.results`), written (`batch.outputs`), and the row
moved to `saved`. A read that kept failing (5xx, resets, timeouts, 429 through all the client's retries) is
tried again, up to `SAVE_ROUNDS` times in all, `pause` seconds apart: a flaky hour costs time, not a re-run. On
lasting API, contract or disk trouble the row stays `finished` with the reason: its results are still on the
server, and the next run saves them. A malformed answer is that recording's error (`save_failed`), never the run's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from batch import events, outputs
from batch.client import SymblClient
from batch.errors import ApiError, Broken, RateLimited, Transport, Unreachable
from batch.events import EventSink
from batch.lifecycle import Status
from batch.models import Manifest, Segment
from batch.outcomes import NotSaved, Save, Saved
from batch.store import StateStore

READS_AT_ONCE = 4  # results reads at once: they may wait, submissions and polls not
SAVE_ROUNDS = 3  # tries of one save whose reads kept failing transiently, before it is left for the next run


def _transient(exc: Exception) -> bool:
    """A failure a later try may not meet: no answer, 429, or a 5xx (not a contract breach, not the disk)."""
    return isinstance(exc, Transport | RateLimited) or (isinstance(exc, Broken) and (exc.status or 0) >= 500)


class Saver:
    def __init__(
        self,
        manifest: Manifest,
        client: SymblClient,
        store: StateStore,
        *,
        emit: EventSink,
        pause: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.manifest, self.client, self.store, self.emit = manifest, client, store, emit
        self.conversations = manifest.by_id
        self._reading = asyncio.Semaphore(READS_AT_ONCE)
        self._pause, self._sleep = pause, sleep

    def _event(self, name: str, segment: Segment, detail: str | None = None) -> None:
        self.emit(events.of_segment(name, segment, self.store.rows()[segment.key], detail))

    async def save(self, segment: Segment) -> Save:
        """The segment's results saved, or why not; transient read failures get `SAVE_ROUNDS` tries in all."""
        for round_ in range(1, SAVE_ROUNDS + 1):
            outcome = await self._try(segment, last=round_ == SAVE_ROUNDS)
            if isinstance(outcome, Saved) or not outcome.transient or round_ == SAVE_ROUNDS:
                return outcome
            await self._sleep(self._pause)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _try(self, segment: Segment, *, last: bool) -> Save:
        try:
            return await self._save(segment)
        except Unreachable:
            raise
        except (ApiError, OSError) as exc:  # OSError: e.g. a full disk; reported, the run goes on, nothing is lost
            reason = f"results not saved: {exc}" if isinstance(exc, ApiError) else f"cannot write the results: {exc}"
            transient = _transient(exc)
            if self.store.row(segment.key).status is Status.FINISHED:
                self.store.move(segment.key, Status.FINISHED, error=reason)  # the report says why
            again = "" if last or not transient else f" (tried again in {self._pause:g}s)"
            self._event("save_failed", segment, detail=reason + again)
            return NotSaved(reason, transient=transient)

    async def _save(self, segment: Segment) -> Save:
        conversation = self.conversations[segment.conversation]
        siblings = sorted(conversation.segments, key=lambda s: s.index)
        rows = self.store.rows()
        conversation_id = rows[segment.key].conversation_id or rows[siblings[0].key].conversation_id
        assert conversation_id is not None
        async with self._reading:
            parts = await outputs.fetch(self.client, conversation_id)  # the client checked the contract's shape
        whole = {s.key: self.store.row(s.key) for s in siblings if s.index < segment.index}  # saved: from the file
        earlier = {m for row in whole.values() for m in row.message_ids}
        mine = [str(m["id"]) for m in parts["messages"] if str(m["id"]) not in earlier]
        ledger = [
            {"segment": key, "jobId": row.job_id, "messageIds": list(row.message_ids)} for key, row in whole.items()
        ]
        ledger.append({"segment": segment.key, "jobId": self.store.row(segment.key).job_id, "messageIds": mine})
        await outputs.save_conversation(
            self.manifest.api.output, segment.conversation, parts, ledger, title=conversation.name
        )
        self.store.move(segment.key, Status.SAVED, message_ids=mine, conversation_id=conversation_id)
        self._event("saved", segment, detail=f"{len(mine)} messages")
        return Saved(parts, last_of_conversation=segment.index == len(siblings) - 1)
