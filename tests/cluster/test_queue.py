"""The shared database's rules, on both of its implementations (SQLite and a real PostgreSQL): migrations once,
one account limit for all servers, appends in order, leases that expire into take-over, results written once."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from batch.emulator.backend import Settings
from batch.emulator.clock import SystemClock
from batch.emulator.cluster import media, queue
from batch.emulator.cluster.account import SharedBackend, open_shared
from batch.emulator.cluster.database import Database, DatabaseError, open_database
from batch.emulator.cluster.schema import SCHEMA_VERSION, migrate
from batch.emulator.corpus import Utterance
from batch.emulator.errors import NotFound, TooManyJobs
from batch.emulator.media import MediaInfo
from batch.emulator.params import AsyncParams

SCRIPT = (Utterance("a", 0.0, 1.0, "Hello there."), Utterance("b", 1.2, 2.0, "Hi, how are you?"))


@pytest.fixture
def backend(db_url: str) -> Iterator[SharedBackend]:
    shared = open_shared(Settings(mode="scripted", concurrency_limit=3), SystemClock(), time.time(), db_url)
    yield shared
    shared.close()


@pytest.fixture
def db(db_url: str, backend: SharedBackend) -> Iterator[Database]:
    opened = open_database(db_url)
    yield opened
    opened.close()


def submit(backend: SharedBackend, n: int, conversation_id: str | None = None) -> dict[str, str]:
    info = MediaInfo("wav", hashlib.sha256(str(n).encode()).hexdigest(), 100, 2.0)
    params = AsyncParams(diarization=True, speaker_count=2)
    return backend.submit(media=info, utterances=SCRIPT, topics=(), params=params, conversation_id=conversation_id)


def claim(db: Database, owner: str, lease: float = 30.0, attempts: int = 3) -> queue.Claimed | None:
    return queue.claim(db, owner, lease_seconds=lease, max_attempts=attempts)


def count(db: Database, sql: str, *args: object) -> int:
    return int(db.run(lambda tx: tx.execute(sql, args))[0][0])


def test_migrations_apply_once_however_many_processes_start_together(db_url: str) -> None:
    found: list[int] = []

    def start() -> None:
        opened = open_database(db_url)
        try:
            found.append(migrate(opened))
        finally:
            opened.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(found) == [0, 1, 1, 1][: len(found)] and len(found) == 4
    opened = open_database(db_url)
    assert count(opened, "SELECT COUNT(*) FROM schema_migrations") == SCHEMA_VERSION
    opened.run(lambda tx: tx.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (SCHEMA_VERSION + 1,)))
    with pytest.raises(DatabaseError, match="newer than this version knows"):
        migrate(opened)
    opened.close()


def test_the_account_limit_holds_across_servers_submitting_at_once(db_url: str, backend: SharedBackend) -> None:
    others = [open_shared(Settings(mode="scripted", concurrency_limit=3), SystemClock(), time.time(), db_url)
              for _ in range(2)]  # fmt: skip
    accepted: list[str] = []
    refused: list[int] = []

    def send(server: SharedBackend, base: int) -> None:
        for n in range(base, base + 10):
            try:
                accepted.append(submit(server, n)["jobId"])
            except TooManyJobs:
                refused.append(n)

    threads = [threading.Thread(target=send, args=(s, 100 * i)) for i, s in enumerate((backend, *others))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for other in others:
        other.close()
    assert len(accepted) == 3 and len(refused) == 27
    assert backend.counters()["account_peak_active"] == 3 and backend.active_jobs() == 3


def test_appends_are_taken_in_order_whichever_worker_asks(db: Database, backend: SharedBackend) -> None:
    first = submit(backend, 1)
    append = submit(backend, 2, first["conversationId"])
    other = submit(backend, 3)
    a = claim(db, "w1")
    b = claim(db, "w2")
    assert a is not None and b is not None
    assert (a.job.id, b.job.id) == (first["jobId"], other["jobId"])  # the append waits for its conversation
    assert claim(db, "w3") is None
    assert queue.finish(db, a, "w1", heard=None, error=None, seed=0)
    c = claim(db, "w3")
    assert c is not None and c.job.id == append["jobId"]
    assert queue.finish(db, c, "w3", heard=None, error=None, seed=0)
    conv = backend.conversation(first["conversationId"])
    first_end = max(m.end for m in conv.messages if m.job_id == first["jobId"])
    assert min(m.start for m in conv.messages if m.job_id == append["jobId"]) >= first_end


def test_a_dead_workers_job_is_taken_over_and_its_results_written_once(db: Database, backend: SharedBackend) -> None:
    job = submit(backend, 1)
    lost = claim(db, "dead", lease=0.3)
    assert lost is not None and lost.attempt == 1
    assert claim(db, "w2") is None  # leased: nobody else may take it
    time.sleep(0.5)
    taken = claim(db, "w2")
    assert taken is not None and taken.job.id == job["jobId"] and taken.attempt == 2
    assert not queue.renew(db, job["jobId"], "dead", lease_seconds=30)
    assert not queue.finish(db, lost, "dead", heard=None, error=None, seed=0)  # too late: refused, nothing written
    assert queue.finish(db, taken, "w2", heard=None, error=None, seed=0)
    assert not queue.finish(db, taken, "w2", heard=None, error=None, seed=0)  # a repeated finish writes nothing
    assert count(db, "SELECT COUNT(*) FROM messages WHERE job_id = %s", job["jobId"]) == len(SCRIPT)
    assert count(db, "SELECT COUNT(*) FROM members WHERE conversation_id = %s", job["conversationId"]) == 2
    assert backend.get_job(job["jobId"])["status"] == "completed"


def test_a_job_that_outlives_its_workers_too_often_fails_with_the_reason(db: Database, backend: SharedBackend) -> None:
    job = submit(backend, 1)
    for _ in range(2):
        assert claim(db, "mortal", lease=0.2, attempts=2) is not None
        time.sleep(0.3)
    assert claim(db, "w", attempts=2) is None
    assert backend.get_job(job["jobId"])["status"] == "failed"
    failure = db.run(lambda tx: tx.execute("SELECT failure FROM jobs WHERE id = %s", (job["jobId"],)))[0][0]
    assert "abandoned by 2 workers" in failure


def test_a_merge_moves_every_reference_and_a_rename_keeps_the_member(db: Database, backend: SharedBackend) -> None:
    first = submit(backend, 1)
    claimed = claim(db, "w")
    assert claimed is not None and queue.finish(db, claimed, "w", heard=None, error=None, seed=0)
    cid = first["conversationId"]
    one, two = list(backend.conversation(cid).members)
    backend.put_member(cid, one, {"id": one, "name": "Ann Lee", "email": "ann@example.com"})
    backend.put_member(cid, two, {"id": two, "name": "Ann L.", "email": "ann@example.com"})
    conv = backend.conversation(cid)
    assert [(m.id, m.name) for m in conv.members.values()] == [(one, "Ann L.")]
    assert {m.member_id for m in conv.messages} == {one}
    with pytest.raises(NotFound):
        backend.put_member(cid, two, {"id": two, "name": "Gone"})


def test_media_round_trip_in_chunks_and_leave_when_no_job_needs_them(tmp_path: Path, db: Database) -> None:
    data = bytes(range(256)) * (media.CHUNK // 256 * 2 + 7)  # two whole chunks and a part
    digest = hashlib.sha256(data).hexdigest()
    media.put(db, digest, data)
    media.put(db, digest, data)  # a second submit of the same bytes stores nothing more
    assert count(db, "SELECT COUNT(*) FROM media_chunks WHERE sha256 = %s", digest) == 3
    assert media.fetch(db, digest, tmp_path / "m") and (tmp_path / "m").read_bytes() == data
    assert queue.sweep_media(db, grace_seconds=3600) == 0  # touched just now: a submit may be about to need it
    assert queue.sweep_media(db, grace_seconds=-1) == 1
    assert not media.fetch(db, digest, tmp_path / "m2")


def test_a_database_url_never_shows_its_password(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError) as caught:
        open_database("postgresql://user:hunter2-secret@127.0.0.1:1/db?connect_timeout=1")
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)
    with pytest.raises(DatabaseError, match="not a database URL"):
        open_database("mysql://user:hunter2-secret@host/db")
