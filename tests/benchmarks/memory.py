"""Scenario 5, memory, each figure from a fresh process:

- the 100,000-row JSONL manifest: `symbl-batch run --dry-run`, and a real `symbl-batch run` with instant jobs
  (emulator time scale 0), watched by `watch` (peak RSS from the kernel's rusage of the child, RSS sampled twice
  a second; the real run is interrupted with SIGINT, a clean stop, when it exceeds its time budget);
- the 1 GiB upload: `upload` runs a one-file manifest in-process twice, a small file to warm up and then the
  1 GiB one, and reports the peak RSS (VmHWM, reset after the warm-up) minus the RSS before it.

    python -m tests.benchmarks.memory watch BUDGET_SECONDS -- COMMAND ...
    python -m tests.benchmarks.memory upload WARMUP_MANIFEST MANIFEST
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def wav_header(data_bytes: int, rate: int) -> bytes:
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def sparse_wav(path: Path, size: int, rate: int = 16000) -> Path:
    """A WAV of exactly `size` bytes whose samples are a hole in the file: no disk, no time to write."""
    with path.open("wb") as handle:
        handle.write(wav_header(size - 44, rate))
        handle.truncate(size)
    return path


def hundred_thousand(folder: Path, rows: int, api: dict[str, Any]) -> Path:
    """A JSONL manifest of `rows` one-file conversations; the files are hard links to one 2-second WAV."""
    media = folder / "media"
    media.mkdir(parents=True)
    lines = [json.dumps({"api": api})]
    for i in range(rows):
        original = media / f"m{i // 50_000}.wav"  # a file may have at most 65,000 links on ext4
        if i % 50_000 == 0:
            original.write_bytes(wav_header(4000, 1000) + b"\x01\x00" * 2000)
        link = media / f"r{i:06d}.wav"
        os.link(original, link)
        lines.append(json.dumps({"conversation": f"c{i:06d}", "file": str(link)}))
    manifest = folder / "big.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def _status(pid: int | str, field: str) -> int:
    """A /proc/<pid>/status field, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    raise KeyError(field)


def watch(budget: float, command: list[str]) -> dict[str, Any]:
    log = tempfile.TemporaryFile()  # noqa: SIM115 - a pipe would fill up and stall the child
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    samples: list[tuple[float, int]] = []
    started, interrupted = time.monotonic(), False
    while proc.poll() is None:
        with contextlib.suppress(OSError, KeyError):
            samples.append((round(time.monotonic() - started, 1), _status(proc.pid, "VmRSS")))
        if not interrupted and time.monotonic() - started > budget:
            proc.send_signal(signal.SIGINT)
            interrupted = True
        time.sleep(0.5)
    log.seek(max(0, log.seek(0, 2) - 2000))
    err = log.read().decode(errors="replace")
    return {
        "returncode": proc.returncode,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "seconds": round(time.monotonic() - started, 1),
        "interrupted": interrupted,
        "samples": samples,
        "stderr_tail": err[-500:] if proc.returncode not in (0, 130) else "",
    }


async def _run(manifest: Path) -> int:
    from batch import open_run  # noqa: PLC0415 - imported before the baseline is taken, in `upload`

    async with open_run(manifest) as run:
        report = await run.run()
    return int(report.totals.get("saved", 0))


def upload(warmup: Path, manifest: Path) -> dict[str, Any]:
    import batch  # noqa: F401, PLC0415 - every import done before the baseline

    warm = asyncio.run(_run(warmup))
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (the peak) to the current RSS
    baseline = _status("self", "VmRSS")
    started = time.monotonic()
    saved = asyncio.run(_run(manifest))
    peak = _status("self", "VmHWM")
    return {
        "warmup_saved": warm,
        "saved": saved,
        "file_bytes": _first_file_size(manifest),
        "seconds": round(time.monotonic() - started, 1),
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak,
        "growth_mb": peak - baseline,
    }


def _first_file_size(manifest: Path) -> int:
    row = json.loads(manifest.read_text().splitlines()[1])
    return Path(row["file"]).stat().st_size


def main() -> int:
    if sys.argv[1] == "watch":
        print(json.dumps(watch(float(sys.argv[2]), sys.argv[sys.argv.index("--") + 1 :])))
    elif sys.argv[1] == "upload":
        print(json.dumps(upload(Path(sys.argv[2]), Path(sys.argv[3]))))
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
