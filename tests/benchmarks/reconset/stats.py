"""Summaries of measured cosines, as calibration.json holds them, and a readable table of them. Pure.

A summary has mean, sd (sample standard deviation), n, min, p01, p05, p50, p95, p99 and max (numpy's linear
percentiles), each rounded to 4 decimals; an empty class gives n = 0 and nulls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

KEYS = ("mean", "sd", "n", "min", "p01", "p05", "p50", "p95", "p99", "max")
PERCENTILES = {"p01": 1, "p05": 5, "p50": 50, "p95": 95, "p99": 99}


def summary(values: Iterable[float]) -> dict[str, Any]:
    data = np.asarray(list(values), dtype=np.float64)
    if data.size == 0:
        return {k: (0 if k == "n" else None) for k in KEYS}
    out: dict[str, Any] = {
        "mean": float(data.mean()),
        "sd": float(data.std(ddof=1)) if data.size > 1 else 0.0,
        "n": int(data.size),
        "min": float(data.min()),
    }
    out |= {name: float(np.percentile(data, q)) for name, q in PERCENTILES.items()}
    out["max"] = float(data.max())
    return {k: (v if k == "n" else round(v, 4)) for k, v in ((k, out[k]) for k in KEYS)}


def table(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """One line per named summary: n, mean, sd and the percentiles."""
    columns = ("mean", "sd", "min", "p01", "p05", "p50", "p95", "p99", "max")
    lines = [f"{'':34s} {'n':>6s} " + " ".join(f"{c:>7s}" for c in columns)]
    for name, s in rows.items():
        if not s["n"]:
            lines.append(f"{name:34s} {0:6d}")
            continue
        cells = " ".join(f"{s[k]:7.3f}" for k in columns)
        lines.append(f"{name:34s} {s['n']:6d} {cells}")
    return "\n".join(lines)
