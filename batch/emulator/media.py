"""Recognising uploaded media: container kind, duration, and a fallback transcript for media with no script.

Decisions (documented in docs/local-backend.md):
- Kinds are sniffed from magic bytes, never from names or headers: wav, mp3, mp4, ogg, flac, aiff, amr.
  Anything else is "unknown": the submit is accepted (the real service decoded asynchronously) and the job
  ends `failed`.
- Duration: WAV from its header, mp4 from `mvhd`, mp3 from the first frame's bit rate; other kinds are
  estimated at 128 kbit/s.
- Fallback transcript (media not in the corpus): speech-activity segments (30 ms frame energy) of a PCM WAV,
  each an utterance "Unscripted speech segment N." by one unknown speaker; for other kinds one utterance per
  10 s of estimated duration. Deterministic for the same bytes.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import numpy as np

from batch.emulator.corpus import Utterance

FALLBACK_BYTES_PER_SECOND = 16_000  # 128 kbit/s
FRAME_SECONDS = 0.03


@dataclass(frozen=True, slots=True)
class MediaInfo:
    kind: str  # wav | mp3 | mp4 | ogg | flac | aiff | amr | unknown
    sha256: str
    size: int
    duration: float


def sniff(head: bytes) -> str:
    checks = (
        (head[:4] == b"RIFF" and head[8:12] == b"WAVE", "wav"),
        (head[4:8] == b"ftyp", "mp4"),
        (head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE6 in (0xE2, 0xE4, 0xE6)), "mp3"),
        (head[:4] == b"OggS", "ogg"),
        (head[:4] == b"fLaC", "flac"),
        (head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"), "aiff"),
        (head[:5] == b"#!AMR", "amr"),
    )
    return next((kind for ok, kind in checks if ok), "unknown")


def probe(data: bytes) -> MediaInfo:
    kind = sniff(data[:16])
    duration = {"wav": _wav_duration, "mp4": _mp4_duration, "mp3": _mp3_duration}.get(kind, _estimate)(data)
    return MediaInfo(kind, hashlib.sha256(data).hexdigest(), len(data), duration)


def _estimate(data: bytes) -> float:
    return len(data) / FALLBACK_BYTES_PER_SECOND


def _wav_chunks(data: bytes) -> dict[bytes, tuple[int, int]]:
    """Offsets and sizes of the top-level RIFF chunks."""
    chunks: dict[bytes, tuple[int, int]] = {}
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        chunks.setdefault(cid, (pos + 8, min(size, len(data) - pos - 8)))
        pos += 8 + size + (size & 1)
    return chunks


def _wav_format(data: bytes) -> tuple[int, int, int, int, int] | None:
    """(format tag, channels, rate, bits, data size) or None when the header is broken."""
    chunks = _wav_chunks(data)
    if b"fmt " not in chunks or b"data" not in chunks or chunks[b"fmt "][1] < 16:
        return None
    tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, chunks[b"fmt "][0])
    if channels == 0 or rate == 0 or bits == 0:
        return None
    return tag, channels, rate, bits, chunks[b"data"][1]


def _wav_duration(data: bytes) -> float:
    fmt = _wav_format(data)
    if fmt is None:
        return _estimate(data)
    _, channels, rate, bits, size = fmt
    return size / (channels * rate * bits / 8)


def _mp4_duration(data: bytes) -> float:
    pos = 0
    while pos + 8 <= len(data):
        size, box = struct.unpack_from(">I4s", data, pos)
        if box == b"moov":
            return _mvhd_duration(data, pos + 8, pos + size) or _estimate(data)
        if size < 8:
            break
        pos += size
    return _estimate(data)


def _mvhd_duration(data: bytes, pos: int, end: int) -> float | None:
    while pos + 8 <= min(end, len(data)):
        size, box = struct.unpack_from(">I4s", data, pos)
        if box == b"mvhd" and pos + 32 <= len(data):
            if data[pos + 8] == 1:
                scale, duration = struct.unpack_from(">IQ", data, pos + 28)
            else:
                scale, duration = struct.unpack_from(">II", data, pos + 20)
            return duration / scale if scale else None
        if size < 8:
            return None
        pos += size
    return None


MP3_BITRATES = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0)


def _mp3_duration(data: bytes) -> float:
    pos = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        pos = 10 + ((data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | (data[9] & 0x7F))
    if pos + 4 <= len(data) and data[pos] == 0xFF:
        kbps = MP3_BITRATES[data[pos + 2] >> 4]
        if kbps:
            return (len(data) - pos) * 8 / (kbps * 1000)
    return _estimate(data)


def pcm_mono(data: bytes) -> tuple[np.ndarray, int] | None:
    """16-bit PCM WAV samples (first channel) as float32 in [-1, 1], with the rate; None for anything else."""
    fmt = _wav_format(data)
    if fmt is None or fmt[0] != 1 or fmt[3] != 16:
        return None
    _, channels, rate, _, _ = fmt
    start, size = _wav_chunks(data)[b"data"]
    usable = size - size % (2 * channels)
    samples = np.frombuffer(data, dtype="<i2", count=usable // 2, offset=start)
    return samples[::channels].astype(np.float32) / 32768.0, rate


def speech_segments(samples: np.ndarray, rate: int) -> list[tuple[float, float]]:
    """Speech-activity segments (start, end) in seconds: frame energy above an adaptive threshold."""
    frame = max(1, int(rate * FRAME_SECONDS))
    count = len(samples) // frame
    if count == 0:
        return []
    energy = np.sqrt(np.mean(samples[: count * frame].reshape(count, frame) ** 2, axis=1))
    threshold = max(0.01, 0.1 * float(np.percentile(energy, 95)))
    active = energy > threshold
    segments: list[list[float]] = []
    for i in np.flatnonzero(active):
        start, end = int(i) * FRAME_SECONDS, (int(i) + 1) * FRAME_SECONDS
        if segments and start - segments[-1][1] < 0.3:
            segments[-1][1] = end
        else:
            segments.append([start, end])
    return [(round(s, 3), round(e, 3)) for s, e in segments if e - s >= 0.2]


def fallback_utterances(data: bytes, info: MediaInfo) -> tuple[Utterance, ...]:
    pcm = pcm_mono(data)
    if pcm is not None:
        spans = speech_segments(*pcm)
    else:
        step = 10.0
        spans = [(t * step, min(info.duration, (t + 1) * step)) for t in range(int(info.duration // step) + 1)]
        spans = [(s, e) for s, e in spans if e - s > 0.2]
    return tuple(Utterance("unknown", s, e, f"Unscripted speech segment {n}.") for n, (s, e) in enumerate(spans, 1))
