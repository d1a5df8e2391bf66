"""The hostile-input catalogue: each kind of bad input is refused with exactly this one-line message naming the
file, line and field, and nothing is sent (these are all raised before any network object exists)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch import InputError, StateError, Store, load_manifest
from tests.conftest import CORPUS

CASES = [
    (
        "toml_syntax",
        "[api\n",
        "{d}/m.toml: not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 5)",
    ),
    (
        "wrong_type",
        '[api]\nconcurrency = "five"\n[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\n',
        "{d}/m.toml, line 2, api.concurrency: input should be a valid integer",
    ),
    (
        "unknown_top",
        'colour = 1\n[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\n',
        "{d}/m.toml, line 1, colour: unknown key; check its spelling against the manifest reference in README.md",
    ),
    (
        "unknown_segment",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\nspeed = 2\n',
        "{d}/m.toml, line 5, conversations[0].segments[0].speed: unknown key; check its spelling against the manifest reference in README.md",
    ),
    (
        "unknown_api",
        '[api]\nretries = 3\n[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\n',
        "{d}/m.toml, line 2, api.retries: unknown key; check its spelling against the manifest reference in README.md",
    ),
    ("no_conversations", "[api]\nconcurrency = 2\n", "{d}/m.toml, conversations: required key is missing"),
    (
        "no_segments",
        '[[conversations]]\nid = "c"\n',
        "{d}/m.toml, line 1, conversations[0].segments: required key is missing",
    ),
    (
        "empty_segments",
        '[[conversations]]\nid = "c"\nsegments = []\n',
        "{d}/m.toml, line 3, conversations[0].segments: needs at least one segment",
    ),
    (
        "missing_file",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "missing.wav"\n',
        "{d}/m.toml, line 4, conversations[0].segments[0].file: file not found: {d}/missing.wav; give a path relative to the manifest",
    ),
    (
        "directory",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "adir"\n',
        "{d}/m.toml, line 4, conversations[0].segments[0].file: {d}/adir is a directory; give an audio or video file",
    ),
    (
        "zero_bytes",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "empty.wav"\n',
        "{d}/m.toml, line 4, conversations[0].segments[0].file: {d}/empty.wav is empty; give a file with audio or video in it",
    ),
    (
        "not_media",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "text.wav"\n',
        "{d}/m.toml, line 4, conversations[0].segments[0].file: {d}/text.wav does not look like audio or video (unrecognised first bytes)",
    ),
    (
        "unknown_ext",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "notes.xyz"\n',
        '{d}/m.toml, line 4, conversations[0].segments[0].file: unknown media type of notes.xyz; set type = "audio" or "video"',
    ),
    (
        "video_not_mp4",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\ntype = "video"\n',
        '{d}/m.toml, line 4, conversations[0].segments[0].file: {d}/a.wav is wav, but video must be mp4; set type = "audio" or convert it',
    ),
    (
        "ftp_url",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nurl = "ftp://host/a.wav"\n',
        "{d}/m.toml, line 4, conversations[0].segments[0].url: must be an absolute http or https URL that the API can fetch",
    ),
    (
        "url_credentials",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nurl = "https://me:pw@host/a.wav"\n',
        "{d}/m.toml, line 4, conversations[0].segments[0].url: must not carry credentials (user:password@); use a pre-signed URL instead",
    ),
    (
        "relative_url",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nurl = "/media/a.wav"\n',
        "{d}/m.toml, line 4, conversations[0].segments[0].url: must be an absolute http or https URL that the API can fetch",
    ),
    (
        "file_and_url",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\nurl = "https://host/a.wav"\n',
        "{d}/m.toml, line 3, conversations[0].segments[0]: give exactly one of file or url",
    ),
    (
        "neither",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\ntype = "audio"\n',
        "{d}/m.toml, line 3, conversations[0].segments[0]: give exactly one of file or url",
    ),
    (
        "dup_conversation",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\n[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\n',
        "{d}/m.toml, line 6, conversations[1].id: duplicate conversation id 'c'; ids must be unique",
    ),
    (
        "dup_segment",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nid = "x"\nfile = "a.wav"\n  [[conversations.segments]]\n  id = "x"\n  file = "a.wav"\n',
        "{d}/m.toml, line 7, conversations[0].segments[1].id: duplicate segment id in conversation 'c'",
    ),
    (
        "dup_person",
        '[[people]]\nname = "A"\nemail = "a@example.com"\n[[people]]\nname = "B"\nemail = "A@example.com"\n[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\n',
        "{d}/m.toml, line 6, people[1].email: a@example.com is listed twice; each person appears once",
    ),
    (
        "count_zero",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\ndiarizationSpeakerCount = 0\n',
        "{d}/m.toml, line 5, conversations[0].segments[0].diarizationSpeakerCount: input should be greater than or equal to 1",
    ),
    (
        "count_negative",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\ndiarizationSpeakerCount = -2\n',
        "{d}/m.toml, line 5, conversations[0].segments[0].diarizationSpeakerCount: input should be greater than or equal to 1",
    ),
    (
        "count_absurd",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\ndiarizationSpeakerCount = 5000\n',
        "{d}/m.toml, line 5, conversations[0].segments[0].diarizationSpeakerCount: input should be less than or equal to 100",
    ),
    (
        "diarize_no_count",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\nenableSpeakerDiarization = true\n',
        "{d}/m.toml, line 3, conversations[0].segments[0].diarizationSpeakerCount: required when enableSpeakerDiarization is true; give the number of speakers (>= 1)",
    ),
    (
        "append_no_first",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\npart = 2\n',
        "{d}/m.toml, line 3, conversations[0].segments: parts [2] must be 1, 2, ... in order; an append needs its first segment",
    ),
    (
        "too_large",
        '[api]\nmax_upload_bytes = 1000\n[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\n',
        "{d}/m.toml, line 6, conversations[0].segments[0].file: {d}/a.wav is 507486 bytes, above the upload limit of 1000 bytes (api.max_upload_bytes)",
    ),
    (
        "id_dotdot",
        '[[conversations]]\nid = "../up"\n  [[conversations.segments]]\n  file = "a.wav"\n',
        "{d}/m.toml, line 2, conversations[0].id: ids use letters, digits, '.', '_' and '-', start with a letter or digit, at most 100 characters",
    ),
    (
        "id_absolute",
        '[[conversations]]\nid = "/etc/passwd"\n  [[conversations.segments]]\n  file = "a.wav"\n',
        "{d}/m.toml, line 2, conversations[0].id: ids use letters, digits, '.', '_' and '-', start with a letter or digit, at most 100 characters",
    ),
    (
        "id_unicode",
        '[[conversations]]\nid = "café\u202e"\n  [[conversations.segments]]\n  file = "a.wav"\n',
        "{d}/m.toml, line 2, conversations[0].id: ids use letters, digits, '.', '_' and '-', start with a letter or digit, at most 100 characters",
    ),
    (
        "participant_unknown",
        '[[conversations]]\nid = "c"\nparticipants = ["zed@example.com"]\n  [[conversations.segments]]\n  file = "a.wav"\n',
        "{d}/m.toml, line 3, conversations[0].participants[0]: zed@example.com is not in the people roster; add it to [[people]]",
    ),
    (
        "bad_email",
        '[[people]]\nname = "A"\nemail = "not-an-email"\n[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\n',
        "{d}/m.toml, line 3, people[0].email: must be an email address such as john@example.com",
    ),
    (
        "enrolment_missing",
        '[[people]]\nname = "A"\nemail = "a@example.com"\nenrolment = "nope.wav"\n[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\n',
        "{d}/m.toml, line 4, people[0].enrolment: file not found: nope.wav; give a WAV relative to the manifest",
    ),
    (
        "webhook_scheme",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\nwebhookUrl = "ftp://hooks"\n',
        "{d}/m.toml, line 5, conversations[0].segments[0].webhookUrl: must be an http or https URL",
    ),
    (
        "language",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\nlanguageCode = "english"\n',
        "{d}/m.toml, line 5, conversations[0].segments[0].languageCode: must be a language code such as en-US",
    ),
    (
        "threshold",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\nconfidenceThreshold = 1.5\n',
        "{d}/m.toml, line 5, conversations[0].segments[0].confidenceThreshold: input should be less than or equal to 1",
    ),
    (
        "mode",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\nmode = "fast"\n',
        "{d}/m.toml, line 5, conversations[0].segments[0].mode: input should be 'phone' or 'default'",
    ),
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(CORPUS / "media" / "solo-memo.wav", tmp_path / "a.wav")
    shutil.copy(CORPUS / "media" / "solo-memo.wav", tmp_path / "notes.xyz")
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio\n")
    (tmp_path / "adir").mkdir()
    return tmp_path


@pytest.mark.parametrize(("name", "body", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_manifest_gets_exactly_this_message(folder: Path, name: str, body: str, message: str) -> None:
    """The whole message is checked: file, line, field, what is wrong and what would be valid."""
    path = folder / "m.toml"
    path.write_text(body)
    with pytest.raises(InputError) as caught:
        load_manifest(path, environ={})
    assert str(caught.value) == message.format(d=folder)


JSONL_CASES = [
    (
        "broken_json",
        '{"conversation": "a",\n',
        "{d}/m.jsonl, line 1: not valid JSON (Expecting property name enclosed in double quotes); "
        "write one JSON object per line",
    ),
    ("not_object", "[1, 2]\n", "{d}/m.jsonl, line 1: expected a JSON object, got list"),
    (
        "bad_url_line_2",
        '{"conversation": "a", "file": "a.wav"}\n{"conversation": "a", "url": "ftp://x"}\n',
        "{d}/m.jsonl, line 2, conversations[0].segments[1].url: must be an absolute http or https URL that the "
        "API can fetch",
    ),
    (
        "no_conversation",
        '{"file": "a.wav"}\n',
        "{d}/m.jsonl, line 1, conversations[0].id: input should be a valid string",
    ),
]


@pytest.mark.parametrize(("name", "body", "message"), JSONL_CASES, ids=[c[0] for c in JSONL_CASES])
def test_bad_jsonl_gets_exactly_this_message(folder: Path, name: str, body: str, message: str) -> None:
    """JSONL problems carry the line of the offending object."""
    path = folder / "m.jsonl"
    path.write_text(body)
    with pytest.raises(InputError) as caught:
        load_manifest(path, environ={})
    assert str(caught.value) == message.format(d=folder)


def test_other_formats_and_unreadable_text(folder: Path) -> None:
    """A .yaml is not a manifest; bytes that are not UTF-8 are refused with the reason."""
    (folder / "m.yaml").write_text("x: 1\n")
    with pytest.raises(InputError) as caught:
        load_manifest(folder / "m.yaml", environ={})
    assert str(caught.value) == f"{folder}/m.yaml: unknown manifest format; use a .toml or .jsonl file"
    (folder / "m.toml").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(InputError, match=r"m\.toml: cannot read the manifest \('utf-8' codec can't decode"):
        load_manifest(folder / "m.toml", environ={})


def test_state_from_a_newer_version_or_corrupt(folder: Path) -> None:
    """A state file written by a newer version, or not a database at all, is refused with what to do."""
    state = folder / "state.sqlite"
    with Store(state) as store:
        store.db.execute("UPDATE meta SET value='7' WHERE key='schema_version'")
    with pytest.raises(StateError) as caught, Store(state):
        pass
    assert str(caught.value) == (
        f"{state}: written by a newer symbl-batch (schema 7, this one reads 1); "
        "upgrade symbl-batch or use another --state"
    )
    broken = folder / "broken.sqlite"
    broken.write_bytes(b"garbage" * 1000)
    with pytest.raises(StateError) as caught, Store(broken):
        pass
    assert str(caught.value) == (
        f"{broken}: not a usable state file (file is not a database); move it away to start afresh"
    )


FIELDS = st.sampled_from(
    [
        "id",
        "file",
        "url",
        "type",
        "part",
        "diarizationSpeakerCount",
        "name",
        "mode",
        "enableSpeakerDiarization",
        "participants",
        "segments",
        "customVocabulary",
    ]
)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5000),
    st.text(max_size=20),
    st.lists(st.text(max_size=5), max_size=3),
    st.just("a.wav"),
    st.just("https://h/a.wav"),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.dictionaries(FIELDS, VALUES, max_size=6), max_size=5))
def test_fuzzed_jsonl_gives_a_manifest_or_an_input_error(folder: Path, lines: list[dict[str, object]]) -> None:
    """Structured fuzzing: any JSONL of plausible keys and odd values validates or raises InputError only."""
    path = folder / "fuzz.jsonl"
    path.write_text("".join(json.dumps({"conversation": "c", **line}) + "\n" for line in lines))
    try:
        manifest = load_manifest(path, environ={})
    except InputError as exc:
        assert str(exc).startswith(str(path))
    else:
        assert all(s.file is not None or s.url is not None for s in manifest.segments())
