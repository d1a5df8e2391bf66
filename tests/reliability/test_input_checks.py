"""The pure checks behind the hostile-input catalogue, table by table: nesting depth, server URLs, [api] settings
that conflict, and WAV durations read from headers that lie."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batch import media
from batch.decode import MAX_DEPTH, field_name, shown, too_deep
from batch.schema import ApiIn, api_conflicts, server_url_problem, split_url


def nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


@pytest.mark.parametrize(
    ("depth", "deep"), [(0, False), (1, False), (MAX_DEPTH, False), (MAX_DEPTH + 1, True), (5000, True)]
)
def test_too_deep_finds_the_first_place_past_the_limit_without_recursion(depth: int, deep: bool) -> None:
    """Depth counts tables and lists; 5,000 levels are walked without a RecursionError."""
    found = too_deep(nested(depth))
    assert (found is not None) == deep
    if found is not None:
        assert len(found) == MAX_DEPTH


JSONISH = st.recursive(
    st.none() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=40,
)


@given(JSONISH, st.integers(1, 6))
def test_too_deep_agrees_with_a_recursive_count(value: Any, limit: int) -> None:
    """Property: a value is too deep exactly when its recursive depth exceeds the limit."""
    assert (too_deep(value, limit) is not None) == (depth_of(value) > limit)


def test_places_print_as_manifest_fields() -> None:
    """A place prints like the manifest's fields; a deep one is cut to five steps without trailing indexes."""
    assert field_name(("conversations", 0, "segments", 2, "file")) == "conversations[0].segments[2].file"
    assert shown(("conversations", 0, "segments", 0, "entities", 0, 0, 0)) == (
        "conversations",
        0,
        "segments",
        0,
        "entities",
    )
    assert shown(("x", 0, 0, 0, 0, 0)) == ("x",)


URLS = [
    ("https://api.symbl.ai", None),
    ("http://127.0.0.1:8080", None),
    ("http://[::1]:8080/prefix", None),
    ("http://[::1", "must be a valid http or https URL such as E, not 'http://[::1'"),
    ("http://host:99999", "must be a valid http or https URL such as E, not 'http://host:99999'"),
    ("http://host:port", "must be a valid http or https URL such as E, not 'http://host:port'"),
    ("http://:80", "must be a valid http or https URL such as E, not 'http://:80'"),
    ("ftp://host", "must be a valid http or https URL such as E, not 'ftp://host'"),
    ("host.example.com", "must be a valid http or https URL such as E, not 'host.example.com'"),
    ("http://host:0", "must name a port from 1 to 65535 (or none, for the scheme's default), not 0"),
    (
        "https://u:p@host",
        "must not carry credentials (user:password@), which would be logged and sent with every request",
    ),
    (
        "https://u@host",
        "must not carry credentials (user:password@), which would be logged and sent with every request",
    ),
    (
        "https://host/v1?key=1",
        "must not have a query (?...) or fragment (#...), as paths are appended to it; give one like E",
    ),
    (
        "https://host/#top",
        "must not have a query (?...) or fragment (#...), as paths are appended to it; give one like E",
    ),
    ("https://host/?", "must not have a query (?...) or fragment (#...), as paths are appended to it; give one like E"),
]


@pytest.mark.parametrize(("url", "problem"), URLS)
def test_server_url_problems(url: str, problem: str | None) -> None:
    """A base URL is http(s) with a host, a usable port, no credentials, and nothing after its path."""
    assert server_url_problem(url, example="E") == problem


def test_split_url_never_raises() -> None:
    """urlsplit raises on an unclosed IPv6 host and `.port` on a bad port; split_url answers None instead."""
    assert split_url("http://[::1") is None and split_url("http://h:65536") is None
    parts = split_url("http://h:65535/a")
    assert parts is not None and parts.port == 65535


@pytest.mark.parametrize(
    ("settings", "conflicts"),
    [
        ({}, []),
        ({"poll_min": 30, "poll_cap": 30}, []),
        ({"poll_min": 31, "poll_cap": 30}, [(("api", "poll_min"), "must be at most poll_cap (30), not 31")]),
        ({"poll_cap": 60, "job_timeout": 59.5}, [(("api", "poll_cap"), "must be at most job_timeout (59.5), not 60")]),
        ({"webhook_listen": "127.0.0.1:0"}, []),  # a free port: the receiver tells the API where it listens
        (
            {"webhook_listen": "127.0.0.1:0", "webhook_public_url": "https://hooks.example.com"},
            [
                (
                    ("api", "webhook_listen"),
                    "port 0 listens on a random free port, which webhook_public_url cannot name; give a fixed port",
                )
            ],
        ),
    ],
)
def test_api_settings_that_conflict(settings: dict[str, Any], conflicts: list[tuple[tuple[str, ...], str]]) -> None:
    """Each setting may be valid alone and still conflict with another; the field named is the one to change."""
    assert api_conflicts(ApiIn.model_validate(settings)) == conflicts


def wav(
    *,
    channels: int = 1,
    rate: int = 16000,
    block: int = 2,
    claim: int | None = None,
    frames: int = 800,
    extra: bytes = b"",
) -> bytes:
    """A PCM WAV of `frames` silent frames; `claim` overrides the data chunk's size; `extra` chunks go first."""
    data = b"\0" * frames * max(block, 1)
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block, block, 16)
    size = len(data) if claim is None else claim
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + extra + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    ("content", "seconds"),
    [
        (wav(), 0.05),
        (wav(claim=2**31), 0.05),  # a header claiming 2 GiB in a 1.6 kB file: the file's bytes win
        (wav(claim=0xFFFFFFFF), 0.05),  # written to a pipe: the size was never filled in
        (wav(claim=0), 0.05),
        (wav(claim=800), 0.025),  # a claim below the file's size is believed (trailing chunks may follow)
        (wav(channels=2, block=4, frames=1600), 0.1),
        (wav(extra=b"LIST" + struct.pack("<I", 3) + b"abc\0"), 0.05),  # an odd chunk is padded to even
        (wav()[:30], None),  # cut inside the format chunk
        (b"RIFF\0\0\0\0WAVEdata\x10\0\0\0" + b"\0" * 16, None),  # data before any format chunk
    ],
)
def test_wav_duration_is_bounded_by_the_bytes_the_file_holds(
    tmp_path: Path, content: bytes, seconds: float | None
) -> None:
    """The duration is the data's frames over the rate, never more than the file holds; unreadable is None."""
    path = tmp_path / "x.wav"
    path.write_bytes(content)
    assert media.wav_duration(path, len(content)) == (pytest.approx(seconds) if seconds is not None else None)


@pytest.mark.parametrize(
    ("channels", "rate", "block", "what"),
    [(0, 16000, 2, "channel count"), (1, 0, 2, "sample rate"), (1, 16000, 0, "block align")],
)
def test_a_wav_format_of_zero_is_refused(tmp_path: Path, channels: int, rate: int, block: int, what: str) -> None:
    """Zero channels, rate or block align would divide by zero; nothing could play such a file."""
    path = tmp_path / "x.wav"
    path.write_bytes(wav(channels=channels, rate=rate, block=block))
    with pytest.raises(ValueError, match=rf"^{path} has a WAV header whose {what} is 0; re-encode it as a valid WAV$"):
        media.wav_duration(path, path.stat().st_size)
