"""Subtitles of a conversation: `transcript.srt` and `transcript.vtt`. Pure: messages in, text out.

Rule: a cue holds one speaker's words, at most `MAX_LINES` lines of at most `LINE_CHARS` characters and at most
`MAX_SECONDS` seconds; a longer message is cut into several cues at word boundaries. A cue never leaves its
message's time span, so cues overlap only where messages do. Without word times (the
messages are read without `verbose=true`) a message's words share its duration in proportion to their length.
Rule: the speaker is named in every cue, by the label the transcripts use (`render.labels`: the member's name after
renames and merges, numbered when two members share one): SRT as `Name: text`, WebVTT as a voice span
`<v Name>text`. Nothing from the API becomes markup: WebVTT escapes `&`, `<` and `>`; SRT, which has no escape,
gets U+2039 and U+203A (single angle quotes) for `<` and `>` (players read SRT tags); no text breaks a cue
(whitespace is collapsed).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from batch import render

LINE_CHARS = 42  # the usual broadcast limit of a subtitle line
MAX_LINES = 2
MAX_SECONDS = 6.0


@dataclass(frozen=True, slots=True)
class Cue:
    start: float  # seconds from the conversation's start
    end: float
    speaker: str
    lines: tuple[str, ...]


def _wrap(words: Sequence[str], first: int) -> list[str] | None:
    """`words` on lines of at most LINE_CHARS (the first `first` characters shorter), or None when they need more
    than MAX_LINES lines. A single word longer than a line gets a line of its own."""
    lines: list[str] = []
    for word in words:
        limit = LINE_CHARS - (first if len(lines) == 1 else 0)
        if lines and len(lines[-1]) + 1 + len(word) <= limit:
            lines[-1] += " " + word
            continue
        lines.append(word)
        if len(lines) > MAX_LINES:
            return None
    return lines


def _chunks(words: Sequence[str], duration: float, prefix: int) -> Iterator[tuple[int, int]]:
    """Word ranges [i, j) of one message, each fitting a cue: the most words that fit MAX_LINES lines (the first
    line shortened by `prefix`, the speaker's label in SRT) and MAX_SECONDS at the message's speaking rate."""
    weights = [len(w) + 1 for w in words]
    per_char = duration / max(1, sum(weights))
    i = 0
    while i < len(words):
        j, seconds = i + 1, weights[i] * per_char
        while j < len(words) and seconds + weights[j] * per_char <= MAX_SECONDS and _wrap(words[i : j + 1], prefix):
            seconds += weights[j] * per_char
            j += 1
        yield i, j
        i = j


def cues(messages: Sequence[dict[str, Any]], *, prefix_speaker: bool = False) -> list[Cue]:
    """The conversation's cues in time order. `prefix_speaker`: the label takes room on the first line (SRT)."""
    names = render.labels(messages)
    found: list[Cue] = []
    for message in messages:
        words = str(message.get("text") or "").split()
        if not words:
            continue
        start = max(0.0, float(message.get("timeOffset") or 0.0))
        duration = max(0.0, float(message.get("duration") or 0.0))
        speaker = names[render.member_key(message)]
        prefix = len(speaker) + 2 if prefix_speaker else 0
        total = sum(len(w) + 1 for w in words)
        done = 0
        for i, j in _chunks(words, duration, prefix):
            begin = start + duration * done / total
            done += sum(len(w) + 1 for w in words[i:j])
            end = start + duration * done / total
            lines = _wrap(words[i:j], prefix)
            assert lines is not None  # a chunk is one word, or words `_chunks` checked fit
            found.append(Cue(begin, min(end, begin + MAX_SECONDS), speaker, tuple(lines)))  # one slow word: 6 s
    found.sort(key=lambda c: c.start)
    return found


def _stamp(seconds: float, separator: str) -> str:
    millis = round(max(0.0, seconds) * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _srt_text(text: str) -> str:
    return text.replace("<", "\u2039").replace(">", "\u203a")


def _vtt_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def srt(messages: Sequence[dict[str, Any]]) -> str:
    """SubRip: numbered cues, `hh:mm:ss,mmm --> hh:mm:ss,mmm`, the speaker's label before the first line."""
    blocks = []
    for n, cue in enumerate(cues(messages, prefix_speaker=True), 1):
        first, *rest = cue.lines
        text = "\n".join([f"{cue.speaker}: {first}", *rest])
        blocks.append(f"{n}\n{_stamp(cue.start, ',')} --> {_stamp(cue.end, ',')}\n{_srt_text(text)}\n")
    return "\n".join(blocks)


def vtt(messages: Sequence[dict[str, Any]]) -> str:
    """WebVTT: `WEBVTT`, then cues `hh:mm:ss.mmm --> hh:mm:ss.mmm` whose text opens with a voice span."""
    blocks = ["WEBVTT\n"]
    for cue in cues(messages):
        voice = _vtt_text(cue.speaker).replace("\n", " ")
        text = f"<v {voice}>" + "\n".join(_vtt_text(line) for line in cue.lines)
        blocks.append(f"{_stamp(cue.start, '.')} --> {_stamp(cue.end, '.')}\n{text}\n")
    return "\n".join(blocks)
