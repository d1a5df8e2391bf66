"""The exception tree of `reconcile`.

ReconcileError
├── ReviewError       the review file is malformed (exit code 2); the message names the file, line and key
├── VoiceUnavailable  voice evidence was asked for but the `voice` extra is not installed
├── ApplyError        the API refused an operation of the plan, or verification found a mismatch
└── LedgerError       the reconciliation ledger (in the state file) cannot be opened or written
"""

from __future__ import annotations


class ReconcileError(Exception):
    """Root of every error the reconcile package raises."""


class ReviewError(ReconcileError):
    pass


class VoiceUnavailable(ReconcileError):
    pass


class ApplyError(ReconcileError):
    pass


class LedgerError(ReconcileError):
    pass
