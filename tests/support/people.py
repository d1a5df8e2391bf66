"""The corpus's people (its cast) and the manifests the reconciliation tests build from them."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from batch import load_manifest, open_run
from reconcile.cli import after_conversation_hook
from tests.support.emulator import FAST, Emulator
from tests.support.processes import FAST_API
from tests.support.server import CORPUS

CAST = {key: (p["name"], p["email"]) for key, p in tomllib.loads((CORPUS / "cast.toml").read_text())["people"].items()}


def roster(keys: list[str], *, enrol: bool = True) -> str:
    lines = []
    for key in keys:
        name, email = CAST[key]
        lines += ["[[people]]", f'name = "{name}"', f'email = "{email}"']
        if enrol:
            lines.append(f'enrolment = "{CORPUS / "enrol" / f"{key}.wav"}"')
    return "\n".join(lines) + "\n"


def seed_manifest(folder: Path, *, enrol: bool = True, conversation: str = "standup") -> Path:
    text = (
        '[api]\noutput = "out"\n\n[defaults]\nenableSpeakerDiarization = true\ndiarizationSpeakerCount = 2\n\n'
        + roster(["john", "alice", "may"], enrol=enrol)
        + f'\n[[conversations]]\nid = "{conversation}"\nname = "Weekly {conversation}"\n'
        f'  [[conversations.segments]]\n  file = "{CORPUS / "media" / "standup-part1.wav"}"\n'
        f'  [[conversations.segments]]\n  file = "{CORPUS / "media" / "standup-part2.wav"}"\n'
    )
    path = folder / f"{conversation}.toml"
    path.write_text(text)
    return path


async def run_with_reconcile(emu: Emulator, manifest: Path, **kwargs: Any) -> None:
    loaded = load_manifest(manifest, environ=emu.env())
    hook = after_conversation_hook(use_voice=True, emit=emu.events.append)
    async with open_run(loaded, options=FAST, on_event=emu.events.append, after_conversation=hook, **kwargs) as run:
        assert (await run.run()).ok


def corpus_truth() -> dict[str, str]:
    """Each utterance's text -> the email of the corpus speaker who says it."""
    truth = {}
    for path in (CORPUS / "scripts").glob("*.json"):
        for u in json.loads(path.read_text())["utterances"]:
            truth[u["text"]] = CAST[u["speaker"]][1]
    return truth


STANDUP = (
    '[[conversations]]\nid = "standup"\nname = "Weekly standup"\n'
    f'  [[conversations.segments]]\n  file = "{CORPUS / "media" / "standup-part1.wav"}"\n'
    f'  [[conversations.segments]]\n  file = "{CORPUS / "media" / "standup-part2.wav"}"\n'
)
INTERVIEW = (
    '[[conversations]]\nid = "interview"\n'
    f'  [[conversations.segments]]\n  file = "{CORPUS / "media" / "interview.wav"}"\n'
)
BLOCKS = {"standup": STANDUP, "interview": INTERVIEW}


def people_manifest(folder: Path, conversations: list[str], *, enrol: bool = True) -> Path:
    """John, Alice and May on the roster; the seed's standup (resolved) and/or the interview (Raj and Sofia, who
    are not on the roster: both go to review). Rewritten in place when called again."""
    text = (
        f'[api]\noutput = "out"\n{FAST_API}\n\n[defaults]\nenableSpeakerDiarization = true\n'
        "diarizationSpeakerCount = 2\n\n" + roster(["john", "alice", "may"], enrol=enrol)
    )
    path = folder / "people.toml"
    path.write_text(text + "".join(BLOCKS[c] for c in conversations))
    return path
