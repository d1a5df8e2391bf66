"""The cost of a durable state: `synchronous=FULL` against `NORMAL` (SQLite WAL), side by side in one run, on the
same disk, with the lifecycle a recording really goes through (five committed transitions, history included).

    python -m tests.benchmarks.durability [--recordings 2000]

Prints seconds per 1,000 recordings in each mode and their ratio (these machines are shared and noisy: only the
ratio measured in one run means anything). `FULL` is what the state uses: with WAL, `NORMAL` lets a power loss
roll back a committed intent whose request already went out.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from batch import Store
from batch.lifecycle import Status

LIFE = (Status.SUBMITTING, Status.SUBMITTED, Status.FINISHED, Status.SAVED)


def lifecycles(folder: Path, recordings: int, synchronous: str) -> float:
    """Seconds for `recordings` full lifecycles (insert + four moves, each its own commit) in one mode."""
    with Store(folder / f"{synchronous}.sqlite") as store:
        store.db.execute(f"PRAGMA synchronous={synchronous}")
        started = time.perf_counter()
        for n in range(recordings):
            key = f"c{n}/1"
            store.insert(key, f"c{n}", 0, "f" * 64)
            store.move(key, LIFE[0], evidence={"intent": f"c{n} [symbl-batch 0123456789ab]"})
            store.move(key, LIFE[1], conversation_id=str(n), job_id=f"job-{n}")
            store.move(key, LIFE[2])
            store.move(key, LIFE[3], message_ids=[f"m{n}"])
        return time.perf_counter() - started


def measure(recordings: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=".") as tmp:  # the project's disk, as a real state would be
        folder = Path(tmp)
        normal = lifecycles(folder, recordings, "NORMAL")
        full = lifecycles(folder, recordings, "FULL")
    per = 1000 / recordings
    return {
        "recordings": recordings,
        "normal_s_per_1000": round(normal * per, 3),
        "full_s_per_1000": round(full * per, 3),
        "ratio_full_to_normal": round(full / normal, 2) if normal else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=2000)
    print(json.dumps(measure(parser.parse_args().recordings), indent=1))


if __name__ == "__main__":
    main()
