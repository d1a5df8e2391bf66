"""`symbl-batch reconcile plan|apply|forget|people`, and the hook the batch run calls after each conversation.

Which conversations a command covers is `scope`'s choice; the record each reconciliation leaves beside the
conversation's outputs is `record`'s.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import click
from rich.console import Console
from rich.table import Table

import batch
from reconcile import planner, record, scope
from reconcile.errors import ReconcileError
from reconcile.ledger import Ledger
from reconcile.review import Answer, read
from reconcile.session import Outcome, reconcile_conversation
from reconcile.voice.embedder import Embedder, available

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_LOCKED = 0, 1, 2, 3
Served = Callable[[batch.Manifest], AbstractAsyncContextManager[batch.Manifest]]


@dataclass(frozen=True, slots=True)
class EmbeddedServer:
    """The embedded server, lent through click's context object by the command line that mounts this group
    (reconcile never imports the server): `start(manifest, data_dir, mode)` serves the data a `run --emulator`
    kept (data_dir None: the default beside the manifest's output) and yields the manifest pointed at it."""

    start: Callable[[batch.Manifest, Path | None, str], AbstractAsyncContextManager[batch.Manifest]]


VOICE_CACHE = "SYMBL_VOICE_CACHE"  # a folder where voice embeddings are kept and found again by content


def embedder_or_none(use_voice: bool) -> Embedder | None:
    """The embedder when voice is used and available; `$SYMBL_VOICE_CACHE`, when set, is its cache folder."""
    if not (use_voice and available()):
        return None
    folder = os.environ.get(VOICE_CACHE)
    return Embedder(cache=Path(folder).expanduser() if folder else None)


def _counted(found: dict[str, int]) -> str:
    return f"{found['named']} named, {found['merged']} merged, {found['for_review']} left for review"


def _unconfirmed(count: int) -> str:
    return f"{count} operation(s) not confirmed by the server; `reconcile apply` will send them again"


def summary(outcome: Outcome) -> str:
    """One sentence for people: the counts, whether voice was used, the review file, what is not confirmed."""
    text = f"{_counted(record.counts(outcome))} ({'voice used' if outcome.voice_used else 'voice not used'})"
    if outcome.review_file is not None:
        text += f"; review file: {outcome.review_file}"
    if outcome.unconfirmed:
        text += f"; {_unconfirmed(len(outcome.unconfirmed))}"
    return text


def reconciled_event(outcome: Outcome) -> batch.Event:
    return batch.Event(
        "reconciled",
        conversation=outcome.conversation,
        conversation_id=outcome.conversation_id,
        detail=f"{outcome.conversation}: {summary(outcome)}",  # text logs name a segment, not a conversation
        counts=record.counts(outcome),
        review_file=str(outcome.review_file) if outcome.review_file is not None else None,
    )


def after_conversation_hook(*, use_voice: bool, emit: Callable[[batch.Event], None]) -> batch.AfterConversation:
    """Automatic mode: reconcile each conversation once its last segment is saved, applying only decisions.
    A failure propagates: the runner reports it as `reconcile_failed` (exit 1) and goes on."""
    embedder = embedder_or_none(use_voice)
    ledgers: list[Ledger] = []  # opened at the first call (the run has made the state's folder by then)
    locks: dict[str, asyncio.Lock] = {}

    async def hook(finished: batch.Finished) -> None:
        conversation, conversation_id, manifest = finished.conversation, finished.conversation_id, finished.manifest
        if not ledgers:
            ledgers.append(Ledger(manifest.api.state))
        ledger = ledgers[0]
        async with locks.setdefault(conversation_id, asyncio.Lock()):  # one reconciliation per conversation at once
            if ledger.reconciled(conversation_id, len(conversation.segments)):
                return
            outcome = await reconcile_conversation(
                finished.client,
                manifest,
                conversation,
                conversation_id,
                ledger=ledger,
                embedder=embedder,
                parts=finished.parts,
            )
            await record.keep(manifest, conversation, outcome)
        emit(reconciled_event(outcome))

    return hook


async def _reconcile_all(
    manifest: batch.Manifest,
    *,
    apply: bool,
    answers: list[Answer],
    use_voice: bool,
    review_file: Path | None = None,
) -> int:
    """Every finished conversation, or (with `review_file`) only those its answers are about."""
    app_id, app_secret = batch.credentials(manifest)
    console = Console()
    with batch.Store(manifest.api.state) as store:
        todo = scope.covered(manifest, store, answers=answers, review_file=review_file)
        ledger = Ledger(manifest.api.state)
        embedder = embedder_or_none(use_voice)
        if use_voice and embedder is None:
            console.print("voice not used: install the `voice` extra (onnxruntime)", markup=False)
        try:
            async with aiohttp.ClientSession() as http:
                client = batch.SymblClient(
                    base_url=manifest.api.base_url, app_id=app_id, app_secret=app_secret, session=http
                )
                one = functools.partial(
                    _one,
                    client,
                    manifest,
                    ledger=ledger,
                    embedder=embedder,
                    answers=answers,
                    apply=apply,
                    console=console,
                )
                found = [await one(conversation, conversation_id) for conversation, conversation_id in todo]
        finally:
            ledger.close()
    outcomes = [outcome for outcome in found if outcome is not None]
    for line in total_lines(outcomes):
        console.print(line, markup=False, soft_wrap=True)
    return EXIT_FAILED if len(outcomes) < len(found) else EXIT_OK


async def _one(
    client: batch.SymblClient,
    manifest: batch.Manifest,
    conversation: batch.Conversation,
    conversation_id: str,
    *,
    ledger: Ledger,
    embedder: Embedder | None,
    answers: list[Answer],
    apply: bool,
    console: Console,
) -> Outcome | None:
    """One conversation: reconciled, its record kept (when applied) and its table printed; None when it failed."""
    try:
        outcome = await reconcile_conversation(
            client,
            manifest,
            conversation,
            conversation_id,
            ledger=ledger,
            embedder=embedder,
            answers=answers,
            write=apply,
        )
        if apply:
            await record.keep(manifest, conversation, outcome)
    except (ReconcileError, batch.ApiError) as exc:
        console.print(f"{conversation.id}: {exc}", markup=False, soft_wrap=True)
        return None
    console.print(_table(outcome, applied=apply))
    console.print(f"{outcome.conversation}: {summary(outcome)}", markup=False, soft_wrap=True)
    return outcome


def total_lines(outcomes: Sequence[Outcome]) -> list[str]:
    """The total over the conversations, where each review file is, and what the server did not confirm."""
    found = [record.counts(o) for o in outcomes]
    total = {name: sum(c[name] for c in found) for name in ("named", "merged", "for_review", "unconfirmed")}
    lines = [f"total: {_counted(total)} ({len(outcomes)} conversation(s))"]
    lines += [f"review file: {o.review_file}" for o in outcomes if o.review_file is not None]
    if total["unconfirmed"]:
        lines.append(_unconfirmed(total["unconfirmed"]))
    return lines


def _table(outcome: Outcome, *, applied: bool) -> Table:
    table = Table(title=outcome.conversation + ("" if applied else " - plan only"))
    for column in ("operation", "member", "name", "email"):
        table.add_column(column)
    for op in outcome.plan.operations:
        table.add_row(op.kind, op.member_id[:8], op.name, op.email)
    for item in outcome.plan.review:
        best = ", ".join(f"{c.email} {c.score}" for c in item.candidates) or "no candidate"
        names = ", ".join(sorted({m.name for m in item.members}))
        table.add_row("review", item.voice[:14], names, best, style="yellow")
    return table


async def _against(
    served: Served | None, manifest: batch.Manifest, work: Callable[[batch.Manifest], Awaitable[int]]
) -> int:
    """`work` against the manifest's API, or against the embedded server for the duration of the command."""
    if served is None:
        return await work(manifest)
    async with served(manifest) as pointed:
        return await work(pointed)


def _served(emulator: bool, backend_data: Path | None, backend_mode: str) -> Served | None:
    if not emulator:
        return None
    lent = click.get_current_context().find_object(EmbeddedServer)
    if lent is None:
        raise click.UsageError("--emulator needs the embedded server, which `symbl-batch reconcile` provides")
    return lambda manifest: lent.start(manifest, backend_data, backend_mode)


def _guard(work: Awaitable[int]) -> int:
    try:
        return asyncio.run(work)  # type: ignore[arg-type]
    except batch.LockedError as exc:
        click.echo(f"symbl-batch: {exc}", err=True)
        return EXIT_LOCKED
    except (batch.InputError, batch.StateError, ReconcileError) as exc:
        click.echo(f"symbl-batch: {exc}", err=True)
        return EXIT_INPUT


def _manifest(path: Path, state: Path | None, output: Path | None) -> batch.Manifest:
    """The manifest with the command's overrides; a bad one ends the command with its sentence (exit 2)."""
    try:
        return batch.override(batch.load_manifest(path), state=state, output=output, concurrency=None)
    except batch.BatchError as exc:
        click.echo(f"symbl-batch: {exc}", err=True)
        sys.exit(EXIT_INPUT)


@click.group(name="reconcile")
def group() -> None:
    """Name the members of finished conversations and merge the duplicates that appends created."""


MANIFEST = click.argument("manifest", type=click.Path(path_type=Path, dir_okay=False))
STATE = click.option("--state", type=click.Path(path_type=Path, dir_okay=False), help="State file.")
OUTPUT = click.option("--output", type=click.Path(path_type=Path, file_okay=False), help="Output directory.")
VOICE = click.option("--voice/--no-voice", default=True, help="Use voice evidence (needs the voice extra).")
EMULATOR = click.option(
    "--emulator", is_flag=True, help="Start the embedded server on the data a `run --emulator` kept, for this command."
)
BACKEND_MODE = click.option(
    "--backend-mode",
    type=click.Choice(["real", "scripted"]),
    default="real",
    show_default=True,
    help="With --emulator: the mode the run used.",
)
BACKEND_DATA = click.option(
    "--backend-data",
    type=click.Path(path_type=Path, file_okay=False),
    help="With --emulator: the server's data directory (default: <output>/backend).",
)


def _server_options(command: Callable[..., None]) -> Callable[..., None]:
    return EMULATOR(BACKEND_MODE(BACKEND_DATA(command)))


@group.command(name="plan")
@MANIFEST
@STATE
@OUTPUT
@VOICE
@_server_options
def plan_command(
    *,
    manifest: Path,
    state: Path | None,
    output: Path | None,
    voice: bool,
    emulator: bool,
    backend_mode: str,
    backend_data: Path | None,
) -> None:
    """Print what apply would do, for every finished conversation. Sends nothing."""

    def work(loaded: batch.Manifest) -> Awaitable[int]:
        return _reconcile_all(loaded, apply=False, answers=[], use_voice=voice)

    served = _served(emulator, backend_data, backend_mode)
    sys.exit(_guard(_against(served, _manifest(manifest, state, output), work)))


@group.command(name="apply")
@MANIFEST
@STATE
@OUTPUT
@VOICE
@click.option(
    "--review",
    "review_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A review file with answers (identity = email | new | skip).",
)
@click.option("--dry-run", is_flag=True, help="Plan only; send nothing.")
@_server_options
def apply_command(
    *,
    manifest: Path,
    state: Path | None,
    output: Path | None,
    voice: bool,
    review_file: Path | None,
    dry_run: bool,
    emulator: bool,
    backend_mode: str,
    backend_data: Path | None,
) -> None:
    """Apply the plan (and a review file's answers), exactly once, then verify and rewrite the outputs.
    With --review, only the conversations the file's answers are about."""
    loaded = _manifest(manifest, state, output)
    try:
        answers = read(review_file, {p.email for p in loaded.people}) if review_file else []
    except ReconcileError as exc:
        click.echo(f"symbl-batch: {exc}", err=True)
        sys.exit(EXIT_INPUT)

    def work(pointed: batch.Manifest) -> Awaitable[int]:
        return _reconcile_all(pointed, apply=not dry_run, answers=answers, use_voice=voice, review_file=review_file)

    sys.exit(_guard(_against(_served(emulator, backend_data, backend_mode), loaded, work)))


@group.command(name="forget")
@click.argument("email")
@MANIFEST
@STATE
def forget_command(email: str, manifest: Path, state: Path | None) -> None:
    """Delete EMAIL's voice profile from the identity directory of MANIFEST's state."""
    loaded = _manifest(manifest, state, None)

    async def work() -> int:  # inside _guard: a held lock or an unusable state is one line, not a traceback
        with batch.Store(loaded.api.state):
            ledger = Ledger(loaded.api.state)
            removed = ledger.forget(email)
            ledger.close()
        click.echo(f"{email}: voice profile deleted" if removed else f"{email}: no voice profile was stored")
        return 0

    sys.exit(_guard(work()))


@group.command(name="people")
@MANIFEST
@STATE
def people_command(manifest: Path, state: Path | None) -> None:
    """List the identity directory: who has a voice profile, from how many samples. Never the audio."""
    loaded = _manifest(manifest, state, None)
    if not loaded.api.state.is_file():  # a listing creates nothing: no state yet, nobody has a profile
        click.echo(f"{loaded.api.state}: no state file yet, so no voice profiles", err=True)
        return

    async def work() -> int:
        ledger = Ledger(loaded.api.state)
        for email, name, samples in ledger.people():
            click.echo(f"{email}\t{name}\t{samples} sample(s)")
        ledger.close()
        return 0

    sys.exit(_guard(work()))


__all__ = ["EmbeddedServer", "after_conversation_hook", "group", "planner"]
