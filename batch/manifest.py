"""Reading a manifest (TOML for people, JSONL for machines) into a validated `Manifest`, or one `InputError`.

Every problem found before submitting is reported, one sentence each: `FILE, line N, FIELD: what is wrong;
what would be valid`. Nothing is sent when any problem exists. The file's text is read by `decode.py` (BOM,
depth, number length), media by `media.py`; the places a run writes are checked at its start (`paths.py`).

TOML is validated whole here; JSONL is read row by row by `jsonl.py`; both build their records with
`assemble.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from batch import decode, jsonl
from batch.assemble import Problems, Segments, api_config, conversation, person, roster_problems
from batch.errors import InputError
from batch.locate import toml_line
from batch.models import Conversation, Manifest
from batch.schema import ManifestIn


def load(path: Path, *, environ: dict[str, str] | None = None) -> Manifest:
    """Parse and check a manifest; raise InputError listing every problem."""
    path = Path(path)
    environ = environ if environ is not None else dict(os.environ)
    if path.suffix.lower() == ".jsonl":
        return jsonl.load(path, environ)
    if path.suffix.lower() != ".toml":
        raise InputError(f"{path}: unknown manifest format; use a .toml or .jsonl file")
    text = decode.toml_text(path)
    raw = decode.toml_table(path, text)
    problems = Problems(path, lambda where: toml_line(text, where))
    try:
        parsed = ManifestIn.model_validate(raw)
    except ValidationError as exc:
        problems.add_invalid(exc)
        problems.raise_any()
        raise AssertionError("unreachable") from exc
    del raw
    manifest = _assemble(path, parsed, problems, environ)
    problems.raise_any()
    return manifest


def _assemble(path: Path, parsed: ManifestIn, problems: Problems, environ: dict[str, str]) -> Manifest:
    root = path.parent
    api = api_config(root, parsed.api, problems, environ)
    people = tuple(person(root, i, p, problems) for i, p in enumerate(parsed.people))
    roster = roster_problems(people, problems)
    segments = Segments(root, parsed.defaults, api, problems, by_row=False)
    conversations: list[Conversation] = []
    seen: set[str] = set()
    for i, conv in enumerate(parsed.conversations):
        where = ("conversations", i)
        if conv.id in seen:
            problems.add((*where, "id"), f"duplicate conversation id '{conv.id}'; ids must be unique")
        seen.add(conv.id)
        built = [
            segments.build((*where, "segments", j), conv, j, seg, problems.locate((*where, "segments", j)))
            for j, seg in enumerate(conv.segments)
        ]
        given = (conv.id, conv.name, conv.participants)
        conversations.append(
            conversation(where, given, built, parts=[s.part for s in conv.segments], roster=roster, problems=problems)
        )
    return Manifest(path, api, people, tuple(conversations), parsed.reconcile.model_dump())
