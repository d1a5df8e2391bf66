"""Turn edges: the speech pipeline's words with and without `speech.realign`, side by side, on one hearing.

    python -m tests.benchmarks.speechedges            # dev, test and corpus (builds .cache/speechset/ if missing)
    python -m tests.benchmarks.speechedges --split test

Each file (the long meetings excepted) is heard once by the real pipeline with the true speaker count given
(`Pipeline.heard`: words with the voice of their windows), in two worker processes; the same words are then cut
into messages as they are (`as heard`) and after the changes of voice are moved onto sentence ends (`realigned`).
Per split and condition: words to the right speaker (speechmetrics.right_speaker), DER, and messages right: a
message is right when the speaker it is given (mapped to the truth as for DER) holds most of its time in the
truth; `short wrong` counts the wrong ones under a second. Figures go to docs/speech-edges.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from speech.pipeline import Heard, Pipeline
from speech.realign import realigned
from tests.benchmarks import speechmetrics as m
from tests.benchmarks import speechscore
from tests.benchmarks.speech import ONE_THREAD, ROOT, _items
from tests.benchmarks.speechmetrics import Segment, TimedWord
from tests.benchmarks.speechset import build

RESULTS = ROOT / "docs" / "speech-edges.json"
WAYS = ("as heard", "realigned")
_LOADED: dict[str, Pipeline] = {}  # per worker process


@dataclass
class Tally:
    words_right: int = 0
    words: int = 0
    messages_right: int = 0
    messages: int = 0
    short_wrong: int = 0
    der_errors: int = 0
    der_scored: int = 0

    def add(self, truth: Sequence[Segment], hyp: speechscore.Hypothesis) -> None:
        score = speechscore.score(truth, hyp)
        self.words_right += score.right.hits
        self.words += score.right.total
        self.der_errors += score.der.missed + score.der.false_alarm + score.der.confusion
        self.der_scored += score.der.scored
        mapping = m.speaker_map(truth, hyp.segments)
        for segment in hyp.segments:
            held: dict[str, float] = {}
            for t in truth:
                overlap = min(segment.end, t.end) - max(segment.start, t.start)
                if overlap > 0 and t.speaker is not None:
                    held[t.speaker] = held.get(t.speaker, 0.0) + overlap
            if not held:
                continue
            self.messages += 1
            if mapping.get(segment.speaker or "") == max(held, key=held.__getitem__):
                self.messages_right += 1
            elif segment.end - segment.start < 1.0:
                self.short_wrong += 1

    def row(self) -> dict[str, Any]:
        return {
            "words_right": round(self.words_right / max(self.words, 1), 4),
            "messages_right": [self.messages_right, self.messages],
            "short_wrong": self.short_wrong,
            "der": round(self.der_errors / max(self.der_scored, 1), 4),
        }


def hear(args: tuple[str, int]) -> tuple[str, Heard]:
    """One file heard by the real pipeline (a worker process loads its own once)."""
    media, count = args
    pipeline = _LOADED.get("pipeline") or _LOADED.setdefault("pipeline", Pipeline(threads=1))
    return media, pipeline.heard(Path(media), diarize=True, speaker_count=count)


def hypothesis(heard: Heard, *, realign: bool) -> speechscore.Hypothesis:
    transcript = heard.transcript(realigned(heard.words) if realign else heard.words)
    segments = tuple(Segment(str(u.speaker), u.start, u.end, u.text) for u in transcript.utterances)
    words = tuple(TimedWord(w.text, w.start, w.end, str(w.speaker)) for u in transcript.utterances for w in u.words)
    return speechscore.Hypothesis(segments, words)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--set", type=Path, default=build.DEFAULT_OUT, help="the speech set's folder")
    parser.add_argument("--split", choices=("test", "dev", "corpus", "all"), default="all")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.split != "corpus" and not (args.set / "index.json").exists():
        build.build(args.set)
    items = [i for i in _items(args.set, args.split) if i.kind not in ("long", "tiled")]
    os.environ.update(ONE_THREAD)
    tallies: dict[tuple[str, str, str], Tally] = {}
    scripts = {str(i.media): i for i in items}
    with ProcessPoolExecutor(2) as pool:
        for media, heard in pool.map(hear, [(str(i.media), i.speakers) for i in items]):
            item = scripts[media]
            truth = speechscore.truth_segments(json.loads(item.script.read_text()))
            for way in WAYS:
                tally = tallies.setdefault((item.split, item.condition, way), Tally())
                tally.add(truth, hypothesis(heard, realign=way == "realigned"))
            print(f"{media}: {len(heard.words)} words", file=sys.stderr, flush=True)
    print(
        "| split | condition | words | "
        + " | ".join(
            f"{way}: words to the right speaker | {way}: messages right | {way}: wrong under 1 s | {way}: DER"
            for way in WAYS
        )
        + " |"
    )
    print("|---|---|---:|" + "---:|" * 4 * len(WAYS))
    rows = []
    for split, condition in sorted({(s, c) for s, c, _ in tallies}):
        cells = []
        for way in WAYS:
            t = tallies[(split, condition, way)]
            r = t.row()
            right, total = r["messages_right"]
            cells += [
                f"{r['words_right']:.1%}",
                f"{right / max(total, 1):.1%} ({right}/{total})",
                str(r["short_wrong"]),
                f"{r['der']:.1%}",
            ]
            rows.append({"split": split, "condition": condition, "way": way, **r})
        words = tallies[(split, condition, WAYS[0])].words
        print(f"| {split} | {condition} | {words} | " + " | ".join(cells) + " |")
    body = {"generated": datetime.now(UTC).isoformat(timespec="seconds"), "files": len(items), "rows": rows}
    args.results.write_text(json.dumps(body, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
