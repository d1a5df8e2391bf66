"""The check many tests end with: what the run wrote equals what the server holds."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any


def outputs_equal_server(
    output: Path, state: Mapping[str, Any], report: Mapping[str, Any], *, skip: Collection[str] = ()
) -> int:
    """Every conversation with a saved segment (but those in `skip`): its messages.json holds exactly the messages
    the server says its saved segments produced (they are a prefix: appends are saved in order), in the server's
    order, with the server's text and speaker; once every segment the server has is saved, its members.json is the
    server's members. `state` is the emulator's `/_emulator/state`, `report` a report.json. Returns how many
    conversations were checked."""
    on_server = {c["id"]: c for c in state["conversations"]}
    saved: dict[str, tuple[str, int]] = {}  # conversation -> (its id on the server, segments saved)
    for row in report["segments"]:
        if row["status"] == "saved" and row["conversation"] not in skip:
            count = saved.get(row["conversation"], ("", 0))[1]
            saved[row["conversation"]] = (row["conversationId"], count + 1)
    for conversation, (conversation_id, count) in saved.items():
        server = on_server[conversation_id]
        produced = {m for s in server["segments"][:count] for m in s["messageIds"]}
        expected = [(m["id"], m["text"], m["from"]) for m in server["messages"] if m["id"] in produced]
        written = json.loads((output / conversation / "messages.json").read_text())
        assert [(m["id"], m["text"], m["from"]) for m in written] == expected, f"{conversation}: messages differ"
        if count == len(server["segments"]):
            members = json.loads((output / conversation / "members.json").read_text())
            assert members == server["members"], f"{conversation}: members differ"
    return len(saved)
