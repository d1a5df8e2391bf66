"""The emulator's command line (also reached as `symbl-batch emulator`).

Exit codes: 0 stopped (SIGINT, SIGTERM or SIGHUP: stopping is how a server ends, so a stop is no failure);
2 bad options or models missing; 3 the data directory is in use by another server.
Rule: the stop signals are handled by the loop from the start, before the app is built (loading a real-mode
backend takes a while), so one that arrives early still stops the server cleanly. With `--drain S` the first
one starts S seconds of lame duck (serving, health 503, connections closed after each answer) and a second ends
them early; then the server stops listening and finishes the requests in progress.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

from batch.emulator.app import create_app
from batch.emulator.backend import Settings
from batch.emulator.cluster.commands import DATABASE_ENV, queue_main, worker_main
from batch.emulator.cluster.database import DatabaseError, redacted
from batch.emulator.corpus import DEFAULT_CORPUS
from batch.emulator.faults import FaultPlan, FaultSpecError
from batch.emulator.runtime import EMULATOR
from batch.emulator.storage import StorageError, StoreLocked
from speech.errors import SpeechError


def parser() -> argparse.ArgumentParser:
    defaults = Settings()
    p = argparse.ArgumentParser(
        prog="symbl-emulator",
        description="A faithful emulator of the Symbl.ai Async and Conversation APIs, for demos and tests.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default 0)")
    p.add_argument("--app-id", default=defaults.app_id, help=f"the accepted appId (default {defaults.app_id})")
    p.add_argument(
        "--app-secret", default=defaults.app_secret, help=f"the accepted appSecret (default {defaults.app_secret})"
    )
    p.add_argument(
        "--concurrency-limit",
        type=int,
        default=defaults.concurrency_limit,
        help="concurrent jobs per account before 429 (default 5)",
    )
    p.add_argument(
        "--time-scale",
        type=float,
        default=defaults.time_scale,
        help="seconds of processing per second of media; 0 finishes on the next poll (default 0.05)",
    )
    p.add_argument(
        "--mode",
        choices=("real", "scripted"),
        default="real",
        help="real: recognise and diarize every medium (default); scripted: answer from the corpus scripts",
    )
    p.add_argument("--workers", type=int, default=None, help="real mode: speech worker processes (default: the cores)")
    p.add_argument("--seed", type=int, default=0, help="seed for ids, speaker numbering and faults (default 0)")
    p.add_argument("--token-ttl", type=float, default=defaults.token_ttl, help="token lifetime, s (default 86400)")
    p.add_argument(
        "--max-upload-bytes",
        type=int,
        default=defaults.max_upload_bytes,
        help="upload size limit; larger gets 413 (default 1 GiB)",
    )
    p.add_argument("--faults", default=None, help="fault specification: JSON text or @file (see README)")
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        help="a non-loopback host the emulator may fetch URLs from and send webhooks to (repeatable)",
    )
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus folder with index.json")
    p.add_argument(
        "--database",
        default=os.environ.get(DATABASE_ENV),
        help=f"share the account with other servers and speech workers through this database: postgresql://... or"
        f" sqlite:///file (default: ${DATABASE_ENV}; prefer it to keep a password out of the process list)",
    )
    p.add_argument(
        "--drain",
        type=float,
        default=0.0,
        help="on a stop signal, keep serving this many seconds while GET /_emulator/health answers 503, so a"
        " load balancer stops sending first (default 0; behind a balancer: more than its health-check interval)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep conversations, jobs, tokens and uploads here across restarts (default: memory only)",
    )
    return p


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings(
        app_id=args.app_id,
        app_secret=args.app_secret,
        concurrency_limit=args.concurrency_limit,
        time_scale=args.time_scale,
        token_ttl=args.token_ttl,
        max_upload_bytes=args.max_upload_bytes,
        seed=args.seed,
        allowed_hosts=tuple(h.lower() for h in args.allow_host),
        mode=args.mode,
        workers=args.workers,
    )


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


async def serve(args: argparse.Namespace, faults: FaultPlan) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    app = create_app(
        settings_from(args), faults=faults, corpus_dir=args.corpus, data_dir=args.data_dir, database=args.database
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    server = site._server  # aiohttp exposes the bound sockets only here
    port = server.sockets[0].getsockname()[1] if server is not None and hasattr(server, "sockets") else args.port
    host = f"[{args.host}]" if ":" in args.host else args.host
    kept = f" (data kept in {args.data_dir})" if args.data_dir is not None else ""
    if args.database is not None:
        kept = f" (account shared through {redacted(args.database)})"
    print(f"symbl-emulator listening on http://{host}:{port}{kept}", flush=True)
    await stop.wait()
    if args.drain > 0:  # lame duck: still serving, health says 503, every answer closes its connection
        app[EMULATOR].draining = True
        stop.clear()
        with contextlib.suppress(TimeoutError):  # a second stop signal ends the drain early
            await asyncio.wait_for(stop.wait(), args.drain)
    await runner.cleanup()  # stops listening, then lets the requests in progress finish (aiohttp: up to 60 s)


def main(argv: list[str] | None = None) -> int:
    """`[serve] OPTIONS` (the API server), `worker OPTIONS` (a speech worker), `queue OPTIONS` (the queue)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        return worker_main(argv[1:])
    if argv[:1] == ["queue"]:
        return queue_main(argv[1:])
    return serve_main(argv[1:] if argv[:1] == ["serve"] else argv)


def _invalid(args: argparse.Namespace) -> str | None:
    """What is wrong with the server's options, in one sentence; None when nothing is."""
    if args.database is not None and args.data_dir is not None:
        return "give either --database (shared) or --data-dir (one server), not both"
    for name in ("concurrency_limit", "time_scale", "token_ttl", "max_upload_bytes", "drain"):
        if getattr(args, name) < 0:
            return f"--{name.replace('_', '-')} must not be negative"
    if args.workers is not None and args.workers < 1:
        return "--workers must be at least 1"
    return None


def serve_main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    problem = _invalid(args)
    try:
        faults = FaultPlan.from_text(args.faults) if args.faults else FaultPlan()
    except FaultSpecError as exc:
        problem = problem or str(exc)
    if problem is not None:
        print(f"symbl-emulator: {problem}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(args, faults))
    except (SpeechError, DatabaseError) as exc:  # a model package missing, the shared database unusable
        print(f"symbl-emulator: {exc}", file=sys.stderr)
        return 2
    except StorageError as exc:  # the data directory is in use by another server, or unusable
        print(f"symbl-emulator: {exc}", file=sys.stderr)
        return 3 if isinstance(exc, StoreLocked) else 2
    return 0
