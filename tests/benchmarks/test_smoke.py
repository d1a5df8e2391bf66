"""The benchmark runner at tiny sizes, so it cannot rot (the real run is `python -m tests.benchmarks.run`)."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.run import main_async, table


async def test_benchmark_smoke(tmp_path: Path) -> None:
    """Every scenario runs and reports its measured figures; every recording of our strategy finishes."""
    results = await main_async(True, tmp_path / "results.json")
    ours = results["makespan"][0]
    assert ours["strategy"] == "ours" and ours["not_finished"] == 0 and ours["peak_jobs"] <= ours["C"]
    assert results["wrong_ceiling"][0]["not_finished"] == 0
    assert results["planning"]["cpu_s"] >= 0 and "strategy" in table(results)
    assert (tmp_path / "results.json").is_file()
