"""symbl-batch: run many recordings through the Symbl.ai Async API, exactly once, with every job slot busy.

Library use:

    from batch import open_run
    async with open_run("manifests/demo.toml") as run:
        report = await run.run()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batch.client import RetryPolicy, SymblClient
    from batch.errors import (
        ApiError,
        BatchError,
        Broken,
        InputError,
        LockedError,
        NotFound,
        OutcomeUnknown,
        RateLimited,
        StateError,
        StateWriteError,
        Transport,
        Unreachable,
    )
    from batch.events import Event
    from batch.hooks import AfterConversation, Finished
    from batch.manifest import load as load_manifest
    from batch.models import Conversation, Manifest, Person, Segment
    from batch.outputs import conversation_dir, refresh
    from batch.outputs import write_bytes as write_file
    from batch.report import RECONCILE_RECORD, Report
    from batch.runner import Options, Runner, credentials, open_run, override
    from batch.store import Store

# Rule: importing `batch` (and so `batch.emulator`, the local backend, which lives in this package) loads no
# client module; each public name is imported on first use (PEP 562).
_EXPORTS = {
    "RetryPolicy": "batch.client",
    "SymblClient": "batch.client",
    "ApiError": "batch.errors",
    "BatchError": "batch.errors",
    "Broken": "batch.errors",
    "InputError": "batch.errors",
    "LockedError": "batch.errors",
    "NotFound": "batch.errors",
    "OutcomeUnknown": "batch.errors",
    "RateLimited": "batch.errors",
    "StateError": "batch.errors",
    "StateWriteError": "batch.errors",
    "Transport": "batch.errors",
    "Unreachable": "batch.errors",
    "Event": "batch.events",
    "AfterConversation": "batch.hooks",
    "Finished": "batch.hooks",
    "load_manifest": "batch.manifest:load",
    "Conversation": "batch.models",
    "Manifest": "batch.models",
    "Person": "batch.models",
    "Segment": "batch.models",
    "conversation_dir": "batch.outputs",
    "refresh": "batch.outputs",
    "write_file": "batch.outputs:write_bytes",
    "RECONCILE_RECORD": "batch.report",
    "Report": "batch.report",
    "Options": "batch.runner",
    "Runner": "batch.runner",
    "credentials": "batch.runner",
    "open_run": "batch.runner",
    "override": "batch.runner",
    "Store": "batch.store",
}


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'batch' has no attribute {name!r}")
    module, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value
    return value


__all__ = [
    "RECONCILE_RECORD",
    "AfterConversation",
    "ApiError",
    "BatchError",
    "Broken",
    "Conversation",
    "Event",
    "Finished",
    "InputError",
    "LockedError",
    "Manifest",
    "NotFound",
    "Options",
    "OutcomeUnknown",
    "Person",
    "RateLimited",
    "Report",
    "RetryPolicy",
    "Runner",
    "Segment",
    "StateError",
    "StateWriteError",
    "Store",
    "SymblClient",
    "Transport",
    "Unreachable",
    "conversation_dir",
    "credentials",
    "load_manifest",
    "open_run",
    "override",
    "refresh",
    "write_file",
]
