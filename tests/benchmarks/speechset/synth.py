"""The programs the build runs: the three synthesizers, sox and ffmpeg. Thin effects, nothing decided here.

Determinism: flite, espeak-ng and festival give the same samples for the same text and settings; sox runs with
`-R` (repeatable dither); ffmpeg runs single-threaded with bit-exact flags, no metadata and fixed encoder
settings. Every speech piece leaves here as 16 kHz mono 16-bit PCM, edges trimmed at -50 dB and peak-normalised
to -3 dBFS, so a person's loudness in a mix is set only by cast.toml's `gain_db`.
"""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tests.benchmarks.speechset.scene import Voice

RATE = 16_000
TRIM = ("silence", "1", "0.02", "-50d", "reverse", "silence", "1", "0.02", "-50d", "reverse")
FFMPEG = ("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-threads", "1")
BITEXACT = ("-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact")


def _run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, capture_output=True)


def speak_command(voice: Voice, text: str, raw: Path, work: Path) -> list[str]:
    if voice.engine == "flite":
        return ["flite", "-voice", voice.voice, "-t", text, "-o", str(raw)]
    if voice.engine == "espeak-ng":
        return ["espeak-ng", "-v", voice.voice, "-p", str(voice.pitch), "-s", str(voice.rate), "-w", str(raw), text]
    script = work / "text.txt"
    script.write_text(text + "\n")
    stretch = ["-eval", f"(Parameter.set 'Duration_Stretch {voice.stretch})"] if voice.stretch else []
    return ["text2wave", "-eval", f"(voice_{voice.voice})", *stretch, "-o", str(raw), str(script)]


def synthesize(voice: Voice, text: str, work: Path) -> NDArray[np.int16]:
    """`text` in `voice`, as 16 kHz mono samples; `work` is a folder of this call's own."""
    raw, out = work / "raw.wav", work / "line.wav"
    _run(speak_command(voice, text, raw, work))
    _run(["sox", "-R", str(raw), "-b", "16", "-e", "signed", "-c", "1", str(out), *TRIM,
          "rate", "-v", str(RATE), "gain", "-n", "-3"])
    return read_wav(out)


def read_wav(path: Path) -> NDArray[np.int16]:
    with wave.open(str(path), "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, 2):
            raise ValueError(f"{path}: expected 16 kHz mono 16-bit PCM")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)


def write_wav(path: Path, samples: NDArray[np.int16]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.astype("<i2").tobytes())


def to_stereo_44k(wav: Path, out: Path) -> None:
    """44.1 kHz stereo 16-bit PCM, the same signal on both channels."""
    _run(["sox", "-R", str(wav), "-r", "44100", "-c", "2", "-b", "16", "-e", "signed", str(out)])


def to_ulaw_8k(wav: Path, out: Path) -> None:
    """8 kHz mono G.711 mu-law WAV, as a telephone recording would be."""
    _run(["sox", "-R", str(wav), "-r", "8000", "-c", "1", "-e", "u-law", str(out)])


def to_mp3(wav: Path, out: Path) -> None:
    """MP3, LAME at a constant 128 kbit/s (the sample rate and channels of `wav`)."""
    _run([*FFMPEG, "-i", str(wav), "-c:a", "libmp3lame", "-b:a", "128k", *BITEXACT, str(out)])


def to_mp4(wav: Path, out: Path) -> None:
    """Audio-only MP4 with an AAC-LC track at 128 kbit/s (ffmpeg's native encoder)."""
    _run([*FFMPEG, "-i", str(wav), "-c:a", "aac", "-b:a", "128k", *BITEXACT, str(out)])
