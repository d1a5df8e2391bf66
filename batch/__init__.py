"""symbl-batch: run many recordings through the Symbl.ai Async API, exactly once, with every job slot busy.

Library use:

    from batch import open_run
    async with open_run("manifests/demo.toml") as run:
        report = await run.run()
"""

from batch.errors import (
    ApiError,
    BatchError,
    InputError,
    LockedError,
    OutcomeUnknown,
    RateLimited,
    StateError,
)
from batch.events import Event
from batch.manifest import load as load_manifest
from batch.models import Conversation, Manifest, Person, Segment
from batch.report import Report
from batch.runner import Options, Runner, open_run

__all__ = [
    "ApiError",
    "BatchError",
    "Conversation",
    "Event",
    "InputError",
    "LockedError",
    "Manifest",
    "Options",
    "OutcomeUnknown",
    "Person",
    "RateLimited",
    "Report",
    "Runner",
    "Segment",
    "StateError",
    "load_manifest",
    "open_run",
]
