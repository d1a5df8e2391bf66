"""The engine's emulator fixture, shared with the reconciliation tests."""

from tests.engine.conftest import make_emulator

__all__ = ["make_emulator"]
