"""A backend that keeps the emulated account in a data directory and comes back from it after a restart.

Write-through: the backend's in-memory records stay the working set; every change is also written to the store
(storage.py), in one transaction, before the operation returns, so before the HTTP answer that reports it. Each
operation that changes something is overridden here, after the remote operation it implements:
- `submit`: the job, its conversation and the id generator's state (so ids never repeat after a restart); a
  medium that a re-run needs (real mode: the speech workers read it) is already on disk by then, because the
  route keeps it (`keep_media`, mediastore.py: content-addressed, atomic, fsync'd) before it submits;
- `advance`: every job transition, whatever drives it (the clock or a speech worker), and what a completed job
  produced (members, messages with words and phrases, insights, topics); a job that has ended releases its medium;
- `put_member` (a merge rewrites the conversation's references), `delete_conversation`, `reset`,
  `generate_token`, `expire_tokens`, and `get_job` when it first reports a job's end.
Counters are written with each of these, so the ones no change follows (a refused submit) are written with the
next. A new way to change a job must return its transitions from `advance` (or be persisted here).

Restart (`open_durable`): the records are loaded; a job that was `scheduled` or `in_progress` is scheduled again
at the restart instant and processed again, from its stored script (scripted mode) or its kept medium (real
mode); an ended job keeps its results, and its medium is released once no unfinished job needs it.
Tokens issued under the same app id stay valid until they expire (the signing key is stored too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from batch.emulator import rows
from batch.emulator.backend import Backend, Settings, Transition
from batch.emulator.clock import Clock
from batch.emulator.media import MediaInfo
from batch.emulator.mediastore import MediaStore
from batch.emulator.models import ACTIVE, Job, JobStatus, Token
from batch.emulator.storage import Row, Storage

ENDED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED})


class DurableBackend(Backend):
    __slots__ = ("storage", "time")

    def __init__(self, settings: Settings, clock: Clock, wall_epoch: float, *, storage: Storage) -> None:
        super().__init__(settings, clock, wall_epoch)
        self.storage = storage
        self.kept = MediaStore(storage.media_dir)
        self.time = rows.Timebase(self.wall, self._clock_at)

    @property
    def media(self) -> MediaStore:
        """The data dir's media store (the base class's `kept`, always set here)."""
        assert self.kept is not None
        return self.kept

    def _clock_at(self, wall: float) -> float:
        return self.clock_origin + (wall - self.wall_epoch)

    def close(self) -> None:
        self.storage.close()

    # --- restart ----------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Load the store; schedule unfinished jobs again, now; write what that changed."""
        saved = self.storage.load()
        self._signing_key = saved.meta.get("signing_key", self._signing_key)
        if "rng" in saved.meta:
            rows.rng_in(saved.meta["rng"], self.rng)
        self.stats.update(orjson.loads(saved.meta.get("stats", b"{}")))
        self.conversations.update(rows.conversations_from(saved))
        for conv in self.conversations.values():
            self.named.setdefault(conv.name, []).append(conv.id)
        requeued = self._restore_jobs(saved.jobs, self.clock.now())
        for value, app_id, expires in saved.tokens:  # a token of another app id, or expired, is dropped
            if app_id == self.settings.app_id and expires > self.wall(self.clock.now()):
                self.tokens[value] = Token(value, self._clock_at(expires))
        with self.storage.transaction():
            self.storage.put("meta", [("signing_key", self._signing_key)])
            self.storage.put("jobs", [rows.job_row(job, self.time) for job in requeued])
            self._put_meta(ids=True)
        self.media.keep_only(job.media.sha256 for job in self.active.values())

    def _restore_jobs(self, saved: list[Row], now: float) -> list[Job]:
        """Every job in submission order; the unfinished ones scheduled again at `now` (returned)."""
        requeued = []
        for row in saved:
            job = rows.job_from(row, self.time)
            if job.status in ACTIVE:
                job.status, job.submitted_at, job.started_at, job.ends_at = JobStatus.SCHEDULED, now, None, None
                self.active[job.id] = job
                requeued.append(job)
            stored = self.media.path(job.media.sha256)
            job.media_path = stored if stored.exists() else None
            self.jobs[job.id] = job
            if job.conversation_id in self.conversations:
                self.conversations[job.conversation_id].job_ids.append(job.id)
        return requeued

    def _put_meta(self, *, ids: bool = False) -> None:
        """The counters, and with `ids` the id generator's state (it moves only when a submit draws ids)."""
        self.storage.put("meta", [("stats", rows.dump(dict(self.stats)))])
        if ids:
            self.storage.put("meta", [("rng", rows.rng_out(self.rng))])

    # --- submissions and jobs -------------------------------------------------------------------------
    def keep_media(self, data: bytes, sha256: str) -> Path | None:
        return self.media.put(sha256, data)

    def submit(self, *args: Any, **kwargs: Any) -> dict[str, str]:
        kept = kwargs.get("media") if kwargs.get("media_path") is not None else None
        try:
            body = super().submit(*args, **kwargs)
        except Exception:
            if isinstance(kept, MediaInfo):  # refused (429, 404): nothing needs the medium it brought
                self.media.settle(kept.sha256)
                self._release([kept.sha256])
            raise
        job = self.jobs[body["jobId"]]
        with self.storage.transaction():
            self.storage.put("conversations", [rows.conversation_row(self.conversations[job.conversation_id])])
            self.storage.put("jobs", [rows.job_row(job, self.time)])
            self._put_meta(ids=True)
        if isinstance(kept, MediaInfo):
            self.media.settle(kept.sha256)  # recorded: the job holds it now
        return body

    def _release(self, digests: list[str]) -> None:
        needed = {job.media.sha256 for job in self.active.values() if job.status in ACTIVE}
        for digest in digests:
            if digest not in needed:
                self.media.release(digest)

    def advance(self) -> list[Transition]:
        moved = super().advance()
        if moved:
            self._record(moved)
        return moved

    def _record(self, moved: list[Transition]) -> None:
        changed = {t.job_id: self.jobs[t.job_id] for t in moved}  # a job may move twice in one advance
        ended = [job for job in changed.values() if job.status in ENDED]
        with self.storage.transaction():
            self.storage.put("jobs", [rows.job_row(job, self.time) for job in changed.values()])
            for job in ended:
                if job.status is JobStatus.COMPLETED:
                    self._put_results(job)
            self._put_meta()
        self._release([job.media.sha256 for job in ended])  # after the commit: a crash leaves a file, removed at start

    def _put_results(self, job: Job) -> None:
        conv = self.conversations.get(job.conversation_id)
        if conv is None:  # deleted while the job ran: it produced nothing
            return
        produced = set(job.message_ids)
        self.storage.put("members", [rows.member_row(conv.id, m) for m in conv.members.values()])
        self.storage.put("messages", [rows.message_row(conv.id, m) for m in conv.messages if m.id in produced])
        self.storage.put(
            "insights",
            [rows.insight_row(conv.id, i) for i in conv.insights if any(m in produced for m in i.message_ids)],
        )
        self.storage.put("topics", [(conv.id, text, topic_id) for text, topic_id in conv.topics.items()])

    def get_job(self, job_id: str) -> dict[str, str]:
        before = self.jobs.get(job_id)
        unreported = before is not None and before.reported_at is None
        answer = super().get_job(job_id)
        job = self.jobs[job_id]
        if unreported and job.reported_at is not None:  # once per job: when its end was first reported
            with self.storage.transaction():
                self.storage.put("jobs", [rows.job_row(job, self.time)])
        return answer

    # --- conversations and members --------------------------------------------------------------------
    def put_member(self, conversation_id: str, member_id: str, body: Any) -> str:
        message = super().put_member(conversation_id, member_id, body)
        conv = self.conversations[conversation_id]
        with self.storage.transaction():
            self.storage.put("members", [rows.member_row(conv.id, m) for m in conv.members.values()])
            if member_id not in conv.members:  # merged away: every reference of the conversation may have moved
                self.storage.keep_only_members(conv.id, list(conv.members))
                refs = self.storage.update_refs
                refs("messages", conv.id, "member_id", [(m.member_id, m.id) for m in conv.messages])
                refs("insights", conv.id, "member_id", [(i.member_id, i.id) for i in conv.insights])
                refs("insights", conv.id, "assignee_id", [(i.assignee_id, i.id) for i in conv.insights])
            self._put_meta()
        return message

    def delete_conversation(self, conversation_id: str) -> None:
        super().delete_conversation(conversation_id)
        with self.storage.transaction():
            self.storage.delete_conversation(conversation_id)

    def reset(self) -> None:
        super().reset()
        with self.storage.transaction():
            self.storage.clear(keep_meta=("signing_key",))
            self._put_meta(ids=True)
        self.media.keep_only(())

    # --- tokens -----------------------------------------------------------------------------------------
    def generate_token(self, body: Any) -> dict[str, Any]:
        known = len(self.tokens)
        answer = super().generate_token(body)
        if len(self.tokens) != known:
            self._put_tokens([self.tokens[answer["accessToken"]]])
        return answer

    def expire_tokens(self) -> None:
        super().expire_tokens()
        self._put_tokens(list(self.tokens.values()))

    def _put_tokens(self, tokens: list[Token]) -> None:
        with self.storage.transaction():
            self.storage.put("tokens", [rows.token_row(t, self.settings.app_id, self.time) for t in tokens])


def open_durable(settings: Settings, clock: Clock, wall_epoch: float, data_dir: Path) -> DurableBackend:
    """A backend on `data_dir`, restored from what an earlier server left there (StorageError if unusable)."""
    storage = Storage.open(data_dir)
    try:
        backend = DurableBackend(settings, clock, wall_epoch, storage=storage)
        backend.restore()
    except BaseException:
        storage.close()
        raise
    return backend
