"""Fault injection (§13 #20): scripted FIFO per route and seeded random rates, one test per kind."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from batch.emulator.faults import FaultPlan, FaultSpecError
from tests.support.server import Api, MakeApi, media
from tests.support.waiting import eventually

WAV = media("solo-memo.wav")
SUBMIT = "POST /v1/process/audio"


async def test_scripted_429_429_then_pass(make_api: MakeApi) -> None:
    """A script "429, 429, pass" answers exactly that, in order, then behaves normally."""
    api = await make_api(faults={"script": {SUBMIT: ["429", "429", "pass"]}})
    statuses = [(await api.upload(WAV)).status for _ in range(4)]
    assert statuses == [429, 429, 201, 201]
    stats = await api.control("stats")
    assert (stats["fault_429"], stats["rejected_429"], stats["jobs_submitted"]) == (2, 0, 2)


async def test_injected_429_can_carry_retry_after(make_api: MakeApi) -> None:
    """With retry_after set, injected 429s carry a Retry-After header (§13 #2)."""
    api = await make_api(faults={"script": {SUBMIT: ["429"]}, "retry_after": 3})
    resp = await api.upload(WAV)
    assert resp.status == 429 and resp.headers["Retry-After"] == "3"


@pytest.mark.parametrize(
    ("kind", "ctype"), [("500", "application/json"), ("502", "text/html"), ("503", "text/html"), ("504", "text/html")]
)
async def test_server_errors(make_api: MakeApi, kind: str, ctype: str) -> None:
    """5xx faults answer their status (gateways with an HTML page) and create nothing."""
    api = await make_api(faults={"script": {"GET /v1/job/*": [kind]}})
    job = (await api.submit(WAV))["jobId"]
    resp = await api.http.get(f"/v1/job/{job}", headers=api.auth)
    assert resp.status == int(kind) and resp.content_type == ctype
    assert (await api.http.get(f"/v1/job/{job}", headers=api.auth)).status == 200


async def test_reset_before_the_server_acts_creates_nothing(make_api: MakeApi) -> None:
    """reset_before drops the connection and the submission never happened."""
    api = await make_api(faults={"script": {SUBMIT: ["reset_before"]}})
    with pytest.raises(aiohttp.ClientError):
        await api.upload(WAV)
    assert (await api.control("stats"))["conversations_created"] == 0


async def test_reset_after_the_server_acted_is_the_lost_answer(make_api: MakeApi) -> None:
    """reset_after drops the connection after the conversation was created: the client never hears of it."""
    api = await make_api(faults={"script": {SUBMIT: ["reset_after"]}})
    with pytest.raises(aiohttp.ClientError):
        await api.upload(WAV, name="lost-answer")
    stats = await api.control("stats")
    assert (stats["conversations_created"], stats["jobs_submitted"]) == (1, 1)
    found = await api.get("/v1/conversations", filter="name==lost-answer")
    assert len(found["conversations"]) == 1


async def test_slow_answer_after_acting(make_api: MakeApi) -> None:
    """slow: the server acts, then waits slow_seconds; a client that gives up has still created the job."""
    api = await make_api(faults={"script": {SUBMIT: ["slow"]}, "slow_seconds": 0.5})
    with pytest.raises(asyncio.TimeoutError):
        await api.http.post(
            "/v1/process/audio", data=WAV.read_bytes(), headers=api.auth, timeout=aiohttp.ClientTimeout(total=0.2)
        )
    await eventually(lambda: api.control("stats"), lambda s: s["jobs_submitted"] == 1, what="the job")


async def test_token_expiry_fault(make_api: MakeApi) -> None:
    """token_expiry: the token dies early (401 with the documented body); a new token works."""
    api = await make_api(faults={"script": {"GET /v1/conversations": ["token_expiry"]}})
    resp = await api.http.get("/v1/conversations", headers=api.auth)
    assert (resp.status, await resp.json()) == (401, {"message": "Token validation failed for provided token."})
    assert (await api.http.get("/v1/conversations", headers=api.auth)).status == 401
    await api.login()
    assert (await api.http.get("/v1/conversations", headers=api.auth)).status == 200


async def test_job_failed_fault(make_api: MakeApi) -> None:
    """job_failed: the submit succeeds and the job later ends `failed`."""
    api = await make_api(faults={"script": {SUBMIT: ["job_failed"]}})
    created = await api.submit(WAV)
    assert await api.finish(created["jobId"]) == "failed"
    assert (await api.control("stats"))["jobs_failed"] == 1


async def _statuses(api: Api, n: int) -> list[int]:
    out = []
    for _ in range(n):
        try:
            out.append((await api.http.get("/v1/conversations", headers=api.auth)).status)
        except aiohttp.ClientError:
            out.append(-1)
    return out


async def test_random_faults_are_seeded_and_reproducible(make_api: MakeApi) -> None:
    """The same seed and rates give the same fault sequence; 429 never hits a non-submit route."""
    spec: dict[str, Any] = {"seed": 11, "rates": {"429": 1.0, "503": 0.3, "500": 0.2}}
    runs = []
    for _ in range(2):
        api = await make_api(faults=spec)
        runs.append(await _statuses(api, 40))
    assert runs[0] == runs[1]
    assert set(runs[0]) <= {200, 500, 503} and {200, 500, 503} <= set(runs[0])


def test_fault_spec_errors_name_the_field() -> None:
    """A malformed specification is refused with a message naming the bad key or kind."""
    cases = [
        ({"rates": {"418": 0.1}}, "unknown kind '418'"),
        ({"rates": {"500": 2}}, "faults.rates.500"),
        ({"script": {"POST": ["429"]}}, "METHOD /path"),
        ({"script": {SUBMIT: ["boom"]}}, "'boom'"),
        ({"colour": 1}, "unknown key 'colour'"),
        ({"slow_seconds": -1}, "slow_seconds"),
    ]
    for spec, needle in cases:
        with pytest.raises(FaultSpecError, match=needle):
            FaultPlan.parse(spec)
    with pytest.raises(FaultSpecError, match="not valid JSON"):
        FaultPlan.from_text("{rates")


async def test_faults_can_be_changed_at_runtime(api: Api) -> None:
    """POST /_emulator/config {faults} replaces the plan; an invalid plan is a 400 naming the field."""
    await api.control("config", {"faults": {"script": {SUBMIT: ["503"]}}})
    assert (await api.upload(WAV)).status == 503
    resp = await api.http.post("/_emulator/config", json={"faults": {"rates": {"x": 1}}})
    assert resp.status == 400 and "unknown kind 'x'" in (await resp.json())["message"]
