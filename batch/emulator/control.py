"""The control plane under /_emulator/ (not part of the Symbl contract; the client never needs it).

GET health (200 serving, 503 draining: a load balancer's health check) · POST reset · GET/POST config ·
GET stats · GET requests · GET jobs · GET state · POST clock {"advance": s} (manual clock).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from batch.emulator import views
from batch.emulator.backend import Settings
from batch.emulator.errors import BadRequest
from batch.emulator.faults import FaultPlan, FaultSpecError
from batch.emulator.models import Conversation, Job
from batch.emulator.requestlog import redacted_url
from batch.emulator.runtime import EMULATOR

control = web.RouteTableDef()
STAT_KEYS = (
    "peak_concurrent_jobs",
    "conversations_created",
    "jobs_submitted",
    "appends",
    "rejected_429",
    "member_updates",
    "merges",
    "jobs_completed",
    "jobs_failed",
    "queued_appends",
)
CONFIG_KEYS = {"concurrency_limit": int, "time_scale": float, "token_ttl": float, "max_upload_bytes": int}


def _config(settings: Settings, faults: FaultPlan) -> dict[str, Any]:
    return {
        "concurrency_limit": settings.concurrency_limit,
        "time_scale": settings.time_scale,
        "token_ttl": settings.token_ttl,
        "max_upload_bytes": settings.max_upload_bytes,
        "allowed_hosts": list(settings.allowed_hosts),
        "seed": settings.seed,
        "faults": faults.describe(),
    }


async def _object(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


@control.get("/_emulator/health")
async def health(request: web.Request) -> web.Response:
    """200 while the server takes requests; 503 once it is stopping (draining), so a balancer sends no more."""
    if request.app[EMULATOR].draining:
        return web.json_response({"status": "draining"}, status=503)
    return web.json_response({"status": "serving"})


@control.post("/_emulator/reset")
async def reset(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    emu.backend.reset()
    emu.requests.clear()
    return web.json_response({"message": "reset"})


@control.get("/_emulator/config")
async def get_config(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    return web.json_response(_config(emu.backend.settings, emu.faults))


@control.post("/_emulator/config")
async def set_config(request: web.Request) -> web.Response:
    emu, body = request.app[EMULATOR], await _object(request)
    settings = emu.backend.settings
    unknown = set(body) - set(CONFIG_KEYS) - {"faults", "allowed_hosts"}
    if unknown:
        raise BadRequest(f"Unknown config key '{sorted(unknown)[0]}'.")
    for key, kind in CONFIG_KEYS.items():
        if key in body:
            value = body[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise BadRequest(f"Config '{key}' must be a non-negative number.")
            setattr(settings, key, kind(value))
    if "allowed_hosts" in body:
        settings.allowed_hosts = tuple(str(h).lower() for h in body["allowed_hosts"])
    if "faults" in body:
        try:
            emu.faults = FaultPlan.parse(body["faults"] or {})
        except FaultSpecError as exc:
            raise BadRequest(str(exc)) from None
    return web.json_response(_config(settings, emu.faults))


@control.get("/_emulator/stats")
async def stats(request: web.Request) -> web.Response:
    counters = request.app[EMULATOR].backend.counters()
    return web.json_response({key: counters.get(key, 0) for key in STAT_KEYS} | counters)


@control.get("/_emulator/requests")
async def requests(request: web.Request) -> web.Response:
    return web.json_response({"requests": list(request.app[EMULATOR].requests)})


@control.get("/_emulator/jobs")
async def jobs(request: web.Request) -> web.Response:
    """Every job's timeline in clock seconds (submitted, started, ended, first reported ended) and its polls."""
    _, every = request.app[EMULATOR].backend.records()
    return web.json_response(
        {
            "jobs": [
                {
                    "id": j.id,
                    "conversationId": j.conversation_id,
                    "status": j.status.value,
                    "submittedAt": j.submitted_at,
                    "startedAt": j.started_at,
                    "endsAt": j.ends_at,
                    "reportedAt": j.reported_at,
                    "statusRequests": j.status_requests,
                    "failure": j.failure,
                }
                for j in every.values()
            ]
        }
    )


@control.get("/_emulator/state")
async def state(request: web.Request) -> web.Response:
    convs, every = request.app[EMULATOR].backend.records()
    return web.json_response(
        {
            "conversations": [_conversation_state(conv, every) for conv in convs],
            "jobs": [
                {"id": j.id, "conversationId": j.conversation_id, "status": j.status.value} for j in every.values()
            ],
        }
    )


def _conversation_state(conv: Conversation, every: dict[str, Job]) -> dict[str, Any]:
    segments = []
    for job_id in conv.job_ids:
        job = every[job_id]
        segments.append(
            {
                "jobId": job.id,
                "status": job.status.value,
                "mediaSha256": job.media.sha256,
                "mediaKind": job.media.kind,
                "duration": job.media.duration,
                "params": _shown(job.params.raw) | ({"url": job.params.url} if job.params.url else {}),
                "messageIds": list(job.message_ids),
            }
        )
    return {
        "id": conv.id,
        "name": conv.name,
        "segments": segments,
        "members": [views.member(m) for m in conv.members.values()],
        "messages": [views.message(conv, m, verbose=False, sentiment=False) for m in conv.messages],
    }


@control.post("/_emulator/clock")
async def clock(request: web.Request) -> web.Response:
    emu, body = request.app[EMULATOR], await _object(request)
    if emu.manual_clock is None:
        raise BadRequest("The emulator runs on the system clock; start it with a manual clock to advance time.")
    seconds = body.get("advance")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise BadRequest("Field 'advance' must be a non-negative number of seconds.")
    emu.manual_clock.advance(float(seconds))
    emu.backend.advance()
    emu.flush_transitions()
    return web.json_response({"now": emu.manual_clock.now()})


def _shown(params: dict[str, Any]) -> dict[str, Any]:
    """A job's parameters for the control plane: a `webhookUrl` without its secret path (as in the request log)."""
    url = params.get("webhookUrl")
    return params | {"webhookUrl": redacted_url(url)} if isinstance(url, str) else params
