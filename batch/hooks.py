"""What the runner hands to the after-conversation hook (e.g. reconciliation) once a conversation's last
segment is saved. The hook runs as its own guarded task: its failure is a `reconcile_failed` event and exit
code 1, never a crashed run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from batch.client import SymblClient
from batch.models import Conversation, Manifest


@dataclass(frozen=True, slots=True)
class Finished:
    conversation: Conversation
    conversation_id: str
    parts: dict[str, Any] | None  # the results just saved (None for a conversation an earlier run saved)
    client: SymblClient
    manifest: Manifest  # the run's, with its overrides (output, state)


AfterConversation = Callable[[Finished], Awaitable[None]]
