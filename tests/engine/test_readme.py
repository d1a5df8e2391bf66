"""The README's library example, executed as written against an emulator process, so it cannot rot."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.support.processes import EmulatorProcess, start_emulator


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
