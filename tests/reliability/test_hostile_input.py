"""The hostile-input catalogue: each kind of bad input is refused with exactly this one-line message naming the
file, line and field, and nothing is sent (these are all raised before any network object exists)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch import InputError, StateError, Store, load_manifest
from batch.planner import estimated_seconds
from tests.support.server import CORPUS

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
        "{d}/m.toml, line 4, people[0].enrolment: file not found: nope.wav; give a recording of the person's voice (WAV, mp3, mp4, m4a, ogg or flac) relative to the manifest",
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
SEG = '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\n'  # a valid conversation
LONG = "a" * 300  # one name over the 255-byte limit of a file name
PATH_RULE = "is too long (at most 255 bytes per name, 4095 in all); shorten it"
TIMING = "must be a finite number of seconds"
# Kinds found by probing: each gave a traceback, hung the run later, or was accepted and failed minutes on.
CASES += [
    (
        "toml_5000_digit_integer",
        "[api]\nconcurrency = " + "9" * 5000 + "\n" + SEG,
        "{d}/m.toml, line 2: a number of more than 4300 digits cannot be read; give a number within the setting's range",
    ),
    (
        "toml_nested_1000_deep",
        "x = " + "[" * 1000 + "]" * 1000 + "\n" + SEG,
        "{d}/m.toml: nested more than 32 levels deep; a manifest needs only a few levels",
    ),
    (
        "toml_nested_40_deep_in_a_parameter",
        SEG + "entities = [" + "{a=" * 40 + "1" + "}" * 40 + "]\n",
        "{d}/m.toml, line 5, conversations[0].segments[0].entities: nested more than 32 levels deep; a manifest needs only a few levels",
    ),
    (
        "poll_min_inf",
        "[api]\npoll_min = inf\n" + SEG,
        f"{{d}}/m.toml, line 2, api.poll_min: {TIMING} above 0 up to 3600, not inf",
    ),
    (
        "poll_cap_nan",
        "[api]\npoll_cap = nan\n" + SEG,
        f"{{d}}/m.toml, line 2, api.poll_cap: {TIMING} above 0 up to 3600, not nan",
    ),
    (
        "job_timeout_negative",
        "[api]\njob_timeout = -5\n" + SEG,
        f"{{d}}/m.toml, line 2, api.job_timeout: {TIMING} above 0 up to 604800, not -5",
    ),
    (
        "lost_answer_grace_inf",
        "[api]\nlost_answer_grace = inf\n" + SEG,
        f"{{d}}/m.toml, line 2, api.lost_answer_grace: {TIMING} from 0 up to 3600, not inf",
    ),
    (
        "undecided_after_zero",
        "[api]\nundecided_after = 0\n" + SEG,
        f"{{d}}/m.toml, line 2, api.undecided_after: {TIMING} above 0 up to 86400, not 0",
    ),
    (
        "probe_after_1e300",
        "[api]\nprobe_after = 1e300\n" + SEG,
        f"{{d}}/m.toml, line 2, api.probe_after: {TIMING} above 0 up to 3600, not 1e+300",
    ),
    (
        "poll_min_above_poll_cap",
        "[api]\npoll_min = 10\npoll_cap = 5\n" + SEG,
        "{d}/m.toml, line 2, api.poll_min: must be at most poll_cap (5), not 10",
    ),
    (
        "poll_cap_above_job_timeout",
        "[api]\npoll_cap = 60\njob_timeout = 30\n" + SEG,
        "{d}/m.toml, line 2, api.poll_cap: must be at most job_timeout (30), not 60",
    ),
    (
        "base_url_unclosed_ipv6",
        '[api]\nbase_url = "http://[::1"\n' + SEG,
        "{d}/m.toml, line 2, api.base_url: must be a valid http or https URL such as https://api.symbl.ai, not 'http://[::1'",
    ),
    (
        "base_url_no_scheme",
        '[api]\nbase_url = "api.symbl.ai"\n' + SEG,
        "{d}/m.toml, line 2, api.base_url: must be an http or https URL such as https://api.symbl.ai",
    ),
    (
        "base_url_ftp",
        '[api]\nbase_url = "ftp://api.symbl.ai"\n' + SEG,
        "{d}/m.toml, line 2, api.base_url: must be an http or https URL such as https://api.symbl.ai",
    ),
    (
        "base_url_credentials",
        '[api]\nbase_url = "https://me:pw@api.symbl.ai"\n' + SEG,
        "{d}/m.toml, line 2, api.base_url: must not carry credentials (user:password@), which would be logged and sent with every request",
    ),
    (
        "base_url_path_with_query",
        '[api]\nbase_url = "https://api.symbl.ai/v1?x=1"\n' + SEG,
        "{d}/m.toml, line 2, api.base_url: must not have a query (?...) or fragment (#...), as paths are appended to it; give one like https://api.symbl.ai",
    ),
    (
        "base_url_port_0",
        '[api]\nbase_url = "http://localhost:0"\n' + SEG,
        "{d}/m.toml, line 2, api.base_url: must name a port from 1 to 65535 (or none, for the scheme's default), not 0",
    ),
    (
        "base_url_port_99999",
        '[api]\nbase_url = "http://localhost:99999"\n' + SEG,
        "{d}/m.toml, line 2, api.base_url: must be a valid http or https URL such as https://api.symbl.ai, not 'http://localhost:99999'",
    ),
    (
        "webhook_listen_port_99999",
        '[api]\nwebhook_listen = "0.0.0.0:99999"\n' + SEG,
        "{d}/m.toml, line 2, api.webhook_listen: port 99999 is out of range; give host:port with a port from 1 to 65535",
    ),
    (
        "webhook_listen_port_not_a_number",
        '[api]\nwebhook_listen = "0.0.0.0:http"\n' + SEG,
        "{d}/m.toml, line 2, api.webhook_listen: must be host:port, such as 0.0.0.0:8787",
    ),
    (
        "webhook_listen_no_port",
        '[api]\nwebhook_listen = "0.0.0.0"\n' + SEG,
        "{d}/m.toml, line 2, api.webhook_listen: must be host:port, such as 0.0.0.0:8787",
    ),
    (
        "webhook_listen_port_0_with_public_url",
        '[api]\nwebhook_listen = "0.0.0.0:0"\nwebhook_public_url = "https://hooks.example.com"\n' + SEG,
        "{d}/m.toml, line 2, api.webhook_listen: port 0 listens on a random free port, which webhook_public_url cannot name; give a fixed port",
    ),
    (
        "webhook_public_url_credentials",
        '[api]\nwebhook_public_url = "https://me:pw@hooks.example.com"\n' + SEG,
        "{d}/m.toml, line 2, api.webhook_public_url: must not carry credentials (user:password@), which would be logged and sent with every request",
    ),
    (
        "webhook_public_url_fragment",
        '[api]\nwebhook_public_url = "https://hooks.example.com/#x"\n' + SEG,
        "{d}/m.toml, line 2, api.webhook_public_url: must not have a query (?...) or fragment (#...), as paths are appended to it; give one like https://hooks.example.com",
    ),
    (
        "media_name_over_255_bytes",
        f'[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "{LONG}.wav"\n',
        f"{{d}}/m.toml, line 4, conversations[0].segments[0].file: the path {{d}}/{LONG}.wav {PATH_RULE}",
    ),
    (
        "enrolment_name_over_255_bytes",
        f'[[people]]\nname = "A"\nemail = "a@example.com"\nenrolment = "{LONG}.wav"\n' + SEG,
        f"{{d}}/m.toml, line 4, people[0].enrolment: the path {{d}}/{LONG}.wav {PATH_RULE}",
    ),
    (
        "enrolment_directory",
        '[[people]]\nname = "A"\nemail = "a@example.com"\nenrolment = "adir"\n' + SEG,
        "{d}/m.toml, line 4, people[0].enrolment: {d}/adir is a directory; give a recording of the person's voice (WAV, mp3, mp4, m4a, ogg or flac)",
    ),
    (
        "media_character_device",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "/dev/null"\n',
        "{d}/m.toml, line 4, conversations[0].segments[0].file: /dev/null is not a regular file (a character device); give an audio or video file",
    ),
    (
        "file_with_nul",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a\\u0000.wav"\n',
        "{d}/m.toml, line 4, conversations[0].segments[0].file: must be a path without NUL characters",
    ),
    (
        "output_with_nul",
        '[api]\noutput = "out\\u0000"\n' + SEG,
        "{d}/m.toml, line 2, api.output: must be a path without NUL characters",
    ),
    (
        "wav_sample_rate_0",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "rate0.wav"\n',
        "{d}/m.toml, line 4, conversations[0].segments[0].file: {d}/rate0.wav has a WAV header whose sample rate is 0; re-encode it as a valid WAV",
    ),
    (
        "wav_channels_0",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "channels0.wav"\n',
        "{d}/m.toml, line 4, conversations[0].segments[0].file: {d}/channels0.wav has a WAV header whose channel count is 0; re-encode it as a valid WAV",
    ),
    (
        "wav_block_align_0",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "block0.wav"\n',
        "{d}/m.toml, line 4, conversations[0].segments[0].file: {d}/block0.wav has a WAV header whose block align is 0; re-encode it as a valid WAV",
    ),
    (
        "webhook_url_unclosed_ipv6",
        SEG + 'webhookUrl = "http://[::1"\n',
        "{d}/m.toml, line 5, conversations[0].segments[0].webhookUrl: must be an http or https URL",
    ),
    (
        "media_url_unclosed_ipv6",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nurl = "http://[::1/a.wav"\n',
        "{d}/m.toml, line 4, conversations[0].segments[0].url: must be an absolute http or https URL that the API can fetch",
    ),
    (
        "media_url_port_99999",
        '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nurl = "http://host:99999/a.wav"\n',
        "{d}/m.toml, line 4, conversations[0].segments[0].url: must be an absolute http or https URL that the API can fetch",
    ),
    (
        "api_not_a_table",
        "api = 5\n" + SEG,
        "{d}/m.toml, line 1, api: must be a table (a JSON object in JSONL), not a number",
    ),
    (
        "conversation_not_a_table",
        'conversations = ["c"]\n',
        "{d}/m.toml, line 1, conversations[0]: must be a table (a JSON object in JSONL), not a string",
    ),
    # Hostile but already refused well: kept so that they stay so.
    ("empty_file", "", "{d}/m.toml, conversations: required key is missing"),
    ("only_whitespace", "  \n\t\n", "{d}/m.toml, conversations: required key is missing"),
    (
        "conversations_a_string",
        'conversations = "c"\n',
        "{d}/m.toml, line 1, conversations: input should be a valid list",
    ),
    (
        "segments_a_string",
        '[[conversations]]\nid = "c"\nsegments = "a.wav"\n',
        "{d}/m.toml, line 3, conversations[0].segments: input should be a valid list",
    ),
    (
        "part_10_pow_30",
        SEG + f"part = {10**30}\n",
        f"{{d}}/m.toml, line 3, conversations[0].segments: parts [{10**30}] must be 1, 2, ... in order; an append needs its first segment",
    ),
    (
        "id_1000_characters",
        f'[[conversations]]\nid = "{"c" * 1000}"\n  [[conversations.segments]]\nfile = "a.wav"\n',
        "{d}/m.toml, line 2, conversations[0].id: ids use letters, digits, '.', '_' and '-', start with a letter or digit, at most 100 characters",
    ),
    (
        "duplicate_key",
        SEG + 'file = "b.wav"\n',
        "{d}/m.toml: not valid TOML: Cannot overwrite a value (at line 5, column 15)",
    ),
    (
        "participant_not_a_string",
        '[[conversations]]\nid = "c"\nparticipants = [1]\n  [[conversations.segments]]\nfile = "a.wav"\n',
        "{d}/m.toml, line 3, conversations[0].participants[0]: input should be a valid string",
    ),
    (
        "concurrency_true",
        "[api]\nconcurrency = true\n" + SEG,
        "{d}/m.toml, line 2, api.concurrency: input should be a valid integer",
    ),
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(CORPUS / "media" / "solo-memo.wav", tmp_path / "a.wav")
    shutil.copy(CORPUS / "media" / "solo-memo.wav", tmp_path / "notes.xyz")
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio\n")
    (tmp_path / "adir").mkdir()
    for name, offset in (("channels0", 22), ("rate0", 24), ("block0", 32)):  # fields of the fmt chunk
        (tmp_path / f"{name}.wav").write_bytes(wav_with(offset, b"\0\0\0\0" if name == "rate0" else b"\0\0"))
    return tmp_path


def wav_with(offset: int, value: bytes) -> bytes:
    """The corpus WAV (16 kHz mono, canonical 44-byte header) with `value` written at `offset`."""
    data = bytearray((CORPUS / "media" / "solo-memo.wav").read_bytes())
    data[offset : offset + len(value)] = value
    return bytes(data)


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
    (
        "jsonl_5000_digit_integer",
        '{"conversation": "c", "file": "a.wav", "part": ' + "9" * 5000 + "}\n",
        "{d}/m.jsonl, line 1: a number of more than 4300 digits cannot be read; give a number within the setting's range",
    ),
    (
        "jsonl_nested_1000_deep",
        '{"conversation": "c", "file": "a.wav"}\n{"conversation": "c", "entities": ' + "[" * 1000 + "]" * 1000 + "}\n",
        "{d}/m.jsonl, line 2: nested more than 32 levels deep; a manifest needs only a few levels",
    ),
    (
        "jsonl_nested_40_deep",
        '{"conversation": "c", "file": "a.wav", "trackers": ' + '{"a": ' * 40 + "1" + "}" * 40 + "}\n",
        "{d}/m.jsonl, line 1, trackers.a.a.a.a: nested more than 32 levels deep; a manifest needs only a few levels",
    ),
    ("jsonl_null_line", "null\n", "{d}/m.jsonl, line 1: expected a JSON object, got null"),
    ("jsonl_string_line", '"standup"\n', "{d}/m.jsonl, line 1: expected a JSON object, got str"),
    (
        "jsonl_nan",
        '{"conversation": "c", "file": "a.wav", "confidenceThreshold": NaN}\n',
        "{d}/m.jsonl, line 1: NaN is not valid JSON; give a finite number",
    ),
    (
        "jsonl_infinity_in_a_parameter",
        '{"conversation": "c", "file": "a.wav", "entities": [{"x": -Infinity}]}\n',
        "{d}/m.jsonl, line 1: -Infinity is not valid JSON; give a finite number",
    ),
    (
        "jsonl_overflowing_float",
        '{"api": {"poll_min": 1e999}}\n{"conversation": "c", "file": "a.wav"}\n',
        "{d}/m.jsonl, line 1, api.poll_min: must be a finite number of seconds above 0 up to 3600, not inf",
    ),
    (
        "jsonl_duplicate_key",
        '{"conversation": "c", "file": "a.wav", "file": "b.wav"}\n',
        "{d}/m.jsonl, line 1: key 'file' appears twice in one object; give each key once",
    ),
    (
        "jsonl_api_not_an_object",
        '{"api": 5}\n{"conversation": "c", "file": "a.wav"}\n',
        "{d}/m.jsonl, line 1, api: must be a table (a JSON object in JSONL), not a number",
    ),
    (
        "jsonl_person_not_an_object",
        '{"person": ["A"]}\n{"conversation": "c", "file": "a.wav"}\n',
        "{d}/m.jsonl, line 1, people[0]: must be a table (a JSON object in JSONL), not a list",
    ),
    ("jsonl_only_blank_lines", "\n \n\n", "{d}/m.jsonl, conversations: needs at least one conversation"),
    (
        "jsonl_api_twice",
        '{"api": {"concurrency": 2}}\n{"conversation": "c", "file": "a.wav"}\n{"api": {"concurrency": 9}}\n',
        "{d}/m.jsonl, line 3: a second 'api' object (the first is on line 1); give api once",
    ),
    (
        "jsonl_base_url_credentials",
        '{"api": {"base_url": "https://me:pw@api.symbl.ai"}}\n{"conversation": "c", "file": "a.wav"}\n',
        "{d}/m.jsonl, line 1, api.base_url: must not carry credentials (user:password@), which would be logged and sent with every request",
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


def _named_pipe(path: Path) -> None:
    os.mkfifo(path)


def _symlink_loop(path: Path) -> None:
    path.symlink_to(path.name)


def _broken_symlink(path: Path) -> None:
    path.symlink_to("gone.wav")


MEDIA_FILE = '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "{name}"\n'
ENROLMENT_FILE = '[[people]]\nname = "A"\nemail = "a@example.com"\nenrolment = "{name}"\n' + SEG
FILE_CASES = [  # media and samples that are not regular files: named, never opened (a pipe would block)
    (
        "media_named_pipe",
        _named_pipe,
        MEDIA_FILE,
        "{d}/m.toml, line 4, conversations[0].segments[0].file: {d}/x.wav is not a regular file (a named pipe); give an audio or video file",
    ),
    (
        "media_symlink_loop",
        _symlink_loop,
        MEDIA_FILE,
        "{d}/m.toml, line 4, conversations[0].segments[0].file: {d}/x.wav is a loop of symbolic links; point it at a real file",
    ),
    (
        "media_broken_symlink",
        _broken_symlink,
        MEDIA_FILE,
        "{d}/m.toml, line 4, conversations[0].segments[0].file: {d}/x.wav is a symbolic link to gone.wav, which does not exist; fix the link",
    ),
    (
        "enrolment_named_pipe",
        _named_pipe,
        ENROLMENT_FILE,
        "{d}/m.toml, line 4, people[0].enrolment: {d}/x.wav is not a regular file (a named pipe); give a recording of the person's voice (WAV, mp3, mp4, m4a, ogg or flac)",
    ),
]


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("name", "make", "body", "message"), FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_media_that_is_not_a_regular_file_is_refused_unopened(
    folder: Path, name: str, make: Callable[[Path], None], body: str, message: str
) -> None:
    """A named pipe, a symlink loop or a dangling link is named as such; validation never blocks on a pipe."""
    make(folder / "x.wav")
    (folder / "m.toml").write_text(body.format(name="x.wav"))
    with pytest.raises(InputError) as caught:
        load_manifest(folder / "m.toml", environ={})
    assert str(caught.value) == message.format(d=folder)


def test_a_manifest_that_is_a_directory_or_missing_is_named_so(folder: Path) -> None:
    """The manifest path itself: a directory or nothing at all, in either format."""
    (folder / "d.toml").mkdir()
    cases = {
        folder / "d.toml": f"{folder}/d.toml is a directory; give the path of a TOML or JSONL manifest",
        folder / "none.toml": f"{folder}/none.toml: no such file; give the path of a TOML or JSONL manifest",
        folder / "none.jsonl": f"{folder}/none.jsonl: no such file; give the path of a TOML or JSONL manifest",
    }
    for path, message in cases.items():
        with pytest.raises(InputError) as caught:
            load_manifest(path, environ={})
        assert str(caught.value) == message


def test_a_bad_base_url_from_the_environment_is_refused(folder: Path) -> None:
    """SYMBL_BASE_URL is checked like api.base_url (it is used when the manifest gives none)."""
    (folder / "m.toml").write_text(SEG)
    with pytest.raises(InputError) as caught:
        load_manifest(folder / "m.toml", environ={"SYMBL_BASE_URL": "http://[::1"})
    assert str(caught.value) == (
        f"{folder}/m.toml: SYMBL_BASE_URL (from the environment) must be a valid http or https URL such as "
        "https://api.symbl.ai, not 'http://[::1'"
    )
    assert load_manifest(folder / "m.toml", environ={"SYMBL_BASE_URL": "http://[::1]:8080/"}).api.base_url == (
        "http://[::1]:8080"
    )


@pytest.mark.parametrize(
    ("suffix", "text"),
    [
        (".toml", "\ufeff" + SEG),
        (".jsonl", '\ufeff{"conversation": "c", "file": "a.wav"}\n'),
        (".toml", SEG.replace("\n", "\r\n")),
        (".jsonl", '{"api": {"concurrency": 2}}\r\n{"conversation": "c", "file": "a.wav"}\r\n'),
    ],
    ids=["toml_bom", "jsonl_bom", "toml_crlf", "jsonl_crlf"],
)
def test_a_byte_order_mark_or_crlf_line_ends_load(folder: Path, suffix: str, text: str) -> None:
    """A UTF-8 BOM (from a Windows editor) is dropped and CRLF line ends read as LF: the manifest loads."""
    path = folder / f"m{suffix}"
    path.write_text(text, newline="")
    manifest = load_manifest(path, environ={})
    assert [s.key for s in manifest.segments()] == ["c/1"] and next(manifest.segments()).file == folder / "a.wav"


def test_a_wav_header_claiming_2_gib_is_bounded_by_the_file_size(folder: Path) -> None:
    """The duration (and so the first poll) comes from the bytes the file holds, not the header's claim."""
    (folder / "big.wav").write_bytes(wav_with(40, (2**31).to_bytes(4, "little")))  # the data chunk's size
    (folder / "m.toml").write_text(SEG + '  [[conversations.segments]]\nfile = "big.wav"\n')
    honest, claiming = load_manifest(folder / "m.toml", environ={}).segments()
    assert claiming.duration == honest.duration == pytest.approx(15.8575625)
    assert estimated_seconds(claiming) == estimated_seconds(honest)


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
