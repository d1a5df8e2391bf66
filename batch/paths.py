"""Whether a run can write where its settings say: the output directory and the state file. `open_run` checks
before it takes the lock or sends anything; loading a manifest and a dry run do not (they write nothing).

Rules:
- `output` is a directory, or can be made one: its nearest existing ancestor is a directory we can write in;
- `state` is a regular file or absent, and the directory it is in (or would be made in) is one we can write
  in: SQLite writes its journal and the lock file beside it;
- writing is tried, not deduced: a temporary file is created and removed, because permission bits say
  nothing about root and nothing about a read-only mount.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from batch.errors import InputError
from batch.media import SPECIAL
from batch.models import ApiConfig


def check_run_paths(api: ApiConfig) -> None:
    """Raise InputError, one sentence naming the path, if the run could not write its output or its state."""
    _output(api.output)
    _state(api.state)


def _stat(path: Path) -> os.stat_result | None:
    """The path's facts, or None when nothing is there (or a parent is not a directory)."""
    try:
        return path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise InputError(f"{path}: cannot use this path ({exc.strerror}); give another one") from None


def _what(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "a file"
    return next((name for test, name in SPECIAL if test(mode)), "not a directory")


def _nearest(path: Path) -> tuple[Path, os.stat_result]:
    """The path itself or its nearest ancestor that exists (the root always does)."""
    for candidate in (path, *path.parents):
        found = _stat(candidate)
        if found is not None:
            return candidate, found
    raise AssertionError("unreachable: the root exists")  # pragma: no cover


def _writable(directory: Path) -> str | None:
    """None when a file can be created in `directory`, else the reason (tried for real)."""
    try:
        handle, name = tempfile.mkstemp(prefix=".symbl-batch-probe-", dir=directory)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    os.close(handle)
    os.unlink(name)
    return None


def _directory(directory: Path, *, shown: Path, role: str) -> None:
    """`directory` is (or can be created as) a directory that accepts new files. Messages start with `shown`
    (the path the user gave) and call the directory `role`."""
    found, facts = _nearest(directory)
    if not stat.S_ISDIR(facts.st_mode):
        what = _what(facts.st_mode)
        if found != directory:
            raise InputError(f"{shown}: cannot create {role}, because {found} is {what}; give a path in a directory")
        if shown == directory:
            raise InputError(f"{shown}: {role} is {what}, not a directory; give a directory path, new or existing")
        raise InputError(f"{shown}: {role} {directory} is {what}, not a directory; give a path in a directory")
    reason = _writable(found)
    if reason is not None:
        where = "" if found == directory else f" (it would be created in {found})"
        raise InputError(f"{shown}: cannot write in {role}{where}: {reason}; give a writable directory")


def _output(output: Path) -> None:
    _directory(output, shown=output, role="the output directory (api.output or --output)")


def _state(state: Path) -> None:
    for path, role in ((state, "the state file (api.state or --state)"), (_lock(state), "the state's lock file")):
        facts = _stat(path)
        if facts is not None and not stat.S_ISREG(facts.st_mode):
            kind = "a directory" if stat.S_ISDIR(facts.st_mode) else _what(facts.st_mode)
            raise InputError(f"{path}: {role} is {kind}; give the path of a file, new or existing")
    _directory(state.parent, shown=state, role="the state file's directory")


def _lock(state: Path) -> Path:
    return state.with_name(state.name + ".lock")  # as `Store._lock` names it
