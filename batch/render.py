"""Readable outputs: a Markdown transcript, an SVG speaker timeline, a Markdown run report. Pure: data in, text out.

Names are shown as the API reports them when the results are saved, i.e. after any renames and merges.
Every name and text is escaped for its format; nothing from the API becomes markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
ROW, LEFT, TOP, WIDTH = 28, 170, 44, 1000


def clock(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"


def speaker(message: dict[str, Any]) -> str:
    return str((message.get("from") or {}).get("name") or "Unknown speaker")


def markdown_text(text: str) -> str:
    """Escape Markdown control characters so transcript text stays text."""
    return "".join("\\" + c if c in "\\`*_{}[]<>()#+-!|" else c for c in text)


def transcript_markdown(
    title: str,
    messages: Sequence[dict[str, Any]],
    segments: Sequence[dict[str, Any]],
    *,
    speakers: Sequence[str] = (),
) -> str:
    """`# title`, the `speakers` table's lines (a speaker summary, when given), then per segment a heading and one
    line per message: **[hh:mm:ss] Speaker:** text."""
    starts = {ids[0]: n for n, s in enumerate(segments, 1) if (ids := s.get("messageIds"))}
    lines = [f"# {markdown_text(title)}", ""]
    if speakers:
        lines += ["## Speakers", "", *speakers, ""]
    for message in messages:
        if message.get("id") in starts:
            n = starts[message["id"]]
            lines += ["", f"## Segment {n}" + (" (append)" if n > 1 else ""), ""]
        stamp = clock(float(message.get("timeOffset") or 0))
        text = markdown_text(str(message.get("text", "")))
        lines.append(f"**[{stamp}] {markdown_text(speaker(message))}:** {text}  ")
    return "\n".join(lines).rstrip() + "\n"


def member_key(message: dict[str, Any]) -> str:
    """Rows are members, not names: after an append two members may both be called "Speaker 1"."""
    sender = message.get("from") or {}
    return str(sender.get("id") or sender.get("name") or "")


def labels(messages: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Member key -> the name shown for it: its name, numbered "(2)", "(3)" … when an earlier member has it too."""
    found: dict[str, str] = {}
    for message in messages:
        key = member_key(message)
        if key not in found:
            name = speaker(message)
            same = sum(1 for label in found.values() if label.split(" (")[0] == name)
            found[key] = f"{name} ({same + 1})" if same else name
    return found


def timeline_svg(title: str, messages: Sequence[dict[str, Any]], segments: Sequence[dict[str, Any]]) -> str:
    """Who spoke when: one row per member, one bar per message, dashed lines where segments begin."""
    names = labels(messages)
    keys = list(names)
    end = max((float(m.get("timeOffset") or 0) + float(m.get("duration") or 0) for m in messages), default=1.0)
    scale = WIDTH / max(end, 1.0)
    height = TOP + ROW * max(1, len(keys)) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + 20}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="10" y="20" font-size="14" font-weight="bold">{html.escape(title)}</text>',
    ]
    for row, key in enumerate(keys):
        y = TOP + row * ROW
        out.append(f'<text x="10" y="{y + 17}">{html.escape(names[key])}</text>')
        for message in (m for m in messages if member_key(m) == key):
            x = LEFT + float(message.get("timeOffset") or 0) * scale
            w = max(1.0, float(message.get("duration") or 0) * scale)
            tip = html.escape(str(message.get("text", "")))
            out.append(
                f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{ROW - 8}" '
                f'fill="{PALETTE[row % len(PALETTE)]}"><title>{tip}</title></rect>'
            )
    by_id = {m.get("id"): m for m in messages}
    for n, segment in enumerate(segments, 1):
        first = by_id.get((segment.get("messageIds") or [None])[0])
        if first is None:
            continue
        x = LEFT + float(first.get("timeOffset") or 0) * scale
        out.append(
            f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{height - 24}" stroke="#555" stroke-dasharray="4 3"/>'
        )
        out.append(f'<text x="{x + 3:.1f}" y="{TOP - 8}" fill="#555">segment {n}</text>')
    out.append(f'<text x="{LEFT}" y="{height - 10}" fill="#555">0:00</text>')
    out.append(f'<text x="{LEFT + WIDTH - 40}" y="{height - 10}" fill="#555">{clock(end)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def report_markdown_lines(totals: Mapping[str, int], segments: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    """report.md's head and segments' table, a line at a time (each ending in a newline)."""
    yield "# symbl-batch run report\n\n"
    yield "Totals: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())) + "\n\n"
    yield "| segment | status | messages | conversation id | error |\n|---|---|---:|---|---|\n"
    for s in segments:
        error = markdown_text(s["error"] or "").replace("\n", " ")
        where = s["conversationId"] or ""
        yield f"| {markdown_text(s['segment'])} | {s['status']} | {s['messages']} | {where} | {error} |\n"
