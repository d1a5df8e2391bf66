"""Results on disk, written atomically (temporary file, fsync, rename) and owner-only: files 0600, folders 0700.

Per conversation, under `<output>/<conversation id>/`: conversation.json, messages.json, members.json,
insights.json, questions.json, action-items.json, follow-ups.json, topics.json, segments.json (which messages
each segment produced), transcript.txt, transcript.md (with a speaker summary), transcript.srt and
transcript.vtt (subtitles, `batch.subtitles`) and timeline.svg. conversation.json is the API's conversation
object with our `speakerSummary` (talk time, share, words, turns per member, `batch.speakers`) added. The run report is
`<output>/report.json` and `<output>/report.md`. Reconciliation leaves its record beside them,
`<output>/<conversation id>/reconcile.json` (`report.RECONCILE_RECORD`); the run's report and `status` read it here.
Rule: a conversation id is a safe folder name (schema.SAFE_ID), and the resolved folder must lie inside the
output directory; anything else is refused rather than written.
Rule: a conversation's reconciliation record counts only while it describes the conversation as the state has it
(the same conversation id, as many saved segments): after a resubmission or an append it is stale until the
conversation is reconciled again. A record that is not one (a hand edit) is a StateError naming it.
Rule: a folder is made owner-only when this tool creates it (`private_folder`), never afterwards: a folder that
exists already (an output directory the user made, their home) keeps the mode its owner chose.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import functools
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from batch import render, speakers, subtitles
from batch.client import SymblClient
from batch.errors import InputError, StateError
from batch.lifecycle import ConversationState
from batch.report import RECONCILE_RECORD, Reconciled, Report, markdown_parts, reconciled_from

ENDPOINTS = (
    ("messages", "messages"),
    ("members", "members"),
    ("insights", "insights"),
    ("questions", "questions"),
    ("action-items", "actionItems"),
    ("follow-ups", "followUps"),
    ("topics", "topics"),
)


async def fetch(client: SymblClient, conversation_id: str) -> dict[str, Any]:
    """Everything the outputs hold about a conversation, read from the API (after its job completed)."""
    parts: dict[str, Any] = {"conversation": await client.conversation(conversation_id)}
    for path, key in ENDPOINTS:
        parts[path] = await client.read(conversation_id, path, key)
    return parts


async def refresh(
    client: SymblClient, output: Path, conversation: str, conversation_id: str, *, title: str | None = None
) -> dict[str, Any]:
    """Read the conversation again and rewrite its files (after renames and merges); segments.json is kept."""
    folder = conversation_dir(output, conversation)
    segments = orjson.loads((folder / "segments.json").read_bytes()) if (folder / "segments.json").exists() else []
    parts = await fetch(client, conversation_id)
    await save_conversation(output, conversation, parts, segments, title=title)
    return parts


@functools.lru_cache(maxsize=8)
def _resolved(output: Path) -> Path:
    return output.resolve()


def conversation_dir(output: Path, conversation: str) -> Path:
    """The conversation's folder: a plain name right under the (resolved) output directory, not a symlink."""
    root = _resolved(output)
    target = root / conversation
    if target.parent != root or conversation in ("", ".", "..") or target.is_symlink():
        raise InputError(f"conversation id '{conversation}' would write outside {output}; use a plain name")
    return target


def private_folder(folder: Path) -> None:
    """Create `folder` and its missing parents, each 0700. mkdir's mode is masked by the umask, hence the chmod of
    each folder created here; folders that already existed are left as they are (the module's rule)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:  # another writer (our own writer threads) made it first, 0700 too
            continue
        path.chmod(0o700)


def _temporary(path: Path, parts: Iterable[bytes], *, sync: bool) -> Path:
    """A temporary beside `path` holding the parts, written as they come (a big report is never one string);
    removed again if writing fails."""
    private_folder(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")  # unique: two writers never share a temp
    try:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            for part in parts:
                handle.write(part)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _put(path: Path, parts: Iterable[bytes]) -> None:
    os.replace(_temporary(path, parts, sync=True), path)


def _syncfs_function() -> Any:
    """Linux's syncfs(2), which makes everything written to one filesystem durable in one call; else None."""
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int
    return function


_SYNCFS = _syncfs_function()


def _put_all(files: dict[Path, bytes]) -> None:
    """Every file to a temporary, all made durable (one syncfs for the lot where Linux has it, else an fsync
    each), then each renamed over its target: a reader never sees a torn file, a crash never a lost one."""
    if _SYNCFS is None or not files:
        for path, data in files.items():
            _put(path, (data,))
        return
    temporaries = {path: _temporary(path, (data,), sync=False) for path, data in files.items()}
    fd = os.open(next(iter(files)).parent, os.O_RDONLY)
    try:
        if _SYNCFS(fd) != 0:
            raise OSError(ctypes.get_errno(), "syncfs failed")
    finally:
        os.close(fd)
    for path, tmp in temporaries.items():
        os.replace(tmp, path)


# Writers get threads of their own: fsyncs queued in the loop's default executor would hold up the reads that
# feed uploads (aiofiles uses that one), and a slot would wait for a disk that has nothing to do with it.
_WRITERS = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="symbl-batch-writer")


async def write_bytes(path: Path, data: bytes) -> None:
    """Atomically (temporary file, fsync, rename), in a writer thread."""
    await asyncio.get_running_loop().run_in_executor(_WRITERS, _put, path, (data,))


async def write_files(files: dict[Path, bytes]) -> None:
    """Several files, each written atomically, in one trip to a writer thread (a conversation's dozen files)."""
    await asyncio.get_running_loop().run_in_executor(_WRITERS, _put_all, files)


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n"


async def write_json(path: Path, value: Any) -> None:
    await write_bytes(path, _json(value))


def transcript(messages: list[dict[str, Any]]) -> str:
    """Plain text: `[hh:mm:ss] Name: text`, times from the conversation's start (timeOffset)."""
    lines = []
    for message in messages:
        offset = float(message.get("timeOffset") or 0.0)
        stamp = f"{int(offset // 3600):02d}:{int(offset % 3600 // 60):02d}:{int(offset % 60):02d}"
        speaker = (message.get("from") or {}).get("name") or "Unknown speaker"
        lines.append(f"[{stamp}] {speaker}: {message.get('text', '')}")
    return "\n".join(lines) + ("\n" if lines else "")


async def save_conversation(
    output: Path,
    conversation: str,
    parts: dict[str, Any],
    segments: list[dict[str, Any]],
    *,
    title: str | None = None,
) -> Path:
    """`title`: the conversation's name in the manifest (the server's name carries the create's intent tag)."""
    folder = conversation_dir(output, conversation)
    messages = parts.get("messages", [])
    talk = speakers.summary(messages)
    shown = dict(parts)
    if isinstance(parts.get("conversation"), dict):
        shown["conversation"] = {**parts["conversation"], speakers.SUMMARY_KEY: [line.as_dict() for line in talk]}
    files = {folder / f"{name}.json": _json(value) for name, value in shown.items()}
    files[folder / "segments.json"] = _json(segments)
    title = title or str(parts.get("conversation", {}).get("name") or conversation)
    files[folder / "transcript.txt"] = transcript(messages).encode()
    table = speakers.markdown_table(talk) if talk else []
    files[folder / "transcript.md"] = render.transcript_markdown(title, messages, segments, speakers=table).encode()
    files[folder / "transcript.srt"] = subtitles.srt(messages).encode()
    files[folder / "transcript.vtt"] = subtitles.vtt(messages).encode()
    files[folder / "timeline.svg"] = render.timeline_svg(title, messages, segments).encode()
    await write_files(files)
    return folder


async def save_report(output: Path, report: Report) -> None:
    """report.json and report.md (`report.markdown_parts`), reconciliation included when the report has any; each
    written a segment at a time (a 100,000-row report is never one string in memory)."""
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(_WRITERS, _put, output / "report.json", _report_json(report))
    await loop.run_in_executor(_WRITERS, _put, output / "report.md", (p.encode() for p in markdown_parts(report)))


def _report_json(report: Report) -> Iterator[bytes]:
    """report.json: `Report.as_dict()` as indented JSON, made one segment at a time."""
    yield orjson.dumps(report.head(), option=orjson.OPT_INDENT_2)[: -len(b"\n}")]
    yield b',\n  "segments": ['
    for n, segment in enumerate(report.segments):
        yield (b"\n    " if n == 0 else b",\n    ") + orjson.dumps(segment)
    yield b"\n  ]" if report.segments else b"]"
    reconciled = report.reconciliation_dict()
    if reconciled is not None:
        yield b',\n  "reconciliation": ' + orjson.dumps(reconciled, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n  ")
    yield b"\n}\n"


def reconciliation(output: Path, conversations: Iterable[ConversationState]) -> list[Reconciled]:
    """The records (`<output>/<conversation>/reconcile.json`) that describe their conversation as it is now
    (`conversations`: the state's, in order of their id)."""
    found = []
    for state in conversations:
        record = _record(output / state.conversation / RECONCILE_RECORD)
        if record is not None and (record.conversation_id, record.segments) == (state.conversation_id, state.saved):
            found.append(record)
    return found


def speaker_summaries(
    output: Path, conversations: Iterable[ConversationState], *, limit: int
) -> dict[str, list[speakers.SpeakerLine]]:
    """The speaker summaries (conversation.json's `speakerSummary`) of the first `limit` conversations whose
    segments are all saved. A file that is missing or not as written here is left out: the report still stands."""
    found: dict[str, list[speakers.SpeakerLine]] = {}
    for state in conversations:
        if len(found) == limit:
            break
        if state.saved != state.total:
            continue
        try:
            data = orjson.loads((conversation_dir(output, state.conversation) / "conversation.json").read_bytes())
        except (OSError, orjson.JSONDecodeError, InputError):
            continue
        summary = speakers.from_dicts(data.get(speakers.SUMMARY_KEY)) if isinstance(data, dict) else None
        if summary:
            found[state.conversation] = summary
    return found


def _record(path: Path) -> Reconciled | None:
    again = "run `symbl-batch reconcile apply MANIFEST` to write it again, or delete it"
    try:
        found = reconciled_from(orjson.loads(path.read_bytes()))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"{path}: cannot read the reconciliation record ({exc.strerror or exc}); {again}") from None
    except orjson.JSONDecodeError:
        found = None
    if found is None:
        raise StateError(f"{path}: not a reconciliation record as `reconcile` writes it; {again}")
    return found
