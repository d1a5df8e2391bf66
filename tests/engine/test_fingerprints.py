"""Fingerprints are taken a batch of files at a time, in order, each version of a file read once and remembered."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import orjson

from batch.models import Segment
from batch.prepare import HASHED_AT_ONCE, MemoryHashes, fingerprints


class Counting(MemoryHashes):
    remembered = 0

    def remember_hash(self, path: str, size: int, mtime_ns: int, sha256: str) -> None:
        self.remembered += 1
        super().remember_hash(path, size, mtime_ns, sha256)


def test_fingerprints_in_order_across_batches_urls_and_a_remembered_cache(tmp_path: Path) -> None:
    """More segments than a batch, files and URLs mixed, each file listed many times: each fingerprint is the
    SHA-256 of the source's hash (or URL), kind and parameters, in the segments' order; each version of a file is
    hashed once (remembered, then found); a touched or rewritten file is hashed again."""
    files = []
    for n in range(5):
        path = tmp_path / f"{n}.wav"
        path.write_bytes(bytes([n]) * (1000 + n))
        files.append(path)
    segments = [
        Segment(f"c{n}/1", f"c{n}", 0, "audio", None if n % 7 == 3 else str(files[n % 5]),
                f"https://h/{n}.wav" if n % 7 == 3 else None, {"n": n % 2}, n)
        for n in range(2 * HASHED_AT_ONCE + 9)
    ]  # fmt: skip

    def expected(segment: Segment) -> str:
        source = f"url:{segment.url}" if segment.file is None else hashlib.sha256(segment.file.read_bytes()).hexdigest()
        described = {"source": source, "kind": segment.kind, "params": segment.params}
        return hashlib.sha256(orjson.dumps(described, option=orjson.OPT_SORT_KEYS)).hexdigest()

    async def taken(cache: Counting) -> list[tuple[Segment, str]]:
        return [pair async for pair in fingerprints(cache, segments)]

    cache = Counting()
    first = asyncio.run(taken(cache))
    assert cache.remembered == len(files)
    asyncio.run(taken(cache))
    assert cache.remembered == len(files)  # found, not read again
    assert first == [(s, expected(s)) for s in segments]
    for path in files:
        path.touch()  # the same content, a newer mtime: the cache no longer vouches for it ...
    for path in files[:2]:
        path.write_bytes(b"changed")  # ... and two of them really changed
    second = asyncio.run(taken(cache))
    assert second == [(s, expected(s)) for s in segments] and second != first
    assert cache.remembered == 2 * len(files)
