"""The Symbl API routes: request parsing and rendering around the backend (contract §2).

Each handler parses, calls one backend operation, renders. Authentication, fault injection, error bodies and
the request log are middlewares in `app.py`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from batch.emulator import media, params, uploads, views
from batch.emulator.errors import BadRequest, NotEmulated
from batch.emulator.fetch import fetch_media
from batch.emulator.models import Conversation
from batch.emulator.runtime import EMULATOR, FAULT, Emulator

routes = web.RouteTableDef()
SUBMIT_PREFIX = "/v1/process/"


def _emu(request: web.Request) -> Emulator:
    return request.app[EMULATOR]


def _current(request: web.Request) -> Conversation:
    """The path's conversation with every transition due by now applied (so completed segments show)."""
    backend = _emu(request).backend
    backend.advance()
    return backend.conversation(request.match_info["conversation_id"])


async def _json_body(request: web.Request) -> Any:
    if uploads.content_type(request) != "application/json":
        raise BadRequest("Header 'Content-Type: application/json' is required for this request.")
    try:
        return json.loads(await request.read())
    except ValueError:
        raise BadRequest("The request body is not valid JSON.") from None


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "false")
    if value not in ("true", "false"):
        raise BadRequest(f"Invalid value for query parameter '{name}': expected true or false.")
    return value == "true"


@routes.post("/oauth2/token:generate")
async def generate_token(request: web.Request) -> web.Response:
    return web.json_response(_emu(request).backend.generate_token(await _json_body(request)))


@routes.post("/v1/process/{kind:audio|video}")
@routes.put(r"/v1/process/{kind:audio|video}/{conversation_id:(?!url$)[^/]+}")
async def submit_file(request: web.Request) -> web.Response:
    emu, kind = _emu(request), request.match_info["kind"]
    parsed = params.parse(_query(request), None, url_variant=False)
    declared = uploads.content_type(request)
    data = await uploads.read_body(request, emu.backend.settings.max_upload_bytes)
    info = media.probe(data)
    if kind == "video":
        uploads.check_video(declared, info)
    else:
        uploads.check_audio(declared, info)
    return await _submit(request, emu, data, info, parsed)


@routes.post("/v1/process/{kind:audio|video}/url")
@routes.put("/v1/process/{kind:audio|video}/url/{conversation_id}")
async def submit_url(request: web.Request) -> web.Response:
    emu, kind = _emu(request), request.match_info["kind"]
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object with 'url'.")
    parsed = params.parse(_query(request), body, url_variant=True)
    if request.match_info.get("conversation_id") is not None:
        emu.backend.conversation(request.match_info["conversation_id"])  # 404 before fetching anything
    assert parsed.url is not None
    settings = emu.backend.settings
    data = await fetch_media(
        emu.client(), parsed.url, allowed_hosts=settings.allowed_hosts, max_bytes=settings.max_upload_bytes
    )
    info = media.probe(data)
    if kind == "video":
        uploads.check_video(None, info)
    return await _submit(request, emu, data, info, parsed)


def _query(request: web.Request) -> dict[str, list[str]]:
    return {key: request.query.getall(key) for key in request.query}


async def _submit(
    request: web.Request, emu: Emulator, data: bytes, info: media.MediaInfo, parsed: params.AsyncParams
) -> web.Response:
    backend = emu.backend
    conversation_id, will_fail = request.match_info.get("conversation_id"), request.get(FAULT) == "job_failed"
    if backend.hears_media():  # real mode: every medium is heard, none is looked up
        if not parsed.language.lower().startswith("en"):
            raise BadRequest(
                f"languageCode '{parsed.language}' cannot be recognised here: this server's speech model "
                "(Whisper tiny.en) knows English only; use an English code such as en-US."
            )
        stored = await asyncio.to_thread(backend.keep_media, data, info.sha256)  # never block the loop on disk
        body = backend.submit(
            media=info, utterances=(), topics=(), params=parsed, conversation_id=conversation_id,
            will_fail=will_fail, media_path=stored,
        )  # fmt: skip
        return web.json_response(body, status=201)
    script = emu.corpus.lookup(info.sha256)
    if script is not None:
        info = media.MediaInfo(info.kind, info.sha256, info.size, script.duration)
        utterances, topics = script.utterances, script.topics
    else:
        utterances, topics = (media.fallback_utterances(data, info) if info.kind != "unknown" else ()), ()
    body = backend.submit(
        media=info,
        utterances=utterances,
        topics=topics,
        params=parsed,
        conversation_id=conversation_id,
        will_fail=will_fail,
    )
    return web.json_response(body, status=201)


@routes.get("/v1/job/{job_id}")
async def get_job(request: web.Request) -> web.Response:
    return web.json_response(_emu(request).backend.get_job(request.match_info["job_id"]))


@routes.get("/v1/conversations")
async def list_conversations(request: web.Request) -> web.Response:
    query = request.query
    unknown = set(query) - {"limit", "offset", "order", "filter"}
    if unknown:
        raise BadRequest(f"Unsupported query parameter '{sorted(unknown)[0]}'; use limit, offset, order, filter.")
    limit, offset = _integer(query, "limit", 20, 1, 100), _integer(query, "offset", 0, 0, 10**9)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise BadRequest("Invalid value for 'order': expected asc or desc.")
    convs = _emu(request).backend.list_conversations(
        limit=limit, offset=offset, descending=order == "desc", name=_name_filter(query.get("filter"))
    )
    return web.json_response({"conversations": [views.conversation(c) for c in convs]})


def _integer(query: Any, name: str, default: int, low: int, high: int) -> int:
    text = query.get(name, str(default))
    if not text.isdigit() or not low <= int(text) <= high:
        raise BadRequest(f"Invalid value for '{name}': expected an integer from {low} to {high}.")
    return int(text)


def _name_filter(rsql: str | None) -> str | None:
    """RSQL `name==value` or `name=="quoted value"`, the only filter emulated (§13 #19)."""
    if rsql is None:
        return None
    if not rsql.startswith("name=="):
        raise BadRequest("Unsupported filter: only name==<value> is supported.")
    value = rsql[len("name==") :]
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return value


@routes.get("/v1/conversations/{conversation_id}")
async def get_conversation(request: web.Request) -> web.Response:
    return web.json_response(views.conversation(_current(request)))


@routes.delete("/v1/conversations/{conversation_id}")
async def delete_conversation(request: web.Request) -> web.Response:
    _emu(request).backend.delete_conversation(request.match_info["conversation_id"])
    return web.json_response({"message": "successfully deleted the conversation"})


@routes.get("/v1/conversations/{conversation_id}/messages")
async def get_messages(request: web.Request) -> web.Response:
    conv = _current(request)
    verbose, sentiment = _flag(request, "verbose"), _flag(request, "sentiment")
    return web.json_response(
        {"messages": [views.message(conv, m, verbose=verbose, sentiment=sentiment) for m in conv.messages]}
    )


@routes.get("/v1/conversations/{conversation_id}/members")
async def get_members(request: web.Request) -> web.Response:
    conv = _current(request)
    return web.json_response({"members": [views.member(m) for m in conv.members.values()]})


@routes.put("/v1/conversations/{conversation_id}/members/{member_id}")
async def put_member(request: web.Request) -> web.Response:
    body = await _json_body(request)
    info = request.match_info
    backend = _emu(request).backend
    update = backend.ignore_member_update if request.get(FAULT) == "ignore_member_update" else backend.put_member
    message = update(info["conversation_id"], info["member_id"], body)
    return web.json_response({"message": message})


INSIGHT_ROUTES = {
    "insights": ("insights", None),
    "questions": ("questions", "question"),
    "action-items": ("actionItems", "action_item"),
    "follow-ups": ("followUps", "follow_up"),
}


@routes.get("/v1/conversations/{conversation_id}/{which:insights|questions|action-items|follow-ups}")
async def get_insights(request: web.Request) -> web.Response:
    conv = _current(request)
    key, kind = INSIGHT_ROUTES[request.match_info["which"]]
    return web.json_response({key: [views.insight(conv, i) for i in conv.insights if kind is None or i.type == kind]})


@routes.get("/v1/conversations/{conversation_id}/topics")
async def get_topics(request: web.Request) -> web.Response:
    conv = _current(request)
    sentiment, parent_refs = _flag(request, "sentiment"), _flag(request, "parentRefs")
    return web.json_response({"topics": views.topics(conv, sentiment=sentiment, parent_refs=parent_refs)})


NOT_EMULATED = (
    ("POST", "/v1/process/text"),
    ("PUT", "/v1/process/text/{conversation_id}"),
    ("PUT", "/v1/conversations/{conversation_id}/speakers"),
    ("GET", "/v1/conversations/{conversation_id}/entities"),
    ("GET", "/v1/conversations/{conversation_id}/trackers"),
    ("GET", "/v1/conversations/{conversation_id}/analytics"),
    ("GET", "/v1/conversations/{conversation_id}/summary"),
    ("POST", "/v1/conversations/{conversation_id}/transcript"),
    ("POST", "/oauth2/token:refresh"),
    ("DELETE", "/oauth2/token:revoke"),
)


async def not_emulated(request: web.Request) -> web.Response:
    raise NotEmulated(f"{request.method} {request.path} is part of the Symbl API but is not emulated.")


for _method, _path in NOT_EMULATED:
    routes.route(_method, _path)(not_emulated)
