"""What a local media file is, checked before anything is sent: kind, size, duration, the Content-Type to send.

Rules: the file must be a regular file, checked before it is opened (a named pipe or a device would block or
never end); the kind comes from the `type` field, else the extension; the first bytes must look like audio or
video (a text file named .wav is refused); video must be mp4 (docs/api-contract.md §5). Duration is read from WAV
headers, never more than the file's real size holds; for other formats it is unknown here and the scheduler
estimates from the size.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

AUDIO_EXTENSIONS = frozenset(
    (".wav", ".wave", ".mp3", ".m4a", ".aac", ".ac3", ".aif", ".aiff", ".amr", ".flac", ".ogg", ".oga", ".opus", ".wma")
)
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v"})
MAGIC = (
    (4, b"ftyp", "mp4"),
    (0, b"ID3", "mp3"),
    (0, b"OggS", "ogg"),
    (0, b"fLaC", "flac"),
    (0, b"FORM", "aiff"),
    (0, b"#!AMR", "amr"),
    (0, b"\x30\x26\xb2\x75", "wma"),
    (0, b"\x0b\x77", "ac3"),
)
CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}
SPECIAL = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
WAV_CHUNKS = 64  # chunks read before `data`, at most: a real header has two to five


@dataclass(frozen=True, slots=True)
class MediaFacts:
    kind: str  # audio | video
    container: str  # wav, mp3, mp4, ...
    size: int
    duration: float | None
    content_type: str


def sniff(head: bytes) -> str | None:
    if head[:4] == b"RIFF":
        return "wav" if head[8:12] == b"WAVE" else None
    for offset, magic, name in MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "mp3"  # MPEG audio frame sync (also ADTS AAC)
    return None


def kind_from_name(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return "audio" if suffix in AUDIO_EXTENSIONS else "video" if suffix in VIDEO_EXTENSIONS else None


class Missing(ValueError):
    """The path names nothing (the message says so; callers may word it their own way)."""


def _stat_problem(path: Path, exc: OSError) -> ValueError:
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        if path.is_symlink():
            return ValueError(f"{path} is a symbolic link to {os.readlink(path)}, which does not exist; fix the link")
        return Missing(f"file not found: {path}; give a path relative to the manifest")
    if exc.errno == errno.ELOOP:
        return ValueError(f"{path} is a loop of symbolic links; point it at a real file")
    if exc.errno == errno.ENAMETOOLONG:
        return ValueError(f"the path {path} is too long (at most 255 bytes per name, 4095 in all); shorten it")
    return ValueError(f"cannot read {path} ({exc.strerror}); check its permissions")


def regular_size(path: Path, *, wanted: str = "an audio or video file") -> int:
    """The size of the regular file at `path`, found without opening it (opening a named pipe would block), or
    ValueError with the one-sentence problem (the caller adds the manifest's file and line)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise _stat_problem(path, exc) from None
    if stat.S_ISDIR(info.st_mode):
        raise ValueError(f"{path} is a directory; give {wanted}")
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in SPECIAL if test(info.st_mode)), "not a file")
        raise ValueError(f"{path} is not a regular file ({kind}); give {wanted}")
    return info.st_size


def wav_duration(path: Path, size: int) -> float | None:
    """Seconds of audio in a WAV: its data chunk's length, bounded by the bytes the file really holds (a header
    may claim 2 GiB, or 0xFFFFFFFF when written to a pipe), over the format's frame size and rate. None when the
    chunks cannot be read; ValueError when the format says 0 channels, a rate of 0 or frames of 0 bytes."""
    with path.open("rb") as handle:
        handle.seek(12)  # past "RIFF", the RIFF size and "WAVE" (`sniff` checked them)
        fmt: bytes | None = None
        for _ in range(WAV_CHUNKS):
            header = handle.read(8)
            if len(header) < 8:
                return None
            name, length, start = header[:4], int.from_bytes(header[4:], "little"), handle.tell()
            if name == b"fmt ":
                fmt = handle.read(min(length, 16))
            elif name == b"data":
                held = size - start if length in (0, 0xFFFFFFFF) else min(length, size - start)
                return None if fmt is None or len(fmt) < 16 else _seconds(path, fmt, max(0, held))
            handle.seek(start + length + (length & 1))  # chunks are padded to an even length
    return None


def _seconds(path: Path, fmt: bytes, held: int) -> float:
    channels, rate, _, block = struct.unpack("<HIIH", fmt[2:14])
    for value, what in ((channels, "channel count"), (rate, "sample rate"), (block, "block align")):
        if value == 0:
            raise ValueError(f"{path} has a WAV header whose {what} is 0; re-encode it as a valid WAV")
    return float(held // block) / float(rate)


def inspect(path: Path, declared: str | None, *, max_bytes: int) -> MediaFacts:
    """Facts about a local file, or ValueError with the one-sentence problem (the caller adds file and line)."""
    size = regular_size(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise ValueError(f"cannot read {path} ({exc.strerror}); check its permissions") from None
    if size == 0:
        raise ValueError(f"{path} is empty; give a file with audio or video in it")
    if size > max_bytes:
        raise ValueError(f"{path} is {size} bytes, above the upload limit of {max_bytes} bytes (api.max_upload_bytes)")
    kind = declared or kind_from_name(path)
    if kind is None:
        raise ValueError(f'unknown media type of {path.name}; set type = "audio" or "video"')
    container = sniff(head)
    if container is None:
        raise ValueError(f"{path} does not look like audio or video (unrecognised first bytes)")
    if kind == "video" and container != "mp4":
        raise ValueError(f'{path} is {container}, but video must be mp4; set type = "audio" or convert it')
    content_type = "video/mp4" if kind == "video" else CONTENT_TYPES.get(container, "application/octet-stream")
    try:
        duration = wav_duration(path, size) if container == "wav" else None
    except OSError:  # it could be read a moment ago; the scheduler can estimate without the header
        duration = None
    return MediaFacts(kind, container, size, duration, content_type)
