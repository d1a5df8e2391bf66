"""The manifest's schema (pydantic): types, ranges and allowed keys. Cross-field and file checks are in manifest.py.

Async parameters use the API's own names (symbl-api.md §3) at every level: `[defaults]`, a conversation, a segment;
the nearest level wins.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SAFE_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"  # safe as a folder name: no '/', no leading '.', no '..'


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Params(Strict):
    webhookUrl: str | None = None
    customVocabulary: list[str] | None = None
    confidenceThreshold: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    detectPhrases: bool | None = None
    entities: list[dict[str, Any]] | None = None
    detectEntities: bool | None = None
    languageCode: Annotated[str, Field(pattern=r"^[a-z]{2}-[A-Z]{2}$")] | None = None
    mode: Literal["phone", "default"] | None = None
    enableSeparateRecognitionPerChannel: bool | None = None
    channelMetadata: list[dict[str, Any]] | None = None
    enableSpeakerDiarization: bool | None = None
    diarizationSpeakerCount: Annotated[int, Field(ge=1, le=100)] | None = None
    trackers: list[dict[str, Any]] | None = None
    enableAllTrackers: bool | None = None
    enableSummary: bool | None = None


PARAM_NAMES = frozenset(Params.model_fields)


class SegmentIn(Params):
    id: Annotated[str, Field(pattern=SAFE_ID)] | None = None
    part: Annotated[int, Field(ge=1)] | None = None
    file: Annotated[str, Field(min_length=1)] | None = None
    url: Annotated[str, Field(min_length=1)] | None = None
    type: Literal["audio", "video"] | None = None


class ConversationIn(Params):
    id: Annotated[str, Field(pattern=SAFE_ID)]
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    participants: list[str] = []
    segments: Annotated[list[SegmentIn], Field(min_length=1)]


class PersonIn(Strict):
    name: Annotated[str, Field(min_length=1)]
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    enrolment: str | None = None


class ApiIn(Strict):
    base_url: Annotated[str, Field(pattern=r"^https?://[^/\s]+")] | None = None
    app_id: Annotated[str, Field(min_length=1)] | None = None
    app_secret: Annotated[str, Field(min_length=1)] | None = None
    concurrency: Annotated[int, Field(ge=1, le=1000)] = 5
    output: Annotated[str, Field(min_length=1)] = "output"
    state: Annotated[str, Field(min_length=1)] | None = None
    max_upload_bytes: Annotated[int, Field(ge=1)] = 1 << 30
    poll_cap: Annotated[float, Field(gt=0)] = 30.0
    job_timeout: Annotated[float, Field(gt=0)] = 4 * 3600.0
    poll_min: Annotated[float, Field(gt=0)] = 1.0
    lost_answer_grace: Annotated[float, Field(ge=0)] = 5.0
    undecided_after: Annotated[float, Field(gt=0)] = 600.0
    probe_after: Annotated[float, Field(gt=0)] = 30.0
    webhook_listen: Annotated[str, Field(pattern=r"^[^\s:]+:\d{1,5}$")] | None = None
    webhook_public_url: Annotated[str, Field(pattern=r"^https?://[^/\s]+")] | None = None


class ReconcileIn(Strict):
    """Tuning of member reconciliation (read by the `reconcile` package); higher is more conservative."""

    voice_margin: Annotated[float, Field(gt=0, le=1)] = 0.10
    voice_floor: Annotated[float, Field(ge=-1, le=1)] = 0.50
    decide_at: Annotated[float, Field(gt=0, le=1)] = 0.8
    min_gap: Annotated[float, Field(ge=0, le=1)] = 0.3
    use_voice: bool = True
    use_introductions: bool = True


class ManifestIn(Strict):
    api: ApiIn = ApiIn()
    reconcile: ReconcileIn = ReconcileIn()
    defaults: Params = Params()
    people: list[PersonIn] = []
    conversations: Annotated[list[ConversationIn], Field(min_length=1)]
