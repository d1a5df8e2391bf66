"""Manifests: every example loads; each kind of bad input is one sentence naming file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch import InputError, jsonl, load_manifest
from tests.support.server import CORPUS, ROOT

EXAMPLES = sorted((ROOT / "manifests").glob("*.toml")) + sorted((ROOT / "manifests").glob("*.jsonl"))
WAV = CORPUS / "media" / "solo-memo.wav"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_manifest_loads(path: Path) -> None:
    """Each file in manifests/ is valid as shipped."""
    manifest = load_manifest(path, environ={})
    assert manifest.conversations and all(c.segments for c in manifest.conversations)


def test_demo_manifest_content() -> None:
    """The demo: 7 conversations, appends in order, defaults and overrides merged, the roster parsed."""
    manifest = load_manifest(ROOT / "manifests" / "demo.toml", environ={"SYMBL_APP_ID": "x", "SYMBL_APP_SECRET": "y"})
    assert [c.id for c in manifest.conversations][:2] == ["standup", "planning"]
    planning = manifest.conversations[1]
    assert [s.params["diarizationSpeakerCount"] for s in planning.segments] == [3, 2, 3]
    assert planning.name == "Quarterly planning" and planning.participants[0] == "raj@example.com"
    assert len(manifest.people) == 6 and manifest.people[0].enrolment is not None
    assert (manifest.api.app_id, manifest.api.app_secret, manifest.api.base_url) == ("x", "y", "https://api.symbl.ai")
    assert list(manifest.segments())[-1].kind == "video"


def test_jsonl_groups_lines_by_conversation_in_order() -> None:
    """JSONL: a conversation's lines, wherever they are, form its segments in line order."""
    manifest = load_manifest(ROOT / "manifests" / "batch.jsonl", environ={})
    standup = manifest.conversations[0]
    assert [s.line for s in standup.segments] == [6, 8]
    assert standup.name == "Standup (JSONL)" and len(standup.participants) == 3


def _toml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(body.replace("WAV", str(WAV)))
    return path


SEGMENT = '[[conversations]]\nid = "c"\n  [[conversations.segments]]\n'
CASES = [
    (
        '[api]\nconcurrency = "five"\n' + SEGMENT + 'file = "WAV"\n',
        "line 2, api.concurrency: input should be a valid integer",
    ),
    (SEGMENT + 'file = "WAV"\ncolour = "red"\n', "line 5, conversations[0].segments[0].colour: unknown key"),
    (SEGMENT + 'file = "missing.wav"\n', "line 4, conversations[0].segments[0].file: file not found"),
    (SEGMENT + 'file = "."\n', "is a directory"),
    (SEGMENT + 'file = "empty.wav"\n', "is empty"),
    (SEGMENT + 'file = "text.wav"\n', "does not look like audio or video"),
    (SEGMENT + 'file = "notes.xyz"\n', "unknown media type of notes.xyz"),
    (SEGMENT + 'file = "WAV"\ntype = "video"\n', "video must be mp4"),
    (SEGMENT + 'url = "ftp://host/a.wav"\n', "url: must be an absolute http or https URL"),
    (SEGMENT + 'url = "https://me:pw@host/a.wav"\n', "must not carry credentials"),
    (SEGMENT + 'file = "WAV"\nurl = "https://host/a.wav"\n', "give exactly one of file or url"),
    (SEGMENT + 'file = "WAV"\nenableSpeakerDiarization = true\n', "diarizationSpeakerCount: required when"),
    (SEGMENT + 'file = "WAV"\ndiarizationSpeakerCount = 0\n', "greater than or equal to 1"),
    (SEGMENT + 'file = "WAV"\ndiarizationSpeakerCount = 5000\n', "less than or equal to 100"),
    (SEGMENT + 'file = "WAV"\n' + SEGMENT + 'file = "WAV"\n', "duplicate conversation id 'c'"),
    (SEGMENT + 'file = "WAV"\npart = 2\n', "an append needs its first segment"),
    ('[[conversations]]\nid = "../up"\n  [[conversations.segments]]\nfile = "WAV"\n', "conversations[0].id: ids use"),
    (SEGMENT + 'file = "WAV"\n[[people]]\nname = "A"\nemail = "not-an-email"\n', "people[0].email"),
    ('participants = ["x@example.com"]\n', "conversations: required key is missing"),
    (
        '[[conversations]]\nid = "c"\nparticipants = ["zed@example.com"]\n  [[conversations.segments]]\nfile = "WAV"\n',
        "zed@example.com is not in the people roster",
    ),
    ("[api\n", "not valid TOML"),
    (SEGMENT + 'file = "WAV"\n[api]\nmax_upload_bytes = 10\n', "above the upload limit of 10 bytes"),
]


@pytest.mark.parametrize(("body", "needle"), CASES, ids=[c[1][:40] for c in CASES])
def test_bad_input_names_file_line_and_field(tmp_path: Path, body: str, needle: str) -> None:
    """Each problem is reported as `FILE, line N, FIELD: what is wrong`, and nothing else escapes."""
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("this is not audio")
    (tmp_path / "notes.xyz").write_bytes(WAV.read_bytes())
    with pytest.raises(InputError) as caught:
        load_manifest(_toml(tmp_path, body), environ={})
    assert needle in str(caught.value)
    assert str(caught.value).startswith(str(tmp_path / "m.toml"))


def test_jsonl_errors_carry_the_line(tmp_path: Path) -> None:
    """JSONL problems name their line: broken JSON, a non-object, a bad field."""
    path = tmp_path / "m.jsonl"
    path.write_text('{"conversation": "a", "file": "' + str(WAV) + '"}\n{"conversation": "a", "url": "ftp://x"}\n')
    with pytest.raises(InputError, match=r"m.jsonl, line 2, conversations\[0\].segments\[1\].url"):
        load_manifest(path, environ={})
    path.write_text('{"conversation": "a",\n')
    with pytest.raises(InputError, match="line 1: not valid JSON"):
        load_manifest(path, environ={})
    path.write_text("[1, 2]\n")
    with pytest.raises(InputError, match="line 1: expected a JSON object"):
        load_manifest(path, environ={})


def _jsonl_rows(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(st.sampled_from("abcd"), min_size=1, max_size=12), st.booleans())
def test_jsonl_read_row_by_row_equals_the_same_manifest_in_toml(tmp_path: Path, order: list[str], spoken: bool) -> None:
    """Row by row, JSONL gives the records TOML gives for the same conversations: each conversation where its first
    line is, its segments in line order, shared defaults merged, the last name given winning."""
    defaults: dict[str, object] = {"languageCode": "en-US"} | (
        {"enableSpeakerDiarization": True, "diarizationSpeakerCount": 2} if spoken else {}
    )
    rows: list[dict[str, object]] = [{"defaults": defaults}]
    for n, conv in enumerate(order):
        row: dict[str, object] = {"conversation": conv, "file": str(WAV), "name": f"{conv} {n}"}
        rows.append(row | ({"mode": "phone"} if n % 3 else {}))
    from_jsonl = load_manifest(_jsonl_rows(tmp_path, rows), environ={})
    firsts = list(dict.fromkeys(order))
    toml = "[defaults]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in defaults.items())
    for conv in firsts:
        lines = [(n, c) for n, c in enumerate(order) if c == conv]
        toml += f'[[conversations]]\nid = "{conv}"\nname = "{conv} {lines[-1][0]}"\n'
        for n, _ in lines:
            toml += f'  [[conversations.segments]]\nfile = "{WAV}"\n' + ('mode = "phone"\n' if n % 3 else "")
    from_toml = load_manifest(_toml(tmp_path, toml), environ={})

    def records(manifest: object) -> list[object]:
        return [
            (c.id, c.name, [(s.key, s.index, s.path, s.params, s.size, s.duration) for s in c.segments])
            for c in manifest.conversations  # type: ignore[attr-defined]
        ]

    assert records(from_jsonl) == records(from_toml)
    assert [c.id for c in from_jsonl.conversations] == firsts
    assert [[s.line for s in c.segments] for c in from_jsonl.conversations] == [
        [n + 2 for n, c in enumerate(order) if c == conv] for conv in firsts
    ]
    params = [s.params for s in from_jsonl.segments()]
    assert len({id(p) for p in params}) == len({json.dumps(p, sort_keys=True) for p in params})  # equal ones shared


def test_jsonl_conversation_problems_are_reported_once_on_their_line(tmp_path: Path) -> None:
    """A conversation's own bad field, repeated on each of its lines, is one problem, on the first line giving it."""
    good: dict[str, object] = {"conversation": "a", "file": str(WAV)}
    rows = [good, good | {"participants": "x"}, good | {"participants": "x"}, good | {"colour": 1}]
    with pytest.raises(InputError) as caught:
        load_manifest(_jsonl_rows(tmp_path, rows), environ={})
    assert str(caught.value).splitlines() == [
        f"{tmp_path / 'm.jsonl'}, line 2, conversations[0].participants: input should be a valid list",
        f"{tmp_path / 'm.jsonl'}, line 4, conversations[0].segments[3].colour: unknown key; check its spelling "
        "against the manifest reference in README.md",
    ]


def test_jsonl_without_rows_says_so_beside_its_header_problems(tmp_path: Path) -> None:
    """No segment line: one sentence says a conversation is needed, with the header's own problems."""
    with pytest.raises(InputError) as caught:
        load_manifest(_jsonl_rows(tmp_path, [{"api": {"concurrency": 0}}]), environ={})
    assert str(caught.value).splitlines() == [
        f"{tmp_path / 'm.jsonl'}, line 1, api.concurrency: input should be greater than or equal to 1",
        f"{tmp_path / 'm.jsonl'}, conversations: needs at least one conversation",
    ]


def test_jsonl_changed_while_being_read_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A manifest still being written (a line appended between the two passes) is refused, naming the file."""
    path = _jsonl_rows(tmp_path, [{"conversation": "a", "file": str(WAV)}])
    read_header = jsonl._header

    def header_then_append(p: Path) -> object:
        found = read_header(p)
        with p.open("a") as handle:
            handle.write(json.dumps({"conversation": "b", "file": str(WAV)}) + "\n")
        return found

    monkeypatch.setattr(jsonl, "_header", header_then_append)
    with pytest.raises(InputError, match=r"m\.jsonl: changed while it was being read; run again once it is complete"):
        load_manifest(path, environ={})


def test_unknown_manifest_format(tmp_path: Path) -> None:
    """Only .toml and .jsonl are manifests."""
    path = tmp_path / "m.yaml"
    path.write_text("x: 1\n")
    with pytest.raises(InputError, match=r"use a \.toml or \.jsonl file"):
        load_manifest(path, environ={})


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.text(max_size=300))
def test_any_toml_text_gives_a_manifest_or_an_input_error(tmp_path: Path, text: str) -> None:
    """Fuzzing the parser: it returns a manifest or raises InputError, never anything else."""
    path = tmp_path / "fuzz.toml"
    path.write_text(text, encoding="utf-8")
    try:
        load_manifest(path, environ={})
    except InputError as exc:
        assert str(exc)
