"""`symbl-batch`: the command line (click), for people at a terminal and for cron.

Exit codes: 0 every recording saved; 1 some recordings did not finish, a hook (reconciliation) failed, or the
state could not be written (all reported); 2 bad input or configuration; 3 another run holds the state's or the
output folder's lock; 4 the API is unreachable (nothing was sent; run again later); stopped by a signal,
128 + its number (the shell's convention): 129 SIGHUP, 130 SIGINT (Ctrl-C), 143 SIGTERM (cron, systemd,
Kubernetes).

Rule: a stop signal cancels the run's main task, so asyncio unwinds every task and only committed transitions are
left behind (the state stays consistent, the same command resumes); the report of what is committed is written,
one line says so and the command exits with the signal's code. Later signals are ignored while the run unwinds
(it takes moments, and a second Ctrl-C must not turn a clean stop into a traceback); SIGKILL remains for a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import signal
import sys
from collections.abc import AsyncIterator, Coroutine, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import click
from aiohttp import web
from rich.table import Table

from batch import dryrun, logs, outputs, prepare, status
from batch import manifest as manifest_module
from batch.errors import BatchError, InputError, LockedError, StateError, StateWriteError, Unreachable
from batch.events import Event
from batch.models import Manifest
from batch.paths import check_run_paths
from batch.progress import Output, ProgressView
from batch.render import clock
from batch.runner import credentials, open_run, options_for, override
from batch.store import Store
from speech.errors import SpeechError

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_LOCKED, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
EMULATOR_TIME_SCALE = 0.01  # the embedded scripted backend's seconds of processing per second of media
# seconds of processing per second of media, for the first polls: scripted is the time scale; real is the
# pipeline's measured speed on one worker (about 8-14x real time, see docs/speech-backend.md), rounded up
SPEED_GUESS = {"scripted": EMULATOR_TIME_SCALE, "real": 0.12}
# The local backend and the reconcile commands are imported when used: a run against a remote API (a cron job
# with a million rows) does not load the server, its speech code or numpy.


BACKEND_DATA = "backend"  # the embedded server's data directory, beside the run's state and outputs


def backend_dir(manifest: Manifest, given: Path | None) -> Path:
    """Where the embedded server keeps its data: `given` (--backend-data), else `<output>/backend/`."""
    if given is not None:
        return given
    default = manifest.api.output / BACKEND_DATA
    if any(c.id == BACKEND_DATA for c in manifest.conversations):
        raise InputError(
            f"{manifest.path}: conversation id '{BACKEND_DATA}' would write its results into {default}, where "
            "the embedded server keeps its data; rename the conversation or pass --backend-data DIR"
        )
    return default


@contextlib.asynccontextmanager
async def embedded_emulator(
    manifest: Manifest, *, mode: str = "real", data_dir: Path | None = None
) -> AsyncIterator[Manifest]:
    """Start the local backend in-process on loopback, on its kept data (`backend_dir`), and point the
    manifest's API settings at it. It remembers earlier runs, so a re-run resumes as against the real API."""
    from batch.emulator.app import create_app  # noqa: PLC0415 - only `--emulator` needs the server
    from batch.emulator.backend import Settings  # noqa: PLC0415
    from batch.emulator.storage import StorageError, StoreLocked  # noqa: PLC0415

    settings = Settings(time_scale=EMULATOR_TIME_SCALE, concurrency_limit=5, mode=mode)
    kept = backend_dir(manifest, data_dir)
    outputs.private_folder(kept.parent)  # the server makes its own folder 0700, but not the parents it needs
    try:
        app = create_app(settings, data_dir=kept)
    except StoreLocked as exc:
        raise LockedError(f"{exc} (another symbl-batch command with --emulator on it is running)") from None
    except StorageError as exc:
        raise StateError(str(exc)) from None
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    api = replace(
        manifest.api,
        base_url=site.name.rstrip("/"),
        app_id=settings.app_id,
        app_secret=settings.app_secret,
        poll_min=min(manifest.api.poll_min, 0.1),
        poll_cap=min(manifest.api.poll_cap, 1.0),
        lost_answer_grace=min(manifest.api.lost_answer_grace, 0.5),
    )
    try:
        yield replace(manifest, api=api)
    finally:
        await runner.cleanup()


async def _run(loaded: Manifest, *, emulator: str | None, data_dir: Path | None, out: Output, reconcile: bool) -> int:
    check_run_paths(loaded.api)  # refused (as open_run would) before anything is created
    if emulator is None:
        credentials(loaded)
    outputs.private_folder(loaded.api.output)  # before anything writes there: the server's data, the state, results
    outputs.private_folder(loaded.api.state.parent)
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(setattr, out, "view", None)  # last out, after the view's own exit, however the run ends
        if emulator is not None:
            loaded = await stack.enter_async_context(embedded_emulator(loaded, mode=emulator, data_dir=data_dir))
            kept = backend_dir(loaded, data_dir)
            out.event(Event("backend", detail=f"embedded server at {loaded.api.base_url}, data kept in {kept}"))
        options = options_for(loaded)
        if emulator is not None:  # its processing speed is known: the first polls need not guess
            options = replace(options, timing=replace(options.timing, speed_guess=SPEED_GUESS[emulator]))
        hook = None
        if reconcile and loaded.people:
            from reconcile.cli import after_conversation_hook  # noqa: PLC0415 - only a run with people reconciles

            hook = after_conversation_hook(use_voice=True, emit=out.event)
        run = await stack.enter_async_context(
            open_run(loaded, options=options, on_event=out.event, after_conversation=hook)
        )
        # where the results go, for `status` (which is given only the state): reconciliation records are there
        run.store.write_meta(status.OUTPUT_KEY, str(loaded.api.output.resolve()))
        if out.progress:
            out.view = stack.enter_context(ProgressView(out.err, run.latest))  # its own thread
        report = await run.run()  # stopped by a signal, it writes the committed state's report and unwinds on
    code = EXIT_OK if report.ok else EXIT_FAILED
    out.summary(report, loaded.api.output, code)
    return code


async def _dry_run(loaded: Manifest, show: int | None, out: Output) -> int:
    store = Store(loaded.api.state).open_readonly() if loaded.api.state.is_file() else None
    try:  # the earlier run's state (if any) supplies rows, the measured speed and cached file hashes
        rows: Mapping[str, Any] = store.rows() if store else {}
        speed = store.measured_speed() if store else None
        hashes = prepare.MemoryHashes(store)
        actions = []  # a few shared strings, in manifest order: fingerprints are compared here, not kept
        async for s, digest in prepare.fingerprints(hashes, loaded.segments()):
            actions.append(dryrun.action(s, rows.get(s.key), digest))
    finally:
        if store is not None:
            store.close()
    plan = dryrun.plan(loaded, actions, speed=speed, show=show)
    table = Table(title=f"dry run of {loaded.path}: nothing is sent")
    for column in ("#", "segment", "source", "kind", "size", "duration", "action"):
        table.add_column(column, overflow="fold")
    for step in plan.steps:
        seg = step.segment
        table.add_row(
            str(step.order),
            seg.key,
            str(seg.file or seg.url),
            seg.kind,
            f"{seg.size:,} B" if seg.size else "-",
            ("" if step.measured else "≈") + clock(step.seconds),
            step.action,
        )
    out.show(table)
    lines = []
    if plan.count > len(plan.steps):
        lines.append(f"… and {plan.count - len(plan.steps):,} more steps (--show 0 lists them all)")
    basis = "measured by an earlier run" if plan.speed_measured else "assumed"
    lines.append(
        f"media to process: {clock(plan.media_seconds)}; estimated job time {clock(plan.job_seconds)} "
        f"at {plan.speed:.3f} s per media second ({basis}); wall time at ceiling {plan.ceiling}: "
        f"{clock(plan.wall_seconds)}"
    )
    skipped = plan.skipped
    lines.append(f"a resume would skip {skipped} saved segment(s); state: {loaded.api.state}")
    out.show(*lines, markup=False)
    return EXIT_OK


class Stopped(Exception):
    """The run was stopped by a signal (after unwinding cleanly)."""

    def __init__(self, received: signal.Signals) -> None:
        super().__init__(received.name)
        self.signal = received


async def _until_stopped(work: Coroutine[Any, Any, int]) -> int:
    """Await `work` with the stop signals handled by the loop: the first cancels it (raised as Stopped once it has
    unwound); the rest are ignored. Once it has unwound after a stop, the signals are ignored outright, still
    inside the loop: a late one must not reach asyncio's handler after the loop closed its wake-up pipe."""
    loop, main = asyncio.get_running_loop(), asyncio.current_task()
    assert main is not None
    received: list[signal.Signals] = []

    def stop(sig: signal.Signals) -> None:
        if not received:
            received.append(sig)
            main.cancel()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop, sig)
    try:
        return await work
    except asyncio.CancelledError:
        if not received:
            raise
        main.uncancel()
        raise Stopped(received[0]) from None
    finally:
        if received:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)
                signal.signal(sig, signal.SIG_IGN)


def _stop_message(received: signal.Signals) -> str:
    how = "interrupted" if received is signal.SIGINT else f"stopped by {received.name}"
    return f"{how}; the state is consistent, run the same command again to resume"


def _guarded(work: Coroutine[Any, Any, int], out: Output) -> int:  # noqa: PLR0911 - one exit per way to end
    """Run `work`; every way it can end is an exit code and, for the early ends, one line on stderr."""
    try:
        return int(asyncio.run(_until_stopped(work)))
    except Stopped as exc:
        for sig in STOP_SIGNALS:  # between the loop's end and the exit, a late signal must not kill us mid-line
            signal.signal(sig, signal.SIG_IGN)
        code = 128 + exc.signal
        out.stopped("stopped", _stop_message(exc.signal), code, signal=exc.signal.name)
        return code
    except LockedError as exc:
        out.stopped("locked", str(exc), EXIT_LOCKED)
        return EXIT_LOCKED
    except StateWriteError as exc:  # a full disk, the state deleted mid-run: the run stopped, consistent
        out.stopped("stopped", str(exc), EXIT_FAILED)
        return EXIT_FAILED
    except Unreachable as exc:  # nothing could be sent; the same command later resumes
        out.stopped("unreachable", str(exc), EXIT_UNREACHABLE)
        return EXIT_UNREACHABLE
    except (InputError, StateError) as exc:
        out.stopped("refused", str(exc), EXIT_INPUT)
        return EXIT_INPUT
    except SpeechError as exc:  # the embedded backend's models are not installed: configuration, exit 2
        out.stopped("refused", f"the local backend cannot start: {exc}", EXIT_INPUT)
        return EXIT_INPUT
    except KeyboardInterrupt:  # Ctrl-C before the loop's handlers were in place
        out.stopped("stopped", _stop_message(signal.SIGINT), EXIT_INTERRUPTED, signal="SIGINT")
        return EXIT_INTERRUPTED
    finally:
        out.close()


class Commands(click.Group):
    """The commands, with `reconcile` imported only when it is used or listed."""

    LAZY: ClassVar[dict[str, str]] = {"reconcile": "reconcile.cli"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.LAZY])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY:
            group: click.Command = importlib.import_module(self.LAZY[cmd_name]).group
            return group
        return super().get_command(ctx, cmd_name)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Run recordings through the Symbl.ai Async API with speaker separation, exactly once."""
    if ctx.invoked_subcommand == "reconcile":  # its commands borrow the embedded server through the context
        from reconcile.cli import EmbeddedServer  # noqa: PLC0415

        ctx.obj = EmbeddedServer(lambda m, data_dir, mode: embedded_emulator(m, mode=mode, data_dir=data_dir))


@main.command()
@click.argument("manifest", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Validate, probe media, estimate, print the order. Send nothing.")
@click.option(
    "--show", type=click.IntRange(min=0), default=100, show_default=True, help="Dry run: steps listed (0: all)."
)
@click.option("--emulator", is_flag=True, help="Start the embedded local backend and run against it.")
@click.option(
    "--backend-mode",
    type=click.Choice(["real", "scripted"]),
    default="real",
    show_default=True,
    help="With --emulator: real speech processing, or answers scripted from the corpus (deterministic tests).",
)
@click.option(
    "--backend-data",
    type=click.Path(path_type=Path, file_okay=False),
    help="With --emulator: where the embedded server keeps its data (default: <output>/backend).",
)
@click.option("--output", type=click.Path(path_type=Path, file_okay=False), help="Output directory.")
@click.option("--state", type=click.Path(path_type=Path, dir_okay=False), help="State file.")
@click.option("--concurrency", type=click.IntRange(min=1, max=1000), help="Concurrent-job ceiling.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on when stderr is a TTY).")
@click.option("--log-format", type=click.Choice(["text", "json"]), help="Default: json off a TTY, text on one.")
@click.option("-v", "--verbose", count=True, help="Also log every poll.")
@click.option("-q", "--quiet", count=True, help="Log only warnings and errors.")
@click.option(
    "--reconcile/--no-reconcile",
    default=True,
    help="Reconcile each conversation after its last segment (when the manifest has people).",
)
def run(
    *,
    manifest: Path,
    dry_run: bool,
    show: int,
    emulator: bool,
    backend_mode: str,
    backend_data: Path | None,
    output: Path | None,
    state: Path | None,
    concurrency: int | None,
    progress: bool | None,
    log_format: str | None,
    verbose: int,
    quiet: int,
    reconcile: bool,
) -> None:
    """Process every recording of MANIFEST (.toml or .jsonl); re-running resumes."""
    tty = sys.stderr is not None and sys.stderr.isatty()
    show_progress = tty if progress is None else progress
    out = Output(
        log_format=log_format or ("text" if tty else "json"),
        threshold=logs.LEVELS["warning"] if show_progress and not verbose else logs.threshold(verbose, quiet),
        progress=show_progress,
        stdout=sys.stdout,
        stderr=sys.stderr,
    )

    async def work() -> int:
        loaded = override(manifest_module.load(manifest), state=state, output=output, concurrency=concurrency)
        if dry_run:
            return await _dry_run(loaded, show or None, out)
        mode = backend_mode if emulator else None
        return await _run(loaded, emulator=mode, data_dir=backend_data, out=out, reconcile=reconcile)

    sys.exit(_guarded(work(), out))


@main.command(name="status")
@click.argument("state", type=click.Path(path_type=Path, dir_okay=False), default="output/state.sqlite")
def status_command(state: Path) -> None:
    """Where the run of STATE stands (a state file, or a manifest whose state to read)."""
    try:
        output = None
        if state.suffix in (".toml", ".jsonl"):
            api = manifest_module.load(state).api
            state, output = api.state, api.output
        click.echo(status.describe(status.read(state, output=output)))
    except BatchError as exc:
        click.echo(f"symbl-batch: {exc}", err=True)
        sys.exit(EXIT_INPUT)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def emulator(args: tuple[str, ...]) -> None:
    """The Symbl API emulator, standalone (`symbl-batch emulator --help` for its options)."""
    from batch.emulator.cli import main as emulator_main  # noqa: PLC0415

    sys.exit(emulator_main(list(args)))


if __name__ == "__main__":
    main()
