"""From a manifest's parsed tables to its records (`batch.models`), with every problem as one sentence.

Shared by both readers: `manifest.py` (TOML, validated whole) and `jsonl.py` (JSONL, validated row by row). A
problem reads `FILE, line N, FIELD: what is wrong; what would be valid`.

Rules:
- a segment's parameters are its defaults, then its conversation's, then its own (the nearest level wins); equal
  parameter tables are one shared dict (read-only everywhere), so a million rows with the same defaults hold one;
- a segment keeps its file as text (a `Path` is built when asked for): the records of a big manifest stay small.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from batch import decode, media
from batch.decode import Where
from batch.errors import InputError
from batch.models import DEFAULT_BASE_URL, ApiConfig, Conversation, Person, Segment
from batch.schema import (
    PARAM_NAMES,
    TIMING_LIMITS,
    ApiIn,
    ConversationIn,
    Params,
    SegmentIn,
    api_conflicts,
    server_url_problem,
    split_url,
)


class Problems:
    """Collects one-sentence problems with their place; raises them together."""

    def __init__(self, path: Path, locate: Any) -> None:
        self.path, self.locate, self.items = path, locate, list[str]()

    def add(self, where: Where, message: str, *, line: int | None = None) -> None:
        line = line if line is not None else self.locate(where)
        field = decode.field_name(where)
        place = f"{self.path}" + (f", line {line}" if line else "") + (f", {field}" if field else "")
        self.items.append(f"{place}: {message}")

    def add_invalid(self, exc: ValidationError, *, prefix: Where = (), line: int | None = None) -> None:
        """Every error of a failed validation, each placed under `prefix`."""
        for error in exc.errors():
            self.add((*prefix, *error["loc"]), explain(error), line=line)

    def raise_any(self) -> None:
        if self.items:
            raise InputError("\n".join(self.items))


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


def explain(error: Any) -> str:
    """One pydantic error as the end of a sentence a user can act on."""
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


def api_config(root: Path, given: ApiIn, problems: Problems, environ: dict[str, str]) -> ApiConfig:
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


def person(root: Path, index: int, given: Any, problems: Problems) -> Person:
    enrolment = root / given.enrolment if given.enrolment else None
    if enrolment is not None:
        try:
            media.regular_size(enrolment, wanted=ENROLMENT)
        except media.Missing:
            problems.add(
                ("people", index, "enrolment"),
                f"file not found: {given.enrolment}; give {ENROLMENT} relative to the manifest",
            )
        except ValueError as exc:
            problems.add(("people", index, "enrolment"), str(exc))
    return Person(given.name, given.email.strip().lower(), enrolment)


def roster_problems(people: tuple[Person, ...], problems: Problems) -> set[str]:
    """The roster's emails; a person listed twice is a problem."""
    emails = [p.email for p in people]
    for i, email in enumerate(emails):
        if email in emails[:i]:
            problems.add(("people", i, "email"), f"{email} is listed twice; each person appears once")
    return set(emails)


class Segments:
    """Builds a manifest's segments, sharing what rows have in common (their parameter tables)."""

    def __init__(self, root: Path, defaults: Params, api: ApiConfig, problems: Problems, *, by_row: bool) -> None:
        """`by_row`: a problem is placed on its row's line (JSONL); else located by its key (TOML)."""
        self.root, self.api, self.problems, self.by_row = root, api, problems, by_row
        self._defaults = _given(defaults)
        self._tables: dict[bytes, dict[str, Any]] = {}

    def params(self, conv: ConversationIn, seg: SegmentIn) -> dict[str, Any]:
        merged = self._defaults | _given(conv) | _given(seg)
        return self._tables.setdefault(orjson.dumps(merged, option=orjson.OPT_SORT_KEYS), merged)

    def build(self, where: Where, conv: ConversationIn, j: int, seg: SegmentIn, line: int | None) -> Segment:
        problems = self.problems
        params = self.params(conv, seg)
        at = line if self.by_row else None
        if params.get("enableSpeakerDiarization") and "diarizationSpeakerCount" not in params:
            problems.add(
                (*where, "diarizationSpeakerCount"),
                "required when enableSpeakerDiarization is true; give the number of speakers (>= 1)",
                line=at,
            )
        hook = split_url(params["webhookUrl"]) if "webhookUrl" in params else None
        if "webhookUrl" in params and (hook is None or hook.scheme not in ("http", "https") or not hook.hostname):
            problems.add((*where, "webhookUrl"), "must be an http or https URL", line=at)
        key = f"{conv.id}/{seg.id or j + 1}"
        if (seg.file is None) == (seg.url is None):
            problems.add(where, "give exactly one of file or url", line=at)
            return Segment(key, conv.id, j, seg.type or "audio", None, None, params, line)
        if seg.url is not None:
            _check_url(seg.url, (*where, "url"), problems, at)
            return Segment(key, conv.id, j, seg.type or _url_kind(seg.url), None, seg.url, params, line)
        assert seg.file is not None
        file = str(self.root / seg.file)
        try:
            facts = media.inspect(Path(file), seg.type, max_bytes=self.api.max_upload_bytes)
        except ValueError as exc:
            problems.add((*where, "file"), str(exc), line=at)
            return Segment(key, conv.id, j, seg.type or "audio", file, None, params, line)
        return Segment(key, conv.id, j, facts.kind, file, None, params, line, facts.size, facts.duration)


def conversation(
    where: Where,
    given: tuple[str, str | None, list[str]],
    segments: list[Segment],
    *,
    parts: list[int | None],
    roster: set[str],
    problems: Problems,
    line: int | None = None,
) -> Conversation:
    """A conversation (`given`: its id, name and participants) from its built segments, checked as a whole.
    `line`: where a JSONL conversation starts (None: TOML, where each problem is located by its key)."""
    conv_id, name, emails = given
    participants = tuple(p.strip().lower() for p in emails)
    for j, email in enumerate(participants):
        if email not in roster:
            problems.add(
                (*where, "participants", j), f"{email} is not in the people roster; add it to [[people]]", line=line
            )
    if any(p is not None for p in parts) and parts != list(range(1, len(parts) + 1)):
        problems.add(
            (*where, "segments"),
            f"parts {parts} must be 1, 2, ... in order; an append needs its first segment",
            line=line,
        )
    keys: set[str] = set()
    for segment in segments:
        if segment.key in keys:
            problems.add(
                (*where, "segments", segment.index, "id"),
                f"duplicate segment id in conversation '{conv_id}'",
                line=None if line is None else segment.line,  # a row's own line; TOML: located by the key
            )
        keys.add(segment.key)
    return Conversation(conv_id, name or conv_id, participants, tuple(segments))


def _given(level: Params) -> dict[str, Any]:
    return {k: v for k, v in level.model_dump(include=set(PARAM_NAMES)).items() if v is not None}


def _check_url(url: str, where: Where, problems: Problems, line: int | None) -> None:
    parts = split_url(url)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        problems.add(where, "must be an absolute http or https URL that the API can fetch", line=line)
    elif parts.username or parts.password:
        problems.add(where, "must not carry credentials (user:password@); use a pre-signed URL instead", line=line)


def _url_kind(url: str) -> str:
    parts = split_url(url)
    return (media.kind_from_name(Path(parts.path)) if parts else None) or "audio"
