"""Regenerate the speech corpus bit for bit from `cast.toml` and `scenes.toml`.

Needs Debian's `flite`, `espeak-ng`, `sox` and `ffmpeg` (for the one mp4):

    apt-get install -y flite espeak-ng sox ffmpeg
    python corpus/build.py            # rewrite media/, enrol/, scripts/, index.json
    python corpus/build.py --check    # rebuild in a temporary folder and compare every byte

Invariants: every file is 16 kHz mono 16-bit PCM (the mp4 carries the same audio as AAC); a script's
`start`/`end` are exact sample positions of each utterance in its file; `index.json` maps the SHA-256 of each
media file to its script, which is how the emulator recognises corpus media however it is submitted.
Determinism: the synthesizers are deterministic, `sox -R` disables dither randomness, silence between lines is
fixed by position, and ffmpeg runs single-threaded with bit-exact flags.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import tomllib
import wave
from pathlib import Path

HERE = Path(__file__).resolve().parent
RATE = 16_000
PAUSES = (0.45, 0.7, 0.35, 0.9, 0.55)  # seconds of silence after line i, by i % 5
EDGE = 0.5  # seconds of silence at the start and the end of every file


def synthesize(person: dict[str, object], text: str, out: Path, work: Path) -> None:
    """Speak `text` in `person`'s voice into `out`, 16 kHz mono, edges trimmed."""
    raw = work / "raw.wav"
    if person["engine"] == "flite":
        cmd = ["flite", "-voice", str(person["voice"]), "-t", text, "-o", str(raw)]
    else:
        cmd = ["espeak-ng", "-v", str(person["voice"]), "-p", str(person["pitch"]),
               "-s", str(person["rate"]), "-w", str(raw), text]
    subprocess.run(cmd, check=True, capture_output=True)
    trim = ["silence", "1", "0.02", "-50d", "reverse", "silence", "1", "0.02", "-50d", "reverse"]
    subprocess.run(["sox", "-R", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed",
                    str(out), *trim], check=True, capture_output=True)


def read_pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        return w.readframes(w.getnframes())


def write_wav(path: Path, pcm: bytes) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)


def silence(seconds: float) -> bytes:
    return b"\x00\x00" * round(seconds * RATE)


def build_recording(rec: dict, cast: dict, out: Path, work: Path) -> dict:
    """Write one recording's WAV and return its ground-truth script."""
    pcm = bytearray(silence(EDGE))
    utterances = []
    for i, (speaker, text) in enumerate(rec["lines"]):
        piece = work / "line.wav"
        synthesize(cast[speaker], text, piece, work)
        start = len(pcm) // 2
        pcm += read_pcm(piece)
        utterances.append({"speaker": speaker, "start": start / RATE, "end": len(pcm) // 2 / RATE,
                           "text": text})
        pcm += silence(PAUSES[i % len(PAUSES)] if i + 1 < len(rec["lines"]) else EDGE)
    wav = out / "media" / f"{rec['id']}.wav"
    write_wav(wav, bytes(pcm))
    media = wav
    if rec.get("video"):
        media = out / "media" / f"{rec['id']}.mp4"
        make_mp4(wav, media)
        wav.unlink()
    script = {"id": rec["id"], "media": media.relative_to(out).as_posix(),
              "duration": len(pcm) // 2 / RATE, "topics": rec.get("topics", []),
              "utterances": utterances}
    if "conversation" in rec:
        script["conversation"] = rec["conversation"]
        script["part"] = rec["part"]
    return script


def make_mp4(wav: Path, mp4: Path) -> None:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-threads", "1",
         "-f", "lavfi", "-i", "color=c=navy:s=160x120:r=5", "-i", str(wav), "-shortest",
         "-c:v", "mpeg4", "-q:v", "10", "-c:a", "aac", "-b:a", "48k", "-ar", str(RATE), "-ac", "1",
         "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
         str(mp4)],
        check=True)


def build(out: Path) -> None:
    cast = tomllib.loads((HERE / "cast.toml").read_text())["people"]
    scenes = tomllib.loads((HERE / "scenes.toml").read_text())
    for sub in ("media", "enrol", "scripts"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    index = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for rec in scenes["recording"]:
            script = build_recording(rec, cast, out, work)
            digest = hashlib.sha256((out / script["media"]).read_bytes()).hexdigest()
            script["sha256"] = digest
            (out / "scripts" / f"{rec['id']}.json").write_text(json.dumps(script, indent=1) + "\n")
            index[digest] = f"scripts/{rec['id']}.json"
        for key, person in cast.items():
            piece = work / "enrol.wav"
            synthesize(person, scenes["enrolment"]["text"], piece, work)
            write_wav(out / "enrol" / f"{key}.wav", silence(0.3) + read_pcm(piece) + silence(0.3))
    (out / "index.json").write_text(json.dumps(dict(sorted(index.items())), indent=1) + "\n")


def files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for sub in ("media", "enrol", "scripts") for p in sorted((root / sub).glob("*"))} | {
        "index.json": hashlib.sha256((root / "index.json").read_bytes()).hexdigest()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="rebuild elsewhere and compare bytes")
    args = parser.parse_args()
    if not args.check:
        build(HERE)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp))
        fresh, committed = files(Path(tmp)), files(HERE)
    differ = sorted(k for k in fresh.keys() | committed.keys() if fresh.get(k) != committed.get(k))
    for name in differ:
        print(f"differs: {name}", file=sys.stderr)
    print("corpus is bit-for-bit reproducible" if not differ else f"{len(differ)} files differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
