"""The benchmark runner at tiny sizes, so it cannot rot (the real run is `python -m tests.benchmarks.run`)."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks import scale
from tests.benchmarks.durability import measure
from tests.benchmarks.run import main_async, table


async def test_benchmark_smoke(tmp_path: Path) -> None:
    """Every scenario runs and reports measured figures: ours finishes everything within the account's limit,
    polls are counted, the memory children report, the picture is drawn."""
    results = await main_async(True, tmp_path / "results.json", tmp_path / "occupancy.svg")
    ours = results["makespan"][0]
    assert ours["strategy"] == "ours" and ours["not_finished"] == 0 and ours["peak_jobs"] <= ours["C"]
    assert ours["polls_per_job"] >= 1 and ours["delay_median"] is not None
    assert all(row["not_finished"] == 0 for row in results["wrong_ceiling"])
    assert results["webhooks"]["not_finished"] == 0
    memory = results["memory"]
    assert memory["dry_run"]["returncode"] == 0 and memory["dry_run"]["peak_rss_mb"] > 0
    assert memory["real_run"]["returncode"] in (0, 130) and memory["real_run"]["jobs_completed"] > 0
    assert memory["upload"]["saved"] == 1 and memory["upload"]["file_bytes"] == 8 << 20
    assert results["planning"]["cpu_s"] > 0 and "strategy" in table(results)
    assert (tmp_path / "results.json").is_file() and "<svg" in (tmp_path / "occupancy.svg").read_text()


def test_durability_benchmark_smoke() -> None:
    """The synchronous=FULL cost benchmark runs and reports both modes measured side by side."""
    result = measure(20)
    assert result["normal_s_per_1000"] > 0 and result["full_s_per_1000"] > 0 and result["ratio_full_to_normal"] > 0


async def test_scale_benchmark_smoke(tmp_path: Path) -> None:
    """The memory-at-scale benchmark at 200 rows: both runs complete, every job once, RSS watched throughout."""
    found = await scale.measure(200, 120.0, tmp_path)
    assert found["dry_run"]["returncode"] == 0 and len(found["dry_run"]["rss_quarters_mb"]) == 4
    assert (found["real_run"]["returncode"], found["real_run"]["jobs_completed"]) == (0, 200)
    assert "| 200 | real run | 0 |" in scale.table([found])
