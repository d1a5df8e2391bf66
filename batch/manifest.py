"""Reading a manifest (TOML for people, JSONL for machines) into a validated `Manifest`, or one `InputError`.

Every problem found before submitting is reported, one sentence each: `FILE, line N, FIELD: what is wrong;
what would be valid`. Nothing is sent when any problem exists. The file's text is read by `decode.py` (BOM,
depth, number length), media by `media.py`; the places a run writes are checked at its start (`paths.py`).

JSONL: one JSON object per line, read as a stream. A line is one of
    {"api": {...}}   {"defaults": {...}}   {"person": {"name": ..., "email": ..., "enrolment": ...}}
    {"conversation": "standup", "name"?: ..., "participants"?: [...], "file" | "url": ..., params...}
A segment line belongs to its `conversation`; its position among that conversation's lines is its order.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from batch import decode, media
from batch.decode import Where
from batch.errors import InputError
from batch.locate import toml_line
from batch.models import DEFAULT_BASE_URL, ApiConfig, Conversation, Manifest, Person, Segment
from batch.schema import (
    PARAM_NAMES,
    TIMING_LIMITS,
    ConversationIn,
    ManifestIn,
    Params,
    SegmentIn,
    api_conflicts,
    server_url_problem,
    split_url,
)

CONVERSATION_KEYS = frozenset({"conversation", "name", "participants"})


class Problems:
    """Collects one-sentence problems with their place; raises them together."""

    def __init__(self, path: Path, locate: Any) -> None:
        self.path, self.locate, self.items = path, locate, list[str]()

    def add(self, where: Where, message: str) -> None:
        line = self.locate(where)
        field = decode.field_name(where)
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
        text = decode.toml_text(path)
        raw = decode.toml_table(path, text)
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


def _jsonl(path: Path) -> tuple[dict[str, Any], dict[Where, int]]:
    raw: dict[str, Any] = {"people": [], "conversations": []}
    lines: dict[Where, int] = {}
    by_id: dict[str, tuple[int, dict[str, Any]]] = {}  # conversation id -> (its position, its raw table)
    for number, item in decode.jsonl_objects(path):
        if set(item) <= {"api", "defaults"} and item:
            for key in item:
                if key in raw:  # a second one would silently replace the first
                    raise InputError(
                        f"{path}, line {number}: a second {key!r} object (the first is on line "
                        f"{lines[(key,)]}); give {key} once"
                    )
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
    **dict.fromkeys(("file", "output", "state", "enrolment"), "must be a path without NUL characters"),
}
FIXED = {  # (pydantic's error type, the field or "" for any field): the sentence to print
    ("extra_forbidden", ""): "unknown key; check its spelling against the manifest reference in README.md",
    ("missing", ""): "required key is missing",
    ("too_short", "segments"): "needs at least one segment",
    ("too_short", "conversations"): "needs at least one conversation",
}
RANGE_KINDS = frozenset({"finite_number", "greater_than", "greater_than_equal", "less_than_equal"})
JSON_KINDS = {str: "a string", int: "a number", float: "a number", bool: "true or false", list: "a list"}


def _explain(error: Any) -> str:
    kind, field = error["type"], str(error["loc"][-1]) if error["loc"] else ""
    fixed = FIXED.get((kind, "")) or FIXED.get((kind, field))
    if kind == "string_pattern_mismatch":
        fixed = PATTERNS.get(field)
    return fixed or _explain_value(kind, field, error)


def _explain_value(kind: str, field: str, error: Any) -> str:
    given = error.get("input")
    if kind == "value_error":  # our own validators' sentences (schema.py)
        return str(error["ctx"]["error"])
    if kind in ("model_type", "dict_type"):  # pydantic would name the model class, which means nothing here
        return f"must be a table (a JSON object in JSONL), not {JSON_KINDS.get(type(given), type(given).__name__)}"
    if kind in RANGE_KINDS and field in TIMING_LIMITS and error["loc"][0] == "api":
        low = "from 0" if field == "lost_answer_grace" else "above 0"
        shown = f"{given:g}" if isinstance(given, float | int) else repr(given)
        return f"must be a finite number of seconds {low} up to {TIMING_LIMITS[field]:g}, not {shown}"
    message = str(error["msg"])
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
    for where, message in api_conflicts(given):
        problems.add(where, message)
    from_environment = environ.get("SYMBL_BASE_URL") if given.base_url is None else None
    if from_environment:
        problem = server_url_problem(from_environment, example=DEFAULT_BASE_URL)
        if problem is not None:
            problems.add((), f"SYMBL_BASE_URL (from the environment) {problem}")
    output = Path(os.path.normpath(root / given.output))
    return ApiConfig(
        base_url=(given.base_url or from_environment or DEFAULT_BASE_URL).rstrip("/"),
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


# Enrolment samples are read by the voice decoder (speech.decode), the same one as conversation media.
ENROLMENT = "a recording of the person's voice (WAV, mp3, mp4, m4a, ogg or flac)"


def _person(root: Path, index: int, person: Any, problems: Problems) -> Person:
    enrolment = root / person.enrolment if person.enrolment else None
    if enrolment is not None:
        try:
            media.regular_size(enrolment, wanted=ENROLMENT)
        except media.Missing:
            problems.add(
                ("people", index, "enrolment"),
                f"file not found: {person.enrolment}; give {ENROLMENT} relative to the manifest",
            )
        except ValueError as exc:
            problems.add(("people", index, "enrolment"), str(exc))
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
    hook = split_url(params["webhookUrl"]) if "webhookUrl" in params else None
    if "webhookUrl" in params and (hook is None or hook.scheme not in ("http", "https") or not hook.hostname):
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
    parts = split_url(url)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        problems.add(where, "must be an absolute http or https URL that the API can fetch")
    elif parts.username or parts.password:
        problems.add(where, "must not carry credentials (user:password@); use a pre-signed URL instead")


def _url_kind(url: str) -> str:
    parts = split_url(url)
    return (media.kind_from_name(Path(parts.path)) if parts else None) or "audio"
