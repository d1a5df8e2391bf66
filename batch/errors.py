"""The exception tree of the `batch` package (client side). It grows with the engine.

BatchError
└── InputError      bad input or configuration (exit code 2); the message names the file, line or field
"""

from __future__ import annotations


class BatchError(Exception):
    """Root of every error the batch package raises."""


class InputError(BatchError):
    """The user's input or configuration is invalid; nothing was sent."""
