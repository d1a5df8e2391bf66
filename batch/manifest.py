"""Reading a manifest (TOML for people, JSONL for machines) into a validated `Manifest`, or one `InputError`.

Every problem found before submitting is reported, one sentence each: `FILE, line N, FIELD: what is wrong;
what would be valid`. Nothing is sent when any problem exists.

JSONL: one JSON object per line, read as a stream. A line is one of
    {"api": {...}}   {"defaults": {...}}   {"person": {"name": ..., "email": ..., "enrolment": ...}}
    {"conversation": "standup", "name"?: ..., "participants"?: [...], "file" | "url": ..., params...}
A segment line belongs to its `conversation`; its position among that conversation's lines is its order.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from batch import media
from batch.errors import InputError
from batch.locate import toml_line
from batch.models import DEFAULT_BASE_URL, ApiConfig, Conversation, Manifest, Person, Segment
from batch.schema import PARAM_NAMES, ConversationIn, ManifestIn, Params, SegmentIn

Where = tuple[str | int, ...]
CONVERSATION_KEYS = frozenset({"conversation", "name", "participants"})


class Problems:
    """Collects one-sentence problems with their place; raises them together."""

    def __init__(self, path: Path, locate: Any) -> None:
        self.path, self.locate, self.items = path, locate, list[str]()

    def add(self, where: Where, message: str) -> None:
        line = self.locate(where)
        field = ".".join(f"[{p}]" if isinstance(p, int) else p for p in where).replace(".[", "[")
        place = f"{self.path}" + (f", line {line}" if line else "") + (f", {field}" if field else "")
        self.items.append(f"{place}: {message}")

    def raise_any(self) -> None:
        if self.items:
            raise InputError("\n".join(self.items))


def load(path: Path, *, environ: dict[str, str] | None = None) -> Manifest:
    """Parse and check a manifest; raise InputError listing every problem."""
    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        raw, lines = _jsonl(path)
        problems = Problems(path, lambda where: _jsonl_line(lines, where))
    elif path.suffix.lower() == ".toml":
        text = _read(path)
        raw = _toml(path, text)
        problems = Problems(path, lambda where: toml_line(text, where))
    else:
        raise InputError(f"{path}: unknown manifest format; use a .toml or .jsonl file")
    try:
        parsed = ManifestIn.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            problems.add(tuple(error["loc"]), _explain(error))
        problems.raise_any()
        raise AssertionError("unreachable") from exc
    del raw  # validated: a 100,000-row manifest need not hold its raw rows while the final models are built
    manifest = _assemble(path, parsed, problems, environ if environ is not None else dict(os.environ))
    problems.raise_any()
    return manifest


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path}: cannot read the manifest ({exc}); give a readable UTF-8 TOML or JSONL file"
        ) from None


def _toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None


def _jsonl_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """The file's objects with their line numbers, read line by line (never the whole file at once)."""
    try:
        with path.open(encoding="utf-8") as handle:
            yield from _objects(path, handle)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path}: cannot read the manifest ({exc}); give a readable UTF-8 TOML or JSONL file"
        ) from None


def _objects(path: Path, lines: Iterator[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{path}, line {number}: not valid JSON ({exc.msg}); write one JSON object per line"
            ) from None
        if not isinstance(item, dict):
            raise InputError(f"{path}, line {number}: expected a JSON object, got {type(item).__name__}")
        yield number, item


def _jsonl(path: Path) -> tuple[dict[str, Any], dict[Where, int]]:
    raw: dict[str, Any] = {"people": [], "conversations": []}
    lines: dict[Where, int] = {}
    by_id: dict[str, tuple[int, dict[str, Any]]] = {}  # conversation id -> (its position, its raw table)
    for number, item in _jsonl_objects(path):
        if set(item) <= {"api", "defaults"} and item:
            for key in item:
                raw[key], lines[(key,)] = item[key], number
        elif set(item) == {"person"}:
            lines[("people", len(raw["people"]))] = number
            raw["people"].append(item["person"])
        else:
            _jsonl_segment(raw, by_id, lines, number, item)
    return raw, lines


def _jsonl_line(lines: dict[Where, int], where: Where) -> int | None:
    """The line of the longest known prefix of a position (segment, then conversation, then table)."""
    for length in range(len(where), 0, -1):
        if where[:length] in lines:
            return lines[where[:length]]
    return None


def _jsonl_segment(
    raw: dict[str, Any],
    by_id: dict[str, tuple[int, dict[str, Any]]],
    lines: dict[Where, int],
    number: int,
    item: dict[str, Any],
) -> None:
    conv_id = item.get("conversation")
    key = conv_id if isinstance(conv_id, str) else f"<line {number}>"
    if key not in by_id:
        by_id[key] = (len(raw["conversations"]), {"id": conv_id, "segments": []})
        lines[("conversations", len(raw["conversations"]))] = number
        raw["conversations"].append(by_id[key][1])
    index, conv = by_id[key]
    for field in ("name", "participants"):
        if field in item:
            conv[field] = item[field]
    conv["segments"].append({k: v for k, v in item.items() if k not in CONVERSATION_KEYS})
    lines[("conversations", index, "segments", len(conv["segments"]) - 1)] = number
    lines.setdefault(("conversations", index), number)


PATTERNS = {
    "id": "ids use letters, digits, '.', '_' and '-', start with a letter or digit, at most 100 characters",
    "email": "must be an email address such as john@example.com",
    "languageCode": "must be a language code such as en-US",
    "base_url": "must be an http or https URL such as https://api.symbl.ai",
    "webhook_public_url": "must be an http or https URL",
    "webhook_listen": "must be host:port, such as 0.0.0.0:8787",
}


def _explain(error: Any) -> str:
    kind, message, field = error["type"], error["msg"], error["loc"][-1] if error["loc"] else ""
    if kind == "extra_forbidden":
        return "unknown key; check its spelling against the manifest reference in README.md"
    if kind == "missing":
        return "required key is missing"
    if kind == "string_pattern_mismatch" and field in PATTERNS:
        return PATTERNS[str(field)]
    if kind == "too_short" and field == "segments":
        return "needs at least one segment"
    if kind == "too_short" and field == "conversations":
        return "needs at least one conversation"
    return f"{message[0].lower()}{message[1:]}"


def _assemble(path: Path, parsed: ManifestIn, problems: Problems, environ: dict[str, str]) -> Manifest:
    root = path.parent
    api = _api(root, parsed, problems, environ)
    people = tuple(_person(root, i, p, problems) for i, p in enumerate(parsed.people))
    emails = [p.email for p in people]
    roster = set(emails)
    for i, email in enumerate(emails):
        if email in emails[:i]:
            problems.add(("people", i, "email"), f"{email} is listed twice; each person appears once")
    conversations: list[Conversation] = []
    seen: set[str] = set()
    for i, conv in enumerate(parsed.conversations):
        if conv.id in seen:
            problems.add(("conversations", i, "id"), f"duplicate conversation id '{conv.id}'; ids must be unique")
        seen.add(conv.id)
        conversations.append(
            _conversation(root, i, conv, defaults=parsed.defaults, roster=roster, api=api, problems=problems)
        )
    return Manifest(path, api, people, tuple(conversations), parsed.reconcile.model_dump())


def _api(root: Path, parsed: ManifestIn, problems: Problems, environ: dict[str, str]) -> ApiConfig:
    given = parsed.api
    output = Path(os.path.normpath(root / given.output))
    return ApiConfig(
        base_url=(given.base_url or environ.get("SYMBL_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
        app_id=given.app_id or environ.get("SYMBL_APP_ID"),
        app_secret=given.app_secret or environ.get("SYMBL_APP_SECRET"),
        concurrency=given.concurrency,
        output=output,
        state=Path(os.path.normpath(root / given.state)) if given.state else output / "state.sqlite",
        max_upload_bytes=given.max_upload_bytes,
        poll_cap=given.poll_cap,
        job_timeout=given.job_timeout,
        poll_min=given.poll_min,
        lost_answer_grace=given.lost_answer_grace,
        undecided_after=given.undecided_after,
        probe_after=given.probe_after,
        webhook_listen=given.webhook_listen,
        webhook_public_url=given.webhook_public_url,
    )


def _person(root: Path, index: int, person: Any, problems: Problems) -> Person:
    enrolment = root / person.enrolment if person.enrolment else None
    if enrolment is not None and not enrolment.is_file():
        problems.add(
            ("people", index, "enrolment"), f"file not found: {person.enrolment}; give a WAV relative to the manifest"
        )
    return Person(person.name, person.email.strip().lower(), enrolment)


def _conversation(
    root: Path,
    index: int,
    conv: ConversationIn,
    *,
    defaults: Params,
    roster: set[str],
    api: ApiConfig,
    problems: Problems,
) -> Conversation:
    where: Where = ("conversations", index)
    participants = tuple(p.strip().lower() for p in conv.participants)
    for j, email in enumerate(participants):
        if email not in roster:
            problems.add((*where, "participants", j), f"{email} is not in the people roster; add it to [[people]]")
    parts = [s.part for s in conv.segments]
    if any(p is not None for p in parts) and parts != list(range(1, len(parts) + 1)):
        problems.add(
            (*where, "segments"), f"parts {parts} must be 1, 2, ... in order; an append needs its first segment"
        )
    segments: list[Segment] = []
    for j, seg in enumerate(conv.segments):
        segment = _segment(root, (*where, "segments", j), conv, j, seg, defaults=defaults, api=api, problems=problems)
        if segment.key in [s.key for s in segments]:
            problems.add((*where, "segments", j, "id"), f"duplicate segment id in conversation '{conv.id}'")
        segments.append(segment)
    return Conversation(conv.id, conv.name or conv.id, participants, tuple(segments))


def _params(defaults: Params, conv: ConversationIn, seg: SegmentIn) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for level in (defaults, conv, seg):
        merged |= {k: v for k, v in level.model_dump(include=set(PARAM_NAMES)).items() if v is not None}
    return merged


def _segment(
    root: Path,
    where: Where,
    conv: ConversationIn,
    j: int,
    seg: SegmentIn,
    *,
    defaults: Params,
    api: ApiConfig,
    problems: Problems,
) -> Segment:
    params = _params(defaults, conv, seg)
    if params.get("enableSpeakerDiarization") and "diarizationSpeakerCount" not in params:
        problems.add(
            (*where, "diarizationSpeakerCount"),
            "required when enableSpeakerDiarization is true; give the number of speakers (>= 1)",
        )
    if "webhookUrl" in params and urlsplit(params["webhookUrl"]).scheme not in ("http", "https"):
        problems.add((*where, "webhookUrl"), "must be an http or https URL")
    key = f"{conv.id}/{seg.id or j + 1}"
    line = problems.locate(where)
    if (seg.file is None) == (seg.url is None):
        problems.add(where, "give exactly one of file or url")
        return Segment(key, conv.id, j, seg.type or "audio", None, None, params, line)
    if seg.url is not None:
        _check_url(seg.url, (*where, "url"), problems)
        return Segment(key, conv.id, j, seg.type or _url_kind(seg.url), None, seg.url, params, line)
    assert seg.file is not None
    file = root / seg.file
    try:
        facts = media.inspect(file, seg.type, max_bytes=api.max_upload_bytes)
    except ValueError as exc:
        problems.add((*where, "file"), str(exc))
        return Segment(key, conv.id, j, seg.type or "audio", file, None, params, line)
    return Segment(key, conv.id, j, facts.kind, file, None, params, line, facts.size, facts.duration)


def _check_url(url: str, where: Where, problems: Problems) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.add(where, "must be an absolute http or https URL that the API can fetch")
    elif parts.username or parts.password:
        problems.add(where, "must not carry credentials (user:password@); use a pre-signed URL instead")


def _url_kind(url: str) -> str:
    return media.kind_from_name(Path(urlsplit(url).path)) or "audio"
