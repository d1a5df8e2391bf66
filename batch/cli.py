"""`symbl-batch`: the command line.

    symbl-batch run MANIFEST [--emulator] [--state PATH] [--output DIR] [--concurrency N]
    symbl-batch emulator [OPTIONS]      the Symbl API emulator, standalone

Exit codes: 0 every recording saved; 1 some recordings did not finish (reported); 2 bad input or
configuration; 3 another run holds the state's lock; 130 interrupted (state stays consistent; re-run resumes).
Logs: one JSON object per line on stderr for every transition, carrying segment, conversation, conversation id,
job id and manifest line. Secrets never appear in them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import orjson
from aiohttp import web

from batch import manifest as manifest_module
from batch.emulator.app import create_app
from batch.emulator.backend import Settings
from batch.emulator.cli import main as emulator_main
from batch.errors import InputError, LockedError, StateError
from batch.events import Event
from batch.models import Manifest
from batch.report import Report
from batch.runner import open_run, options_for

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_LOCKED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EMULATOR_SETTINGS = Settings(time_scale=0.01, concurrency_limit=5)


def _log(event: Event) -> None:
    sys.stderr.write(orjson.dumps(event.as_dict()).decode() + "\n")
    sys.stderr.flush()


def _summary(report: Report) -> str:
    lines = ["", f"{'segment':<36} {'status':<10} {'messages':>8}  error"]
    for row in report.segments:
        lines.append(f"{row['segment']:<36} {row['status']:<10} {row['messages']:>8}  {row['error'] or ''}")
    lines.append("totals: " + ", ".join(f"{k} {v}" for k, v in sorted(report.totals.items())))
    return "\n".join(lines)


@contextlib.asynccontextmanager
async def embedded_emulator(manifest: Manifest) -> AsyncIterator[Manifest]:
    """Start the emulator in-process on loopback and point the manifest's API settings at it."""
    runner = web.AppRunner(create_app(EMULATOR_SETTINGS), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    api = replace(
        manifest.api,
        base_url=site.name.rstrip("/"),
        app_id=EMULATOR_SETTINGS.app_id,
        app_secret=EMULATOR_SETTINGS.app_secret,
        poll_min=min(manifest.api.poll_min, 0.1),
        poll_cap=min(manifest.api.poll_cap, 1.0),
        lost_answer_grace=min(manifest.api.lost_answer_grace, 0.5),
    )
    try:
        yield replace(manifest, api=api)
    finally:
        await runner.cleanup()


async def _run(args: argparse.Namespace) -> int:
    loaded = manifest_module.load(Path(args.manifest))
    async with contextlib.AsyncExitStack() as stack:
        if args.emulator:
            loaded = await stack.enter_async_context(embedded_emulator(loaded))
        options = replace(options_for(loaded), restart_unfinished=args.emulator)
        run = await stack.enter_async_context(
            open_run(
                loaded,
                options=options,
                on_event=_log,
                state=args.state,
                output=args.output,
                concurrency=args.concurrency,
            )
        )
        report = await run.run()
    print(_summary(report))
    return EXIT_OK if report.ok else EXIT_FAILED


def _run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="symbl-batch run", description="Process every recording of a manifest.")
    p.add_argument("manifest", help="a .toml or .jsonl manifest")
    p.add_argument("--emulator", action="store_true", help="start the embedded emulator and run against it")
    p.add_argument("--state", type=Path, help="state file (default: <output>/state.sqlite)")
    p.add_argument("--output", type=Path, help="output directory (default: the manifest's api.output)")
    p.add_argument("--concurrency", type=int, help="concurrent-job ceiling (default: the manifest's api.concurrency)")
    return p


def run_command(argv: list[str]) -> int:
    args = _run_parser().parse_args(argv)
    if args.concurrency is not None and args.concurrency < 1:
        print("symbl-batch: --concurrency must be at least 1", file=sys.stderr)
        return EXIT_INPUT
    try:
        return asyncio.run(_run(args))
    except LockedError as exc:
        print(f"symbl-batch: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    except (InputError, StateError) as exc:
        print(f"symbl-batch: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print(
            "symbl-batch: interrupted; the state is consistent, run the same command again to resume", file=sys.stderr
        )
        return EXIT_INTERRUPTED


USAGE = """symbl-batch COMMAND [ARGS]

commands:
  run MANIFEST [--emulator] [--state PATH] [--output DIR] [--concurrency N]
                       process every recording of a manifest (see README)
  emulator [OPTIONS]   run the Symbl API emulator standalone (see `symbl-batch emulator --help`)
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return EXIT_OK if args else EXIT_INPUT
    command, rest = args[0], args[1:]
    commands: dict[str, Callable[[list[str]], int]] = {
        "run": run_command,
        "emulator": emulator_main,
    }
    if command not in commands:
        print(f"symbl-batch: unknown command '{command}'; valid commands: {', '.join(commands)}", file=sys.stderr)
        return EXIT_INPUT
    return commands[command](rest)


if __name__ == "__main__":
    sys.exit(main())
