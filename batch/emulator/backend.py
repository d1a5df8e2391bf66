"""The emulated Symbl account: tokens, jobs, conversations. Methods are named after the remote operations.

No HTTP here: routes parse requests, call these methods, and render what they return (moto's backend split).
Invariants:
- a job moves only along `models.TRANSITIONS`, at the instants the clock says, even when `advance()` runs late;
- jobs of one conversation run one at a time in submission order (§13 #6);
- `scheduled` and `in_progress` jobs count toward the account limit, queued appends included (§13 #1);
- results appear in a conversation only when their job completes (§13 #12).
"""

from __future__ import annotations

import hmac
import random
import secrets
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batch.emulator import members, production
from batch.emulator.clock import Clock
from batch.emulator.corpus import Utterance
from batch.emulator.errors import (
    CONVERSATION_MISSING,
    BadRequest,
    NotFound,
    TooManyJobs,
    Unauthorized,
)
from batch.emulator.media import MediaInfo
from batch.emulator.mediastore import MediaStore
from batch.emulator.models import ACTIVE, Conversation, Job, JobStatus, Member, Token, move
from batch.emulator.params import AsyncParams
from batch.emulator.recognition import Recognition
from batch.emulator.tokens import mint


@dataclass(slots=True)
class Settings:
    app_id: str = "emulator-app-id"
    app_secret: str = "emulator-app-secret"  # noqa: S105 - the documented default of a local emulator
    concurrency_limit: int = 5
    time_scale: float = 0.05
    token_ttl: float = 86_400.0
    max_upload_bytes: int = 1 << 30
    seed: int = 0
    allowed_hosts: tuple[str, ...] = ()
    mode: str = "real"  # real: speech recognition and diarization of every medium; scripted: the corpus truth
    workers: int | None = None  # real mode: speech worker processes (default: the machine's cores)


@dataclass(frozen=True, slots=True)
class Transition:
    job_id: str
    status: JobStatus
    webhook_url: str | None


@dataclass(slots=True)
class Backend:
    settings: Settings
    clock: Clock
    wall_epoch: float  # wall-clock epoch seconds at clock zero point `clock_origin`
    clock_origin: float = 0.0
    conversations: dict[str, Conversation] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    stats: Counter[str] = field(default_factory=Counter)
    outbox: list[Transition] = field(default_factory=list)  # transitions whose webhooks are not sent yet
    active: dict[str, Job] = field(default_factory=dict)  # scheduled or in_progress, in submission order
    named: dict[str, list[str]] = field(default_factory=dict)  # name -> conversation ids, creation order
    rng: random.Random = field(default_factory=random.Random)
    recognition: Recognition | None = None  # real mode: the worker pool; None in scripted mode
    kept: MediaStore | None = None  # real mode: where uploads are kept for the workers (mediastore.py)
    own_media: bool = False  # `kept` is a temporary folder of this backend's (no data dir): emptied as it goes
    _signing_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def __post_init__(self) -> None:
        self.rng.seed(self._seed())
        self.clock_origin = self.clock.now()

    def _seed(self) -> int:
        """Scripted mode draws ids from the seed (reproducible); real mode from the OS, so no two servers agree."""
        return self.settings.seed if self.settings.mode == "scripted" else secrets.randbits(64)

    def wall(self, at: float) -> float:
        return self.wall_epoch + (at - self.clock_origin)

    def reset(self) -> None:
        """Forget every conversation, job, token and counter; keep the settings."""
        self.conversations.clear()
        self.named.clear()
        self.jobs.clear()
        self.active.clear()
        self.tokens.clear()
        self.stats.clear()
        self.outbox.clear()
        self.rng.seed(self._seed())
        if self.recognition is not None:
            self.recognition.close()  # forget running work; the pool restarts on the next job

    # --- auth (§9, §13 #14) -------------------------------------------------------------------------
    def generate_token(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("type") != "application":
            raise BadRequest('Body must be {"type": "application", "appId": ..., "appSecret": ...}.')
        app_id, app_secret = body.get("appId"), body.get("appSecret")
        if not (isinstance(app_id, str) and isinstance(app_secret, str)) or not (
            hmac.compare_digest(app_id, self.settings.app_id)
            and hmac.compare_digest(app_secret, self.settings.app_secret)
        ):
            raise Unauthorized("Invalid appId or appSecret.")
        now, ttl = self.clock.now(), self.settings.token_ttl
        cached = max(self.tokens.values(), key=lambda t: t.expires_at, default=None)
        if cached is None or cached.expires_at - now <= 0.1 * ttl:
            cached = Token(mint(self._signing_key, self.settings.app_id, int(self.wall(now + ttl))), now + ttl)
            self.tokens[cached.value] = cached
        return {"accessToken": cached.value, "expiresIn": int(cached.expires_at - now)}

    def authenticate(self, value: str | None) -> None:
        token = self.tokens.get(value or "")
        if token is None or self.clock.now() >= token.expires_at:
            raise Unauthorized()

    def expire_tokens(self) -> None:
        """Early expiry (a fault): every token issued so far stops working now."""
        now = self.clock.now()
        for token in self.tokens.values():
            token.expires_at = min(token.expires_at, now)

    # --- async submissions (§2-3, §13 #1, #6, #15) ---------------------------------------------------
    def active_jobs(self) -> int:
        return len(self.active)

    def conversation(self, conversation_id: str) -> Conversation:
        conv = self.conversations.get(conversation_id)
        if conv is None:
            raise NotFound(CONVERSATION_MISSING)
        return conv

    def submit(
        self,
        *,
        media: MediaInfo,
        utterances: tuple[Utterance, ...],
        topics: tuple[str, ...],
        params: AsyncParams,
        conversation_id: str | None = None,
        will_fail: bool = False,
        media_path: Path | None = None,
    ) -> dict[str, str]:
        """Create (conversation_id None) or append: returns the 201 body; queues the `scheduled` webhook."""
        try:
            return self._submit(
                media=media, utterances=utterances, topics=topics, params=params,
                conversation_id=conversation_id, will_fail=will_fail, media_path=media_path,
            )  # fmt: skip
        finally:
            if self.own_media and self.kept is not None and media_path is not None:
                self.kept.settle(media.sha256)  # recorded or refused: from now on its jobs decide
                self._forget_media(media.sha256)

    def _submit(
        self,
        *,
        media: MediaInfo,
        utterances: tuple[Utterance, ...],
        topics: tuple[str, ...],
        params: AsyncParams,
        conversation_id: str | None,
        will_fail: bool,
        media_path: Path | None,
    ) -> dict[str, str]:
        self.advance()
        conv = self.conversation(conversation_id) if conversation_id is not None else None
        if self.active_jobs() >= self.settings.concurrency_limit:
            self.stats["rejected_429"] += 1
            raise TooManyJobs(self.settings.concurrency_limit)
        now = self.clock.now()
        if conv is None:
            new_id = production.numeric_id(self.rng)
            conv = Conversation(new_id, params.name or new_id, self.wall(now))
            self.conversations[conv.id] = conv
            self.named.setdefault(conv.name, []).append(conv.id)
            self.stats["conversations_created"] += 1
        else:
            self.stats["appends"] += 1
            if any(self.jobs[j].status in ACTIVE for j in conv.job_ids):
                self.stats["queued_appends"] += 1  # sent before the previous job of its conversation ended
        job = Job(
            production.uuid_id(self.rng),
            conv.id,
            len(self.jobs),
            media,
            utterances,
            topics,
            params,
            will_fail or (media.kind == "unknown" and self.recognition is None),
            now,
        )
        job.media_path = media_path
        self.jobs[job.id] = job
        self.active[job.id] = job
        conv.job_ids.append(job.id)
        self.stats["jobs_submitted"] += 1
        self.stats["peak_concurrent_jobs"] = max(self.stats["peak_concurrent_jobs"], self.active_jobs())
        self.outbox.append(Transition(job.id, JobStatus.SCHEDULED, params.webhook_url))
        return {"conversationId": conv.id, "jobId": job.id}

    def records(self) -> tuple[list[Conversation], dict[str, Job]]:
        """Every conversation and every job (by submission order), for the control plane's views."""
        self.advance()
        return list(self.conversations.values()), self.jobs

    def counters(self) -> dict[str, int]:
        """The control plane's counters: this server's, and the jobs not yet ended."""
        self.advance()
        return dict(self.stats) | {"active_jobs": self.active_jobs()}

    def hears_media(self) -> bool:
        """Real mode: every medium is recognised (none is looked up in the corpus)."""
        return self.recognition is not None

    def keep_media(self, data: bytes, sha256: str) -> Path | None:
        """The upload stored by content (once, atomically; mediastore.py) for a worker process to read. Without
        a data dir the store is a private temporary folder of this backend's."""
        if self.kept is None:
            self.kept, self.own_media = MediaStore(Path(tempfile.mkdtemp(prefix="symbl-media-"))), True
        return self.kept.put(sha256, data)

    # --- jobs (§4) ------------------------------------------------------------------------------------
    def get_job(self, job_id: str) -> dict[str, str]:
        self.advance()
        job = self.jobs.get(job_id)
        if job is None:
            raise NotFound(f"Job with id {job_id} was not found.")
        job.status_requests += 1  # for benchmarks: polls per job and how late the end was noticed
        if job.status not in ACTIVE and job.reported_at is None:
            job.reported_at = self.clock.now()
        return {"id": job.id, "status": job.status.value}

    def _processing_seconds(self, job: Job) -> float:
        return job.media.duration * self.settings.time_scale

    def _previous_job(self, job: Job) -> Job | None:
        conv = self.conversations.get(job.conversation_id)
        ids = conv.job_ids if conv else []
        index = ids.index(job.id) if job.id in ids else 0
        return self.jobs[ids[index - 1]] if index > 0 else None

    def advance(self) -> list[Transition]:
        """Apply every transition due by now, at the instant it was due; return them in order."""
        now, moved = self.clock.now(), []
        progress = True
        while progress:
            progress = False
            for job in list(self.active.values()):
                step = self._step(job, now)
                if step is not None:
                    moved.append(step)
                    progress = True
                if job.status not in ACTIVE:
                    del self.active[job.id]
        self.outbox.extend(moved)
        return moved

    def _step(self, job: Job, now: float) -> Transition | None:
        if self.recognition is not None:
            return self._step_real(job, self.recognition, now)
        return self._step_scripted(job, now)

    def _step_scripted(self, job: Job, now: float) -> Transition | None:
        """Scripted mode: times follow the clock (media duration x time scale), results are the script's."""
        hook = job.params.webhook_url
        if job.status is JobStatus.SCHEDULED:
            previous = self._previous_job(job)
            if previous is not None and previous.status in ACTIVE:
                return None
            prep = min(2.0, 0.02 * self._processing_seconds(job))
            after = previous.ends_at if previous is not None and previous.ends_at is not None else 0.0
            start = max(job.submitted_at + prep, after)
            if now < start:
                return None
            move(job, JobStatus.IN_PROGRESS)
            job.started_at, job.ends_at = start, start + self._processing_seconds(job)
            return Transition(job.id, JobStatus.IN_PROGRESS, hook)
        assert job.ends_at is not None
        assert job.started_at is not None
        if now < job.ends_at:
            return None
        if job.will_fail:
            move(job, JobStatus.FAILED)
            self.stats["jobs_failed"] += 1
            return Transition(job.id, JobStatus.FAILED, hook)
        move(job, JobStatus.COMPLETED)
        self.stats["jobs_completed"] += 1
        conv = self.conversations.get(job.conversation_id)
        if conv is not None:  # a deleted conversation's job still completes, producing nothing
            production.produce(conv, job, start_wall=self.wall(job.started_at), seed=self.settings.seed)
        return Transition(job.id, JobStatus.COMPLETED, hook)

    def _forget_media(self, sha256: str) -> None:
        """Rule: an upload in this backend's own temporary folder is deleted once no job that has not ended needs
        it and no submit is bringing it (a server without a data dir must not fill the disk); a data dir's media
        are the durable backend's to release, after its commit."""
        if self.own_media and self.kept is not None and not any(
            j.media.sha256 == sha256 and j.status in ACTIVE for j in self.active.values()
        ):
            self.kept.release(sha256)

    def _step_real(self, job: Job, recognition: Recognition, now: float) -> Transition | None:
        """Real mode: a job starts when its conversation's previous job is terminal and a worker is free, and
        ends when its worker does (a job's duration is its real processing time)."""
        hook = job.params.webhook_url
        if job.status is JobStatus.SCHEDULED:
            previous = self._previous_job(job)
            if (previous is not None and previous.status in ACTIVE) or recognition.free() <= 0:
                return None
            if not job.will_fail and job.media_path is not None:
                params = job.params
                recognition.start(
                    job.id, job.media_path, diarize=params.diarization, speaker_count=params.speaker_count
                )
            move(job, JobStatus.IN_PROGRESS)
            job.started_at = now
            return Transition(job.id, JobStatus.IN_PROGRESS, hook)
        outcome = recognition.outcome(job.id)
        if outcome is None and recognition.running(job.id):
            return None
        job.ends_at = now
        if outcome is not None:
            error = outcome.error
        else:
            error = "the job failed (an injected fault)" if job.will_fail else "the upload for this job was not kept"
        conv = self.conversations.get(job.conversation_id)
        if error is not None or outcome is None or outcome.transcript is None:
            move(job, JobStatus.FAILED)
            self._forget_media(job.media.sha256)
            job.failure = error
            self.stats["jobs_failed"] += 1
            return Transition(job.id, JobStatus.FAILED, hook)
        move(job, JobStatus.COMPLETED)
        self._forget_media(job.media.sha256)
        self.stats["jobs_completed"] += 1
        if conv is not None:
            assert job.started_at is not None
            production.produce_recognised(conv, job, outcome.transcript, start_wall=self.wall(job.started_at))
        return Transition(job.id, JobStatus.COMPLETED, hook)

    # --- conversations (§2, §6, §13 #10-11, #19) ----------------------------------------------------
    def list_conversations(self, *, limit: int, offset: int, descending: bool, name: str | None) -> list[Conversation]:
        self.advance()
        if name is None:
            convs = list(self.conversations.values())
        else:  # by the name index: a lookup per create stays O(1) on an account with 100,000 conversations
            convs = [self.conversations[i] for i in self.named.get(name, ()) if i in self.conversations]
        if descending:
            convs.reverse()
        return convs[offset : offset + limit]

    def delete_conversation(self, conversation_id: str) -> None:
        self.conversation(conversation_id)
        del self.conversations[conversation_id]

    def _member(self, conversation_id: str, member_id: str) -> tuple[Conversation, Member]:
        self.advance()
        conv = self.conversation(conversation_id)
        member = conv.members.get(member_id)
        if member is None:
            raise NotFound(f"Member with id: {member_id} for conversationId: {conversation_id} was not found.")
        return conv, member

    def ignore_member_update(self, conversation_id: str, member_id: str, body: Any) -> str:
        """The ignore_member_update fault: the checks and the answer of put_member, and no change at all."""
        self._member(conversation_id, member_id)
        members.parse_body(member_id, body)
        return members.updated(conversation_id, member_id)

    def put_member(self, conversation_id: str, member_id: str, body: Any) -> str:
        conv, member = self._member(conversation_id, member_id)
        name, email = members.parse_body(member_id, body)
        self.stats["member_updates"] += 1
        survivor = next(
            (
                m
                for m in conv.members.values()
                if m.id != member_id and m.email is not None and email is not None and m.email.strip() == email
            ),
            None,
        )
        if survivor is not None:
            members.merge(conv, member, survivor, name)
            self.stats["merges"] += 1
        else:
            member.name = name
            if email is not None:
                member.email = email
        return members.updated(conversation_id, member_id)
