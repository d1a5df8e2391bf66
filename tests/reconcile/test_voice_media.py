"""Voice from every medium the run accepts: the speech backend's one decoder reads conversation media and
enrolment samples in every format to the same voice, and a file that gives no voice says why, naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from batch import InputError, load_manifest
from reconcile.voice import audio
from reconcile.voice.embedder import Embedder, available
from tests.speech import formats
from tests.support.server import CORPUS

pytestmark = pytest.mark.skipif(not available(), reason="the voice extra (onnxruntime, PyAV) is not installed")
SOURCE = CORPUS / "enrol" / "john.wav"  # 16 kHz mono 16-bit, 10 s of one speaker
SAME_VOICE = 0.9  # cosine; two different people of the corpus are about 0.45 apart

WAVS = {
    "pcm16-44k-stereo": {"rate": 44_100, "channels": 2},
    "pcm16-48k": {"rate": 48_000},
    "pcm24-22k": {"rate": 22_050, "width": 3},
    "pcm32-16k": {"rate": 16_000, "width": 4},
    "float32-32k": {"rate": 32_000, "width": 4, "tag": 3},
}
COMPRESSED = {  # suffix, container, codec, rate
    "mp3": ("mp3", "mp3", "libmp3lame", 44_100),
    "m4a": ("m4a", "mp4", "aac", 44_100),
    "ogg": ("ogg", "ogg", "libopus", 48_000),
    "flac": ("flac", "flac", "flac", 16_000),
}
NARROW = {  # 8 kHz media: telephone codecs and 8-bit PCM
    "mulaw-8k": "pcm_mulaw",
    "alaw-8k": "pcm_alaw",
    "pcm8-8k": "pcm_u8",
    "pcm16-8k": "pcm_s16le",
}


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return formats.pcm16(SOURCE)


def _cosine(a: np.ndarray | None, b: np.ndarray | None) -> float:
    assert a is not None and b is not None
    return float(a @ b)


def _below(samples: np.ndarray, hz: float) -> np.ndarray:
    """The same speech with nothing above `hz` (what an 8 kHz medium can carry), still at 16 kHz."""
    spectrum = np.fft.rfft(samples)
    spectrum[np.fft.rfftfreq(len(samples), 1 / formats.RATE) > hz] = 0
    return np.fft.irfft(spectrum, len(samples)).astype(np.float32)


def _video(samples: np.ndarray, path: Path) -> Path:
    """An mp4 with a small picture track and the speech as AAC: a recorded call."""
    import av  # noqa: PLC0415 - the voice extra, present when this module runs

    with av.open(str(path), "w", format="mp4") as out:
        picture: Any = out.add_stream("mpeg4", rate=5)  # PyAV types streams as a union
        picture.width, picture.height, picture.pix_fmt = 32, 32, "yuv420p"
        sound: Any = out.add_stream("aac", rate=formats.RATE, layout="mono")
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
        for at in range(0, len(pcm), 1024):
            frame = av.AudioFrame.from_ndarray(pcm[None, at : at + 1024], format="s16", layout="mono")
            frame.sample_rate = formats.RATE
            out.mux(sound.encode(frame))
        out.mux(sound.encode(None))
        for index in range(int(5 * len(samples) / formats.RATE)):
            image = np.full((32, 32, 3), index % 255, dtype=np.uint8)
            out.mux(picture.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(picture.encode(None))
    return path


def _medium(kind: str, speech: np.ndarray, folder: Path) -> Path:
    if kind in WAVS:
        options = dict(WAVS[kind])
        rate = int(options.pop("rate"))
        path = folder / f"{kind}.wav"
        path.write_bytes(formats.wav_bytes(formats.resample(speech, rate), rate=rate, **options))
        return path
    if kind in COMPRESSED:
        suffix, container, codec, rate = COMPRESSED[kind]
        return formats.encoded(speech, folder / f"john.{suffix}", container=container, codec=codec, rate=rate)
    return _video(speech, folder / "call.mp4")


@pytest.mark.parametrize("kind", [*WAVS, *COMPRESSED, "mp4-video"])
def test_every_medium_gives_the_voice_of_the_16k_wav(
    kind: str, speech: np.ndarray, embedder: Embedder, tmp_path: Path
) -> None:
    """WAV of any rate, width and channels, mp3, m4a, ogg, flac and an mp4 video: read as conversation media
    (read_audio) and as an enrolment sample (embed_file), the voice is the 16 kHz WAV's (cosine > 0.9)."""
    reference = embedder.embed_file(SOURCE)
    path = _medium(kind, speech, tmp_path)
    decoded = audio.read_audio(path)
    assert decoded.samples is not None and decoded.problem is None
    assert _cosine(embedder.embed(decoded.samples), reference) > SAME_VOICE
    assert _cosine(embedder.embed_file(path), reference) > SAME_VOICE and embedder.problem(path) is None


@pytest.mark.parametrize("kind", sorted(NARROW))
def test_8k_media_give_the_voice_of_the_same_band_at_16k(
    kind: str, speech: np.ndarray, embedder: Embedder, tmp_path: Path
) -> None:
    """μ-law, A-law, 8- and 16-bit PCM at 8 kHz: the voice of the same speech (below 4 kHz) as a 16 kHz WAV.
    (Against the full-band recording the cosine is about 0.8: telephone audio lacks the band above 4 kHz.)"""
    narrow = _below(speech, 3_900)
    wide_band = tmp_path / "narrow-16k.wav"
    wide_band.write_bytes(formats.wav_bytes(narrow, rate=formats.RATE))
    path = formats.encoded(narrow, tmp_path / f"{kind}.wav", container="wav", codec=NARROW[kind], rate=8_000)
    assert _cosine(embedder.embed_file(path), embedder.embed_file(wide_band)) > SAME_VOICE


def test_the_committed_video_is_read() -> None:
    """The audio track of the corpus mp4 is decoded for voice (about 11 s at 16 kHz)."""
    decoded = audio.read_audio(CORPUS / "media" / "video-brief.mp4")
    assert decoded.samples is not None and 10 < len(decoded.samples) / formats.RATE < 13
    assert audio.read_wav(CORPUS / "media" / "video-brief.mp4") is not None  # the old name, kept for callers


def _mute_video(path: Path) -> Path:
    import av  # noqa: PLC0415 - the voice extra, present when this module runs

    with av.open(str(path), "w") as out:
        stream: Any = out.add_stream("mpeg4", rate=5)
        stream.width, stream.height = 32, 32
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 40, dtype=np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda folder: _write(folder / "junk.wav", b"not a medium at all" * 50), "could not be opened"),
        (lambda folder: _write(folder / "empty.mp3", b""), "could not be opened"),
        (lambda folder: _mute_video(folder / "mute.mp4"), "no audio track"),
        (lambda folder: folder / "absent.wav", "could not be opened"),
    ],
)
def test_a_file_without_voice_says_why_naming_it(make: Any, reason: str, embedder: Embedder, tmp_path: Path) -> None:
    """Junk, an empty file, a video without sound, a missing file: no samples, and one sentence naming the file."""
    path: Path = make(tmp_path)
    decoded = audio.read_audio(path)
    assert decoded.samples is None and decoded.reason is not None and reason in decoded.reason
    assert decoded.problem is not None and decoded.problem.startswith(f"{path}: no voice evidence from it: ")
    assert embedder.embed_file(path) is None
    problem = embedder.problem(path)
    assert problem is not None and problem.startswith(f"{path}: ")


def test_a_short_sample_says_it_is_too_short(embedder: Embedder, speech: np.ndarray, tmp_path: Path) -> None:
    """An enrolment sample under a second gives no voice, and says so."""
    path = _write(tmp_path / "short.wav", formats.wav_bytes(speech[:8_000], rate=formats.RATE))
    assert embedder.embed_file(path) is None
    assert embedder.problem(path) == f"{path}: no voice evidence from it: shorter than 1 s"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _manifest(folder: Path, enrolment: str) -> Path:
    path = folder / "people.toml"
    path.write_text(
        f'[[people]]\nname = "John Doe"\nemail = "john@example.com"\nenrolment = "{enrolment}"\n'
        f'[[conversations]]\nid = "c"\n  [[conversations.segments]]\n  file = "{CORPUS / "media" / "solo-memo.wav"}"\n'
    )
    return path


def test_the_manifest_takes_an_enrolment_sample_in_any_medium(speech: np.ndarray, tmp_path: Path) -> None:
    """An mp3 enrolment sample is accepted; a missing one names the media that would do."""
    formats.encoded(speech, tmp_path / "john.mp3", container="mp3", codec="libmp3lame", rate=44_100)
    (person,) = load_manifest(_manifest(tmp_path, "john.mp3"), environ={}).people
    assert person.enrolment == tmp_path / "john.mp3"
    with pytest.raises(InputError) as raised:
        load_manifest(_manifest(tmp_path, "nope.ogg"), environ={})
    assert "file not found: nope.ogg; give a recording of the person's voice (WAV, mp3, mp4, m4a, ogg or flac)" in str(
        raised.value
    )
