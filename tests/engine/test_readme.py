"""The README's examples, executed as written (the library against an emulator process), so they cannot rot."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import sys
import tomllib
from pathlib import Path

from batch import load_manifest
from batch.schema import ReconcileIn
from reconcile import Settings
from tests.support.processes import EmulatorProcess, start_emulator
from tests.support.server import ROOT


def library_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Library") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README has no python block under ### Library"
    return match.group(1)


async def test_readme_library_example_runs(tmp_path: Path) -> None:
    """The example processes the demo manifest and prints its totals; it writes where it says."""
    for name in ("manifests", "corpus"):
        (tmp_path / name).symlink_to(ROOT / name)
    emu: EmulatorProcess = await start_emulator("--time-scale", "0.01")
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            library_example(),
            cwd=tmp_path,
            env=emu.env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        emu.proc.terminate()
        await emu.proc.wait()
    assert proc.returncode == 0, err.decode()
    assert out.decode().strip().endswith("{'saved': 10}")
    report = json.loads((tmp_path / "demo-output" / "report.json").read_text())
    assert report["ok"] is True


def _block(path: Path, after: str, language: str) -> str:
    text = path.read_text()
    match = re.search(rf"```{language}\n(.*?)```", text[text.index(after) :], re.S)
    assert match, f"{path.name} has no {language} block after {after!r}"
    return match.group(1)


def test_readme_manifest_example_is_a_valid_manifest(tmp_path: Path) -> None:
    """The manifest reference in README loads as written (its paths are the corpus's, relative to manifests/)."""
    example = _block(ROOT / "README.md", "### Manifest", "toml")
    (tmp_path / "example.toml").write_text(example.replace("../corpus/", f"{ROOT / 'corpus'}/"))
    manifest = load_manifest(tmp_path / "example.toml", environ={})
    (standup,) = manifest.conversations
    assert [s.params["diarizationSpeakerCount"] for s in standup.segments] == [3, 2]
    assert standup.name == "Weekly standup" and manifest.people[0].enrolment is not None


def test_the_reconcile_settings_shown_are_the_defaults(tmp_path: Path) -> None:
    """docs/reconciliation.md's `[reconcile]` table, said to show the defaults, is the defaults of the schema and of
    the planner."""
    shown = tomllib.loads(_block(ROOT / "docs" / "reconciliation.md", "## Settings", "toml"))["reconcile"]
    assert shown == ReconcileIn().model_dump() == dataclasses.asdict(Settings())
