"""What was said in the corpus media: ground-truth scripts found by the SHA-256 of the media bytes.

Rule: media is recognised by content, never by file name or URL, so a renamed copy or a URL submission of a
corpus file yields the same script.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Utterance:
    speaker: str  # a person key of the cast, or "unknown" for fallback transcripts
    start: float  # seconds from the start of the media
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class Script:
    id: str
    duration: float
    utterances: tuple[Utterance, ...]
    topics: tuple[str, ...]


DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "corpus"


class CorpusIndex:
    def __init__(self, scripts: dict[str, Script]) -> None:
        self._scripts = scripts

    @classmethod
    def load(cls, root: Path | None) -> CorpusIndex:
        """Read `root/index.json`; an absent corpus gives an empty index (every medium then uses the fallback)."""
        if root is None or not (root / "index.json").is_file():
            return cls({})
        index = json.loads((root / "index.json").read_text())
        return cls({digest: _read_script(root / rel) for digest, rel in index.items()})

    def lookup(self, sha256: str) -> Script | None:
        return self._scripts.get(sha256)

    def __len__(self) -> int:
        return len(self._scripts)


def _read_script(path: Path) -> Script:
    raw = json.loads(path.read_text())
    return Script(
        id=raw["id"],
        duration=float(raw["duration"]),
        utterances=tuple(
            Utterance(u["speaker"], float(u["start"]), float(u["end"]), u["text"]) for u in raw["utterances"]
        ),
        topics=tuple(raw.get("topics", ())),
    )
