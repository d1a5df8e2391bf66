"""Errors of the speech package, one root.

    SpeechError
    ├── ModelMissing   a model or its package is not installed, or its files do not match the pinned hashes
    ├── Undecodable    the bytes are not a medium with an audio track that can be decoded
    └── Unsupported    a request the models cannot serve (a language the recogniser does not know)
"""

from __future__ import annotations


class SpeechError(Exception):
    """Root of every error raised by `speech`."""


class ModelMissing(SpeechError):
    """A model or its package is missing or corrupt; the message names the package to install."""


class Undecodable(SpeechError):
    """The medium could not be decoded to audio; the message says why."""


class Unsupported(SpeechError):
    """The request asks for something the models cannot do."""
