"""Uploaded media kept on disk by content, so a job interrupted by a restart can be processed again.

Rules:
- a medium lives at `<data_dir>/media/<sha256>`, named by the SHA-256 of its bytes: the same bytes are stored
  once however often they are sent, and a name is never reused for other bytes;
- it is written atomically (a private temporary file, fsync, rename, fsync of the folder), so a crash leaves
  either the whole file or none; it is written before the job that needs it is recorded;
- it is kept while a job that has not ended needs it, and from `put` until `settle` (the route keeps it in a
  worker thread before the job that needs it is recorded, so "no job needs it" is not yet true then);
  `release` and `keep_only` (when a server starts, temporaries of a crash included) remove the rest.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

DIGEST = re.compile(r"^[0-9a-f]{64}$")


class MediaStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(mode=0o700, exist_ok=True)
        folder.chmod(0o700)
        self._lock = threading.Lock()  # `put` runs in a worker thread, `release` on the server's loop
        self._incoming: Counter[str] = Counter()  # put, not settled yet: never released

    def path(self, sha256: str) -> Path:
        if not DIGEST.match(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.folder / sha256

    def put(self, sha256: str, data: bytes) -> Path:
        """Store the bytes under their digest (the caller computed it); a stored digest is left as it is."""
        target = self.path(sha256)
        with self._lock:
            self._incoming[sha256] += 1
        try:
            if not target.exists():
                self._write(target, data)
        except BaseException:
            self.settle(sha256)
            raise
        return target

    def _write(self, target: Path, data: bytes) -> None:
        temporary = self.folder / f".{target.name}.{secrets.token_hex(4)}.part"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            temporary.replace(target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        self._sync_folder()

    def settle(self, sha256: str) -> None:
        """The submit that `put` was for is recorded (or refused): from now on its jobs decide."""
        with self._lock:
            self._incoming[sha256] -= 1
            if self._incoming[sha256] <= 0:
                del self._incoming[sha256]

    def release(self, sha256: str) -> None:
        """Delete the medium (no unfinished job needs it, the caller found), unless a submit is bringing it."""
        with self._lock:
            if sha256 not in self._incoming:
                self.path(sha256).unlink(missing_ok=True)

    def keep_only(self, wanted: Iterable[str]) -> None:
        """Delete every file but the listed media and those being brought (temporaries of a crash included)."""
        with self._lock:
            keep = set(wanted) | set(self._incoming)
            for entry in self.folder.iterdir():
                if entry.name not in keep and entry.is_file():
                    entry.unlink(missing_ok=True)

    def _sync_folder(self) -> None:
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
