"""The demo manifest's shape, read from the manifest itself, so tests never hard-code how big the demo is."""

from __future__ import annotations

from dataclasses import dataclass

from batch import load_manifest
from tests.support.server import ROOT

DEMO = ROOT / "manifests" / "demo.toml"


@dataclass(frozen=True, slots=True)
class Shape:
    segments: int  # recordings, i.e. jobs
    conversations: int  # creates
    appends: int  # segments after their conversation's first


def _shape() -> Shape:
    manifest = load_manifest(DEMO, environ={"SYMBL_APP_ID": "demo", "SYMBL_APP_SECRET": "demo-secret"})
    segments = len(list(manifest.segments()))
    return Shape(segments, len(manifest.conversations), segments - len(manifest.conversations))


DEMO_SHAPE = _shape()
