"""`symbl-batch emulator worker` and `symbl-batch emulator queue`: the shared service's two other commands.

Exit codes: 0 stopped by a signal (or the queue printed); 2 bad options, models missing or the database unusable.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from batch.emulator.cluster.database import DatabaseError, open_database
from batch.emulator.cluster.inspect import queue_view, render
from batch.emulator.cluster.schema import migrate
from batch.emulator.cluster.worker import WorkerSettings, open_worker
from speech.errors import SpeechError

DATABASE_ENV = "SYMBL_DATABASE_URL"


def _database(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--database",
        default=os.environ.get(DATABASE_ENV),
        help=f"postgresql://... or sqlite:///file (default: ${DATABASE_ENV})",
    )


def worker_parser() -> argparse.ArgumentParser:
    defaults = WorkerSettings(url="")
    p = argparse.ArgumentParser(prog="symbl-emulator worker", description="A speech worker of the shared service.")
    _database(p)
    p.add_argument("--mode", choices=("real", "scripted"), default="real", help="real speech (default) or scripts")
    p.add_argument("--time-scale", type=float, default=defaults.time_scale, help="scripted: s of work per s of media")
    p.add_argument("--lease", type=float, default=defaults.lease_seconds, help="lease length, s (default 30)")
    p.add_argument("--poll", type=float, default=defaults.poll_seconds, help="idle poll interval, s (default 0.2)")
    p.add_argument("--max-attempts", type=int, default=defaults.max_attempts, help="workers a job may outlive (3)")
    p.add_argument("--seed", type=int, default=0, help="scripted: seed of speaker numbering (default 0)")
    return p


def _fail(message: str) -> int:
    print(f"symbl-emulator: {message}", file=sys.stderr)
    return 2


def worker_main(argv: list[str]) -> int:
    args = worker_parser().parse_args(argv)
    if args.database is None:
        return _fail(f"worker needs --database URL (or ${DATABASE_ENV})")
    if args.lease <= 0 or args.poll <= 0 or args.max_attempts < 1 or args.time_scale < 0:
        return _fail("--lease and --poll must be positive, --max-attempts at least 1, --time-scale not negative")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = WorkerSettings(
        url=args.database, mode=args.mode, time_scale=args.time_scale, lease_seconds=args.lease,
        poll_seconds=args.poll, max_attempts=args.max_attempts, seed=args.seed,
    )  # fmt: skip
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    try:
        worker = open_worker(settings, stop)
    except (DatabaseError, SpeechError) as exc:
        return _fail(str(exc))
    print(f"symbl-emulator worker {worker.id} ready ({args.mode})", flush=True)
    try:
        done = worker.run(stop)
    finally:
        worker.db.close()
    print(f"symbl-emulator worker {worker.id} stopped after {done} jobs", flush=True)
    return 0


def queue_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="symbl-emulator queue", description="Jobs, leases and workers, read once.")
    _database(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if args.database is None:
        return _fail(f"queue needs --database URL (or ${DATABASE_ENV})")
    try:
        db = open_database(args.database)
        try:
            migrate(db)
            view = queue_view(db)
        finally:
            db.close()
    except DatabaseError as exc:
        return _fail(str(exc))
    print(json.dumps(view) if args.json else render(view))
    return 0
