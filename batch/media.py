"""What a local media file is, checked before anything is sent: kind, size, duration, the Content-Type to send.

Rules: the kind comes from the `type` field, else the extension; the first bytes must look like audio or video
(a text file named .wav is refused); video must be mp4 (symbl-api.md §5). Duration is read from WAV headers;
for other formats it is unknown here and the scheduler estimates from the size.
"""

from __future__ import annotations

import contextlib
import wave
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


def wav_duration(path: Path) -> float | None:
    with contextlib.suppress(wave.Error, EOFError, OSError), wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()
    return None


def inspect(path: Path, declared: str | None, *, max_bytes: int) -> MediaFacts:
    """Facts about a local file, or ValueError with the one-sentence problem (the caller adds file and line)."""
    if not path.exists():
        raise ValueError(f"file not found: {path}; give a path relative to the manifest")
    if path.is_dir():
        raise ValueError(f"{path} is a directory; give an audio or video file")
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise ValueError(f"cannot read {path} ({exc.strerror}); check its permissions") from None
    size = path.stat().st_size
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
    duration = wav_duration(path) if container == "wav" else None
    return MediaFacts(kind, container, size, duration, content_type)
