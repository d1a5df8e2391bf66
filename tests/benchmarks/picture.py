"""Slot occupancy over time for scenario 1, one strip per strategy (SVG, no plotting dependency).

Each strip is the number of the account's jobs running on the emulator (from its own job timelines) against
time since the first submission, on one time axis per C so makespans compare at a glance; the dashed line is
the account limit C and the red tick the lower bound LB.
"""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH, STRIP, GAP, LEFT = 940, 46, 18, 310


def _steps(intervals: list[list[float]]) -> list[tuple[float, int]]:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    level, points = 0, [(0.0, 0)]
    for at, change in events:
        level += change
        points.append((at, level))
    return points


def occupancy(rows: list[dict[str, Any]]) -> str:
    groups: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["C"], []).append(row)
    height = sum(40 + len(g) * (STRIP + GAP) for g in groups.values()) + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" '
        'font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
    ]
    y = 10
    for limit, group in groups.items():
        span = max(max((end for _, end in r["occupancy"]), default=0.0) for r in group) or 1.0
        span = max(span, *(r["makespan_s"] for r in group))
        scale_x = (WIDTH - LEFT - 20) / span
        parts.append(
            f'<text x="10" y="{y + 16}" font-weight="bold">C = {limit}: jobs running on the account over time '
            f"(0 to {span:.0f} s)</text>"
        )
        y += 30
        for row in group:
            scale_y = STRIP / max(limit, row["peak_jobs"], 1)
            base = y + STRIP
            label = f"{row['strategy']}  makespan/LB {row['makespan_over_LB']}"
            parts.append(f'<text x="10" y="{y + STRIP / 2 + 4}">{escape(label)}</text>')
            path, last = [f"M{LEFT},{base}"], 0
            for at, level in _steps(row["occupancy"]):
                x = LEFT + at * scale_x
                path.append(f"L{x:.1f},{base - last * scale_y:.1f} L{x:.1f},{base - level * scale_y:.1f}")
                last = level
            parts.append(f'<path d="{" ".join(path)}" fill="#9ecae1" stroke="#3182bd" stroke-width="0.6"/>')
            limit_y = base - limit * scale_y
            parts.append(
                f'<line x1="{LEFT}" x2="{WIDTH - 20}" y1="{limit_y:.1f}" y2="{limit_y:.1f}" stroke="#555" '
                'stroke-dasharray="4 3"/>'
            )
            lb_x = LEFT + row["LB_s"] * scale_x
            parts.append(f'<line x1="{lb_x:.1f}" x2="{lb_x:.1f}" y1="{y}" y2="{base}" stroke="#d62728"/>')
            parts.append(f'<line x1="{LEFT}" x2="{WIDTH - 20}" y1="{base}" y2="{base}" stroke="#999"/>')
            y += STRIP + GAP
        y += 10
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
