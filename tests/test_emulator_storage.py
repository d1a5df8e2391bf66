"""The emulator's data directory: every record survives a restart, ids never repeat, unfinished jobs run again.

Servers are real aiohttp applications on loopback driven by raw HTTP (tests.support.server.Api); a restart is closing
one application and creating another on the same directory, with a fresh manual clock and a later wall clock.
"""

from __future__ import annotations

import random
import sqlite3
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from batch.emulator import rows, storage
from batch.emulator.app import create_app
from batch.emulator.backend import Settings
from batch.emulator.clock import ManualClock
from batch.emulator.corpus import Utterance
from batch.emulator.durable import open_durable
from batch.emulator.errors import TooManyJobs
from batch.emulator.media import MediaInfo, probe
from batch.emulator.models import Insight, Job, JobStatus, Message, Token, Word
from batch.emulator.params import AsyncParams, parse
from batch.emulator.views import iso
from tests.support.server import APP_ID, APP_SECRET, CORPUS, Api, media

DIARIZE = {"enableSpeakerDiarization": "true", "diarizationSpeakerCount": "2", "detectPhrases": "true"}
PART1, PART2 = media("standup-part1.wav"), media("standup-part2.wav")
T0 = 1_700_000_000.0
READS = ("", "/messages?verbose=true&sentiment=true", "/members", "/insights", "/topics")


async def _serve(aiohttp_client: Any, data_dir: Path, *, wall: float, login: bool = True) -> Api:
    settings = Settings(app_id=APP_ID, app_secret=APP_SECRET, time_scale=0.5, mode="scripted")
    clock = ManualClock()
    app = create_app(settings, clock=clock, corpus_dir=CORPUS, wall_epoch=wall, data_dir=data_dir)
    api = Api(await aiohttp_client(app), clock)
    if login:
        await api.login()
    return api


async def _restart(aiohttp_client: Any, api: Api, data_dir: Path, *, wall: float) -> Api:
    token = api.token
    await api.http.close()
    again = await _serve(aiohttp_client, data_dir, wall=wall, login=False)
    again.token = token  # issued before the restart: still valid
    return again


async def _everything(api: Api, cid: str) -> dict[str, Any]:
    return {path: await api.get(f"/v1/conversations/{cid}{path}") for path in READS}


async def test_a_restart_keeps_every_record(aiohttp_client: Any, tmp_path: Path) -> None:
    """Conversations, jobs, members (renamed and merged), messages with words and phrases, insights, topics,
    the listing and the control plane's state read the same after a restart, with the old token."""
    api = await _serve(aiohttp_client, tmp_path, wall=T0)
    first = await api.submit(PART1, **DIARIZE)
    cid = first["conversationId"]
    assert await api.finish(first["jobId"]) == "completed"
    second = await api.submit(PART2, conversation_id=cid, **DIARIZE)
    assert await api.finish(second["jobId"]) == "completed"
    members = (await api.get(f"/v1/conversations/{cid}/members"))["members"]
    renamed = {"id": members[0]["id"], "name": "John Doe", "email": "john@example.com"}
    assert (await api.put_member(cid, members[0]["id"], renamed)).status == 200
    duplicate = {"id": members[2]["id"], "name": "John Doe", "email": "john@example.com"}
    assert (await api.put_member(cid, members[2]["id"], duplicate)).status == 200  # a merge
    other = await api.submit(media("solo-memo.wav"))
    assert await api.finish(other["jobId"]) == "completed"
    await api.http.delete(f"/v1/conversations/{other['conversationId']}", headers=api.auth)
    before = await _everything(api, cid)
    listing, state = await api.get("/v1/conversations"), await api.control("state")
    stats = await api.control("stats")
    said = before["/messages?verbose=true&sentiment=true"]["messages"]
    assert len(before["/members"]["members"]) == 3 and any(m.get("phrases") for m in said) and said[0]["words"]

    api = await _restart(aiohttp_client, api, tmp_path, wall=T0 + 3600)
    assert await _everything(api, cid) == before
    assert await api.get("/v1/conversations") == listing and await api.control("state") == state
    assert await api.job_status(second["jobId"]) == "completed"
    assert await api.job_status(other["jobId"]) == "completed"  # a deleted conversation's job stays
    await api.get(f"/v1/conversations/{other['conversationId']}", status=404)
    after = await api.control("stats")
    assert {k: after[k] for k in ("jobs_submitted", "merges", "conversations_created")} == {
        k: stats[k] for k in ("jobs_submitted", "merges", "conversations_created")
    }


async def test_ids_never_repeat_after_a_restart(aiohttp_client: Any, tmp_path: Path) -> None:
    """Submit, restart, submit again: every conversation, job, member and message id is new (same seed)."""
    ids: list[str] = []
    api = await _serve(aiohttp_client, tmp_path, wall=T0)
    for round_ in range(2):
        created = await api.submit(PART1, **DIARIZE)
        appended = await api.submit(PART2, conversation_id=created["conversationId"], **DIARIZE)
        assert await api.finish(appended["jobId"]) == "completed"
        cid = created["conversationId"]
        ids += [cid, created["jobId"], appended["jobId"]]
        ids += [m["id"] for m in (await api.get(f"/v1/conversations/{cid}/members"))["members"]]
        ids += [m["id"] for m in (await api.get(f"/v1/conversations/{cid}/messages"))["messages"]]
        if round_ == 0:
            api = await _restart(aiohttp_client, api, tmp_path, wall=T0 + 600)
    assert len(ids) == len(set(ids)) > 20


async def test_unfinished_jobs_run_again_after_a_restart(aiohttp_client: Any, tmp_path: Path) -> None:
    """A job in progress and its queued append are scheduled again at the restart and complete, in order, with
    timestamps from the restart on, from their stored scripts."""
    api = await _serve(aiohttp_client, tmp_path, wall=T0)
    first = await api.submit(PART1, **DIARIZE)
    second = await api.submit(PART2, conversation_id=first["conversationId"], **DIARIZE)
    api.clock.advance(2.0)
    assert (await api.job_status(first["jobId"]), await api.job_status(second["jobId"])) == ("in_progress", "scheduled")

    restart = T0 + 7200
    api = await _restart(aiohttp_client, api, tmp_path, wall=restart)
    assert await api.job_status(first["jobId"]) == "scheduled"
    assert await api.job_status(second["jobId"]) == "scheduled"
    assert (await api.control("stats"))["active_jobs"] == 2  # they hold account slots again
    assert await api.finish(second["jobId"]) == "completed"
    assert await api.job_status(first["jobId"]) == "completed"
    cid = first["conversationId"]
    messages = (await api.get(f"/v1/conversations/{cid}/messages"))["messages"]
    jobs = {s["jobId"]: s for s in (await api.control("state"))["conversations"][0]["segments"]}
    assert len(jobs[first["jobId"]]["messageIds"]) + len(jobs[second["jobId"]]["messageIds"]) == len(messages)
    assert min(m["startTime"] for m in messages) >= iso(restart)
    assert list(messages) == sorted(messages, key=lambda m: m["startTime"])

    api = await _restart(aiohttp_client, api, tmp_path, wall=restart + 60)  # finished results stay as they were
    assert (await api.get(f"/v1/conversations/{cid}/messages"))["messages"] == messages


def test_kept_media_wait_for_their_jobs(tmp_path: Path) -> None:
    """A medium kept for a job (real mode's route keeps it before submitting) is private, survives a restart
    while its job is unfinished and goes when the job ends; a refused submit and a crash's temporary leave
    nothing behind."""
    settings = Settings(app_id=APP_ID, app_secret=APP_SECRET, time_scale=0.5, mode="scripted")
    data = PART1.read_bytes()
    info = probe(data)
    backend = open_durable(settings, ManualClock(), T0, tmp_path)
    path = backend.keep_media(data, info.sha256)
    assert path is not None
    assert path.read_bytes() == data and stat.S_IMODE(path.stat().st_mode) == 0o600
    job_id = backend.submit(media=info, utterances=(), topics=(), params=AsyncParams(), media_path=path)["jobId"]
    (tmp_path / "media" / f".{info.sha256}.0000.part").write_bytes(b"half")  # a write a crash interrupted
    backend.close()

    clock = ManualClock()
    backend = open_durable(settings, clock, T0 + 60, tmp_path)
    assert [p.name for p in (tmp_path / "media").iterdir()] == [info.sha256]
    assert backend.jobs[job_id].media_path == path and backend.jobs[job_id].status is JobStatus.SCHEDULED
    clock.advance(3600)
    backend.advance()
    assert backend.jobs[job_id].status is JobStatus.COMPLETED and not path.exists()
    backend.settings.concurrency_limit = 0
    path = backend.keep_media(data, info.sha256)
    assert path is not None
    with pytest.raises(TooManyJobs):
        backend.submit(media=info, utterances=(), topics=(), params=AsyncParams(), media_path=path)
    assert not path.exists()
    backend.close()


async def test_reset_is_kept_and_tokens_end(aiohttp_client: Any, tmp_path: Path) -> None:
    """After a reset and a restart nothing is left; a token stops at its expiry or when the app id changes."""
    api = await _serve(aiohttp_client, tmp_path, wall=T0)
    await api.submit(PART1, **DIARIZE)
    await api.control("reset", {})
    api = await _restart(aiohttp_client, api, tmp_path, wall=T0 + 10)
    await api.get("/v1/conversations", status=401)  # the reset forgot the token too
    await api.login()
    assert (await api.get("/v1/conversations"))["conversations"] == []
    assert (await api.control("stats"))["jobs_submitted"] == 0
    api = await _restart(aiohttp_client, api, tmp_path, wall=T0 + 86_400 + 20)  # past the token's lifetime
    await api.get("/v1/conversations", status=401)
    await api.login()
    token = api.token
    await api.http.close()
    settings = Settings(app_id="another-app", app_secret=APP_SECRET, mode="scripted")
    other = Api(await aiohttp_client(create_app(settings, clock=ManualClock(), data_dir=tmp_path)), ManualClock())
    other.token = token
    await other.get("/v1/conversations", status=401)


async def test_the_directory_is_private_versioned_and_single_server(aiohttp_client: Any, tmp_path: Path) -> None:
    """0700 folder, 0600 files, WAL, schema version set; migration is idempotent; a second server and a store
    from a newer emulator are refused with one sentence."""
    data = tmp_path / "backend"
    api = await _serve(aiohttp_client, data, wall=T0)
    await api.submit(PART1, **DIARIZE)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in data.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    with pytest.raises(storage.StoreLocked, match="another emulator is using this data directory"):
        storage.Storage.open(data)
    await api.http.close()

    db = sqlite3.connect(data / storage.DB_NAME)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == storage.SCHEMA_VERSION
    db.execute("PRAGMA user_version = 0")  # as if a crash had stopped the migration before its commit
    db.commit()
    db.close()
    opened = storage.Storage.open(data)  # the steps run again over existing tables, and nothing is lost
    assert len(opened.load().jobs) == 1
    opened.close()
    db = sqlite3.connect(data / storage.DB_NAME)
    db.execute(f"PRAGMA user_version = {storage.SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(storage.StorageError, match="newer emulator"):
        storage.Storage.open(data)
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / storage.DB_NAME).write_bytes(b"not a database at all" * 100)
    with pytest.raises(storage.StorageError, match="not a usable emulator store"):
        storage.Storage.open(tmp_path / "junk")


def test_rows_round_trip_every_field() -> None:
    """Jobs (parameters, script, timings, failure), messages (words, phrases), insights and tokens read back
    equal; clock times go through wall-clock seconds; the id generator's state continues where it stopped."""
    time = rows.Timebase(lambda at: T0 + at, lambda wall: wall - T0)
    params = parse(
        {"customVocabulary": ['["launch", "budget"]'], "webhookUrl": ["http://127.0.0.1:9/hook"]}
        | {k: [v] for k, v in DIARIZE.items()},
        None,
        url_variant=False,
    )
    job = Job(
        "job-1", "c-1", 3, MediaInfo("wav", "ab" * 32, 1234, 12.5), (Utterance("john", 0.5, 1.5, "Hello?"),),
        ("budget",), params, True, 10.0, status=JobStatus.FAILED, started_at=11.0, ends_at=12.0,
        message_ids=["m1"], status_requests=4, reported_at=13.0, failure="the job failed (fault)",
    )  # fmt: skip
    as_json = replace(params, raw=params.raw | {"customVocabulary": ["launch", "budget"]})
    assert rows.job_from(rows.job_row(job, time), time) == replace(job, params=as_json)  # raw values as JSON has them
    message = Message("m1", "job-1", None, "I will ship it.", T0, T0 + 1, [Word("I", T0, T0 + 0.1, 0.9)],
                      [{"type": "action_phrase", "text": "ship it"}], 0.33)  # fmt: skip
    assert rows.message_from(rows.message_row("c-1", message)) == message
    insight = Insight("i1", "action_item", "I will ship it.", 0.91, ["m1"], "member-1", "member-1")
    assert rows.insight_from(rows.insight_row("c-1", insight)) == insight
    assert rows.token_row(Token("t", 5.0), "app", time) == ("t", "app", T0 + 5.0)
    rng = random.Random(7)
    rng.random()
    restored = random.Random()
    rows.rng_in(rows.rng_out(rng), restored)
    assert restored.random() == rng.random()
