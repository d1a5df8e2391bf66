"""symbl-batch: run many recordings through the Symbl.ai Async API, exactly once, with every job slot busy.

Library use:

    from batch import open_run
    async with open_run("manifests/demo.toml") as run:
        report = await run.run()
"""

from batch.client import RetryPolicy, SymblClient
from batch.errors import (
    ApiError,
    BatchError,
    InputError,
    LockedError,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    StateError,
    Transport,
)
from batch.events import Event
from batch.manifest import load as load_manifest
from batch.models import Conversation, Manifest, Person, Segment
from batch.outputs import conversation_dir, refresh
from batch.outputs import write_bytes as write_file
from batch.report import Report
from batch.runner import Options, Runner, credentials, open_run, override
from batch.store import Store

__all__ = [
    "ApiError",
    "BatchError",
    "Conversation",
    "Event",
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
    "Store",
    "SymblClient",
    "Transport",
    "conversation_dir",
    "credentials",
    "load_manifest",
    "open_run",
    "override",
    "refresh",
    "write_file",
]
