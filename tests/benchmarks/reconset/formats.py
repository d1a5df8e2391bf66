"""The media formats of the set: each written from the 16 kHz mono WAV of a recording, deterministically.

Rules: sox runs with -R and ffmpeg single-threaded with bit-exact flags and no metadata (speechset's `synth`
helpers where they exist); the signal is the same in every format, so one truth fits every copy. Lossy codecs
(mp3, AAC, Opus) add encoder delay that their decoders remove (LAME's gapless header, MP4 edit lists, Opus
pre-skip); the truth's times are those of the 16 kHz mix.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.benchmarks.speechset import synth

FFMPEG = synth.FFMPEG
BITEXACT = synth.BITEXACT
VIDEO = ("color=c=0x2e4a62:s=320x240:r=2",)  # a still, dark blue frame twice a second


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    suffix: str  # file name ending, with the dot
    rate: int
    channels: int
    codec: str
    kind: str  # audio | video


FORMATS = {
    f.name: f
    for f in (
        Format("wav16k", ".wav", 16_000, 1, "PCM 16-bit", "audio"),
        Format("wav44k-stereo", ".wav", 44_100, 2, "PCM 16-bit", "audio"),
        Format("wav8k-ulaw", ".wav", 8_000, 1, "G.711 mu-law", "audio"),
        Format("flac48k", ".flac", 48_000, 1, "FLAC 16-bit", "audio"),
        Format("mp3", ".mp3", 44_100, 2, "MP3 128 kbit/s (LAME)", "audio"),
        Format("m4a", ".m4a", 16_000, 1, "AAC-LC 96 kbit/s in MP4", "audio"),
        Format("ogg-opus", ".ogg", 48_000, 1, "Opus 48 kbit/s in Ogg", "audio"),
        Format("mp4-video", ".mp4", 44_100, 2, "H.264 still video + AAC-LC 128 kbit/s", "video"),
    )
}


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def _copy(wav: Path, out: Path, work: Path) -> None:
    shutil.copyfile(wav, out)


def _flac(wav: Path, out: Path, work: Path) -> None:
    _run([*FFMPEG, "-i", str(wav), "-ar", "48000", "-sample_fmt", "s16", "-c:a", "flac", *BITEXACT, str(out)])


def _mp3(wav: Path, out: Path, work: Path) -> None:
    stereo = work / "stereo.wav"
    synth.to_stereo_44k(wav, stereo)
    synth.to_mp3(stereo, out)


def _m4a(wav: Path, out: Path, work: Path) -> None:
    _run([*FFMPEG, "-i", str(wav), "-c:a", "aac", "-b:a", "96k", *BITEXACT, str(out)])


def _opus(wav: Path, out: Path, work: Path) -> None:
    _run([*FFMPEG, "-i", str(wav), "-c:a", "libopus", "-b:a", "48k", *BITEXACT, str(out)])


def _video(wav: Path, out: Path, work: Path) -> None:
    stereo = work / "stereo.wav"
    synth.to_stereo_44k(wav, stereo)
    seconds = f"{len(synth.read_wav(wav)) / synth.RATE:.3f}"  # -shortest overshoots by the muxer's buffering
    _run(
        [
            *FFMPEG,
            "-f",
            "lavfi",
            "-i",
            *VIDEO,
            "-i",
            str(stereo),
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-t",
            seconds,
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-tune",
            "stillimage",
            "-pix_fmt",
            "yuv420p",
            "-flags:v",
            "+bitexact",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            *BITEXACT,
            str(out),
        ]
    )


WRITERS: dict[str, Callable[[Path, Path, Path], None]] = {
    "wav16k": _copy,
    "wav44k-stereo": lambda wav, out, work: synth.to_stereo_44k(wav, out),
    "wav8k-ulaw": lambda wav, out, work: synth.to_ulaw_8k(wav, out),
    "flac48k": _flac,
    "mp3": _mp3,
    "m4a": _m4a,
    "ogg-opus": _opus,
    "mp4-video": _video,
}


def write(fmt: str, wav16k: Path, out: Path, work: Path) -> None:
    """`out` in format `fmt`, made from the 16 kHz mono WAV `wav16k`; `work` is a scratch folder of this call."""
    out.parent.mkdir(parents=True, exist_ok=True)
    WRITERS[fmt](wav16k, out, work)
