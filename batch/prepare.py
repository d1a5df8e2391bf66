"""Bringing the state store in line with the manifest before a run (and deciding what a re-run redoes).

Rules (docs/engine.md, "Exactly once, and resuming"):
- a segment's fingerprint is the SHA-256 of its file (or its URL), its media kind and its parameters;
  file hashes are cached by (size, mtime) so unchanged files are not read again;
- a new segment at the end of a conversation is simply appended later;
- if any already-known segment of a conversation changed, and none of it is in flight, the whole
  conversation starts afresh as a new Symbl conversation (the old one is left untouched on the server);
- `submitting` rows (a crash between the intent and the answer) become `unknown`, to be resolved, never resent;
- `timed_out` rows are adopted again (`submitted`, same jobId); `failed` and `blocked` rows are retried.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Protocol

import orjson

from batch.lifecycle import IN_FLIGHT, Status
from batch.models import Manifest, Segment
from batch.store import StateStore

RECOVERABLE = {Status.SUBMITTING: Status.UNKNOWN, Status.TIMED_OUT: Status.SUBMITTED}
RETRIED = frozenset({Status.FAILED, Status.BLOCKED})


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _where(path: Path) -> str:
    return os.path.abspath(path)


class HashCache(Protocol):
    def cached_hash(self, path: str, size: int, mtime_ns: int) -> str | None: ...
    def remember_hash(self, path: str, size: int, mtime_ns: int, sha256: str) -> None: ...


class MemoryHashes:
    """A hash cache that reads through to a (read-only) store and remembers the last `KEPT` files' hashes in
    memory: for dry runs, which write nothing (a file listed twice in a row is not read twice; a million files
    are not remembered)."""

    KEPT = 4096

    def __init__(self, backing: HashCache | None = None) -> None:
        self._backing, self._seen = backing, dict[tuple[str, int, int], str]()

    def cached_hash(self, path: str, size: int, mtime_ns: int) -> str | None:
        found = self._seen.get((path, size, mtime_ns))
        return found or (self._backing.cached_hash(path, size, mtime_ns) if self._backing else None)

    def remember_hash(self, path: str, size: int, mtime_ns: int, sha256: str) -> None:
        if len(self._seen) >= self.KEPT:
            del self._seen[next(iter(self._seen))]  # the oldest (dicts keep insertion order)
        self._seen[(path, size, mtime_ns)] = sha256


HASHED_AT_ONCE = 256  # files hashed per trip to a worker thread: a trip per file costs more than a small file's hash


def _described(segment: Segment, source: str) -> str:
    described = orjson.dumps(
        {"source": source, "kind": segment.kind, "params": segment.params}, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(described).hexdigest()


def _hash_all(paths: list[Path]) -> list[str]:
    return [_file_sha256(path) for path in paths]


async def fingerprints(store: HashCache, segments: Iterable[Segment]) -> AsyncIterator[tuple[Segment, str]]:
    """Each segment with its fingerprint, in order. Hashes are looked up in `store` by (path, size, mtime); the
    files not found there are read in batches of HASHED_AT_ONCE in a worker thread and remembered. Memory holds
    one batch, however many segments."""
    items = iter(segments)
    while chunk := list(itertools.islice(items, HASHED_AT_ONCE)):
        sources: list[str | None] = []
        missing: dict[tuple[str, int, int], tuple[Path, list[int]]] = {}  # each file once, however often listed
        for n, segment in enumerate(chunk):
            file = segment.file
            if file is None:  # a URL: the server fetches it
                sources.append(f"url:{segment.url}")
                continue
            stat = os.stat(file)  # cheap, and nothing else runs yet
            version = (_where(file), stat.st_size, stat.st_mtime_ns)
            sources.append(store.cached_hash(*version))
            if sources[-1] is None:
                missing.setdefault(version, (file, []))[1].append(n)
        if missing:
            digests = await asyncio.to_thread(_hash_all, [file for file, _ in missing.values()])
            for (version, (_, places)), digest in zip(missing.items(), digests, strict=True):
                store.remember_hash(*version, digest)
                for n in places:
                    sources[n] = digest
        for segment, source in zip(chunk, sources, strict=True):
            assert source is not None
            yield segment, _described(segment, source)


async def synchronise(store: StateStore, manifest: Manifest) -> list[str]:
    """Insert, replace and recover rows; return one line per decision worth logging. Every write, the hash
    cache's too, goes into one transaction (a 100,000-row manifest is one commit, not 100,000); fingerprints are
    taken a batch at a time, as each conversation is reached."""
    notes: list[str] = []
    rows = store.rows()
    taken = fingerprints(store, manifest.segments())  # in manifest order: conversation by conversation
    with store.batched():  # the hash cache too; nothing else writes the store before the run starts
        for conversation in manifest.conversations:
            pairs = [await anext(taken) for _ in conversation.segments]
            known = [(s, p, rows.get(s.key)) for s, p in pairs]
            changed = any(r is not None and r.fingerprint != p for _, p, r in known)
            busy = any(r is not None and r.status in IN_FLIGHT for _, _, r in known)
            if changed and not busy:
                notes.append(f"{conversation.id}: media or parameters changed; resubmitting it as a new conversation")
            for segment, digest, row in known:
                if row is None:
                    store.insert(segment.key, segment.conversation, segment.index, digest)
                elif changed and not busy:
                    store.replace(segment.key, segment.conversation, segment.index, digest)
                elif row.status in RECOVERABLE:
                    store.move(segment.key, RECOVERABLE[row.status])
                    notes.append(f"{segment.key}: {row.status} at the last stop; now {RECOVERABLE[row.status]}")
                elif row.status in RETRIED:
                    store.move(segment.key, Status.PENDING, attempts=0, error=None)  # a re-run: fresh tries
    return notes
