"""Every medium the API accepts decodes to the same 16 kHz mono speech, and bad bytes say why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speech import decode
from speech.errors import Undecodable
from tests.speech import formats
from tests.support.server import CORPUS

pytest.importorskip("av", reason="the speech extra (PyAV) is not installed")
SOURCE = CORPUS / "media" / "interview.wav"


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return formats.pcm16(SOURCE)


def _similar(decoded: np.ndarray, original: np.ndarray) -> float:
    """Correlation of the 20 ms loudness envelopes, at the best shift up to 0.3 s (codec delay)."""

    def envelope(x: np.ndarray) -> np.ndarray:
        n = len(x) // 320
        return np.asarray(np.sqrt(np.mean(x[: n * 320].reshape(n, 320) ** 2, axis=1)))

    a, b = envelope(original), envelope(decoded)
    n = min(len(a), len(b)) - 15
    return max(float(np.corrcoef(a[:n], b[lag : lag + n])[0, 1]) for lag in range(15))


WAVS = {
    "pcm16-44k-stereo": {"rate": 44_100, "channels": 2},
    "pcm16-48k": {"rate": 48_000},
    "pcm8-8k": {"rate": 8_000, "width": 1},
    "pcm24-22k": {"rate": 22_050, "width": 3},
    "pcm32": {"rate": 16_000, "width": 4},
    "float32-32k": {"rate": 32_000, "width": 4, "tag": 3},
}


@pytest.mark.parametrize("kind", sorted(WAVS))
def test_wav_of_any_rate_width_and_channels(kind: str, speech: np.ndarray, tmp_path: Path) -> None:
    """WAV at any rate, 8-32 bit, float, μ-law and A-law, mono or stereo: 16 kHz mono, same length, same sound."""
    options = dict(WAVS[kind])
    rate = int(options.pop("rate"))
    path = tmp_path / f"{kind}.wav"
    path.write_bytes(formats.wav_bytes(formats.resample(speech, rate), rate=rate, **options))
    decoded = decode.read(path)
    assert abs(len(decoded) - len(speech)) < 0.01 * len(speech)
    assert _similar(decoded, speech) > 0.95


@pytest.mark.parametrize(
    "case",
    [
        ("mp3", "mp3", "libmp3lame", 16_000),
        ("m4a", "mp4", "aac", 44_100),
        ("ogg", "ogg", "libopus", 48_000),
        ("flac", "flac", "flac", 16_000),
        ("wav", "wav", "pcm_mulaw", 8_000),
        ("wav", "wav", "pcm_alaw", 8_000),
    ],
)
def test_compressed_formats(case: tuple[str, str, str, int], speech: np.ndarray, tmp_path: Path) -> None:
    """mp3, AAC in mp4/m4a, Opus in ogg, FLAC, and μ-law / A-law WAV decode to the same speech."""
    suffix, container, codec, rate = case
    path = formats.encoded(speech, tmp_path / f"x.{suffix}", container=container, codec=codec, rate=rate)
    decoded = decode.read(path)
    assert abs(len(decoded) - len(speech)) < 0.05 * len(speech)
    assert _similar(decoded, speech) > 0.9


def test_video_audio_track() -> None:
    """The audio track of the corpus mp4 video."""
    assert 10 < len(decode.read(CORPUS / "media" / "video-brief.mp4")) / 16_000 < 13


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"not a medium at all" * 50, "could not be opened"), (b"", "could not be opened")],
)
def test_undecodable_bytes_say_why(content: bytes, reason: str, tmp_path: Path) -> None:
    """Bytes that are no medium raise Undecodable with a reason, never an FFmpeg traceback."""
    path = tmp_path / "bad.bin"
    path.write_bytes(content)
    with pytest.raises(Undecodable, match=reason):
        decode.read(path)


def test_a_video_without_sound_is_undecodable(tmp_path: Path) -> None:
    """A medium without an audio track is refused with that reason."""
    import av  # noqa: PLC0415

    path = tmp_path / "mute.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width, stream.height = 32, 32
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 40, dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with pytest.raises(Undecodable, match="no audio track"):
        decode.read(path)
