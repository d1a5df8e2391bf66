"""Media of every format the API accepts, made from one corpus WAV with PyAV (no system tools needed)."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import av
import numpy as np

RATE = 16_000


def pcm16(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def wav_bytes(samples: np.ndarray, *, rate: int, channels: int = 1, width: int = 2, tag: int = 1) -> bytes:
    """A WAV file: PCM 8/16/24/32-bit (tag 1) or float32 (tag 3, width 4)."""
    frames = np.repeat(samples[:, None], channels, axis=1).reshape(-1)
    if tag == 3:
        data = frames.astype("<f4").tobytes()
    elif width == 1:
        data = (np.round(frames * 127) + 128).astype(np.uint8).tobytes()
    else:
        ints = np.round(frames * (2 ** (8 * width - 1) - 1)).astype("<i4")
        data = b"".join(int(v).to_bytes(4, "little", signed=True)[:width] for v in ints) if width == 3 else (
            ints.astype(f"<i{width}").tobytes()
        )
    fmt = tag.to_bytes(2, "little") + channels.to_bytes(2, "little") + rate.to_bytes(4, "little")
    fmt += (rate * channels * width).to_bytes(4, "little") + (channels * width).to_bytes(2, "little")
    fmt += (8 * width).to_bytes(2, "little")
    body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt + b"data" + len(data).to_bytes(4, "little") + data
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def resample(samples: np.ndarray, rate: int) -> np.ndarray:
    positions = np.arange(0, len(samples), RATE / rate)
    return np.asarray(np.interp(positions, np.arange(len(samples)), samples), dtype=np.float32)


def encoded(samples: np.ndarray, path: Path, *, container: str, codec: str, rate: int = RATE) -> Path:
    """`samples` (16 kHz mono) encoded by FFmpeg (through PyAV) into `path`."""
    with av.open(str(path), "w", format=container) as out:
        stream: Any = out.add_stream(codec, rate=rate, layout="mono")  # an audio stream; PyAV types it as a union
        pcm = (np.clip(resample(samples, rate), -1, 1) * 32767).astype(np.int16)
        step = 1024
        for at in range(0, len(pcm), step):
            frame = av.AudioFrame.from_ndarray(pcm[None, at : at + step], format="s16", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path
