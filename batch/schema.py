"""The manifest's schema (pydantic): types, ranges and allowed keys. Cross-field and file checks are in manifest.py.

Async parameters use the API's own names (docs/api-contract.md §3) at every level: `[defaults]`, a conversation, a
segment; the nearest level wins.

Rules for [api]: a timing is a finite number of seconds under its ceiling (TIMING_LIMITS), because `inf` or 1e300
would make the run wait forever; a server URL (base_url, webhook_public_url) parses, is http(s) with a host and a
port from 1 to 65535, carries no credentials and no query or fragment (paths are appended to it); paths hold no
NUL character. `api_conflicts` holds the rules between settings (poll_min <= poll_cap <= job_timeout).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from batch import models

SAFE_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"  # safe as a folder name: no '/', no leading '.', no '..'
NO_NUL = r"^[^\x00]+$"  # a path with a NUL character cannot be opened (the OS would cut it or refuse it)
PathText = Annotated[str, Field(min_length=1, pattern=NO_NUL)]
# Rule: a timing is a finite number of seconds with a ceiling, because `inf` or 1e300 would wait forever.
TIMING_LIMITS = {
    "poll_min": 3600.0,
    "poll_cap": 3600.0,
    "job_timeout": 7 * 86400.0,
    "lost_answer_grace": 3600.0,
    "undecided_after": 86400.0,
    "probe_after": 3600.0,
}
MAX_PORT = 65535


def split_url(url: str) -> SplitResult | None:
    """The parts of a URL, or None when it cannot be parsed (urlsplit raises on "http://[::1")."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it raises on a port that is not a number from 0 to 65535
    except ValueError:
        return None
    return parts


def server_url_problem(url: str, *, example: str) -> str | None:
    """Why `url` cannot be the base URL of a server that paths are appended to (None: it can), as the end of a
    sentence that names the setting."""
    parts = split_url(url)
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be a valid http or https URL such as {example}, not {url!r}"
    if parts.port == 0:
        return f"must name a port from 1 to {MAX_PORT} (or none, for the scheme's default), not 0"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials (user:password@), which would be logged and sent with every request"
    if "?" in url or "#" in url:
        return f"must not have a query (?...) or fragment (#...), as paths are appended to it; give one like {example}"
    return None


def _checked(example: str) -> AfterValidator:
    def check(url: str) -> str:
        problem = server_url_problem(url, example=example)
        if problem is not None:
            raise ValueError(problem)
        return url

    return AfterValidator(check)


def _listen_address(value: str) -> str:
    port = int(value.rsplit(":", 1)[1])
    if port > MAX_PORT:
        raise ValueError(f"port {port} is out of range; give host:port with a port from 1 to {MAX_PORT}")
    return value


Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
BASE_URL_CHECK = _checked("https://api.symbl.ai")
PUBLIC_URL_CHECK = _checked("https://hooks.example.com")


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
    file: PathText | None = None
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
    enrolment: Annotated[str, Field(pattern=r"^[^\x00]*$")] | None = None  # "" is no sample


class ApiIn(Strict):
    base_url: Annotated[str, Field(pattern=r"^https?://[^/\s]+"), BASE_URL_CHECK] | None = None
    app_id: Annotated[str, Field(min_length=1)] | None = None
    app_secret: Annotated[str, Field(min_length=1)] | None = None
    concurrency: Annotated[int, Field(ge=1, le=1000)] = 5
    output: PathText = "output"
    state: PathText | None = None
    max_upload_bytes: Annotated[int, Field(ge=1)] = 1 << 30
    poll_cap: Annotated[Seconds, Field(le=TIMING_LIMITS["poll_cap"])] = models.POLL_CAP
    job_timeout: Annotated[Seconds, Field(le=TIMING_LIMITS["job_timeout"])] = models.JOB_TIMEOUT
    poll_min: Annotated[Seconds, Field(le=TIMING_LIMITS["poll_min"])] = models.POLL_MIN
    lost_answer_grace: Annotated[float, Field(ge=0, le=TIMING_LIMITS["lost_answer_grace"], allow_inf_nan=False)] = (
        models.LOST_ANSWER_GRACE
    )
    undecided_after: Annotated[Seconds, Field(le=TIMING_LIMITS["undecided_after"])] = models.UNDECIDED_AFTER
    probe_after: Annotated[Seconds, Field(le=TIMING_LIMITS["probe_after"])] = models.PROBE_AFTER
    webhook_listen: Annotated[str, Field(pattern=r"^[^\s:]+:\d{1,5}$"), AfterValidator(_listen_address)] | None = None
    webhook_public_url: Annotated[str, Field(pattern=r"^https?://[^/\s]+"), PUBLIC_URL_CHECK] | None = None


def api_conflicts(api: ApiIn) -> list[tuple[tuple[str, ...], str]]:
    """Settings of [api] that are valid alone but not together, each with the field to name."""
    found: list[tuple[tuple[str, ...], str]] = []
    if api.poll_min > api.poll_cap:
        found.append((("api", "poll_min"), f"must be at most poll_cap ({api.poll_cap:g}), not {api.poll_min:g}"))
    if api.poll_cap > api.job_timeout:
        found.append((("api", "poll_cap"), f"must be at most job_timeout ({api.job_timeout:g}), not {api.poll_cap:g}"))
    listen = api.webhook_listen
    if listen is not None and api.webhook_public_url is not None and int(listen.rsplit(":", 1)[1]) == 0:
        found.append(
            (
                ("api", "webhook_listen"),
                "port 0 listens on a random free port, which webhook_public_url cannot name; give a fixed port",
            )
        )
    return found


class ReconcileIn(Strict):
    """Tuning of member reconciliation (read by the `reconcile` package; docs/reconciliation.md). Probabilities are
    calibrated ones (reconcile/calibration.json); raising accept, same_person and split, or lowering reject and
    mixed, is more cautious. Measured here, one cosine never gives more than P = 0.987, so bars above it never
    pass."""

    accept: Annotated[float, Field(gt=0.5, lt=1)] = 0.97  # P(voice is this person) to name it by voice
    same_person: Annotated[float, Field(gt=0.5, lt=1)] = 0.98  # P(two members of two segments are one person)
    split: Annotated[float, Field(gt=0.5, lt=1)] = 0.984  # ... of one segment (the diarizer split one person)
    reject: Annotated[float, Field(gt=0, lt=0.5)] = 0.01  # at or below: "not that person"
    mixed: Annotated[float, Field(gt=0.5, lt=1)] = 0.99  # P(a member's own speech is two voices) to hold it back
    voice_margin: Annotated[float, Field(ge=0, le=1)] = 0.05  # cosine lead over the runner-up on file
    elimination: bool = True
    use_voice: bool = True
    use_introductions: bool = True


class HeaderIn(Strict):
    """A JSONL manifest's header lines (api, defaults, people); its rows are each a one-segment ConversationIn."""

    api: ApiIn = ApiIn()
    defaults: Params = Params()
    people: list[PersonIn] = []


class ManifestIn(Strict):
    api: ApiIn = ApiIn()
    reconcile: ReconcileIn = ReconcileIn()
    defaults: Params = Params()
    people: list[PersonIn] = []
    conversations: Annotated[list[ConversationIn], Field(min_length=1)]
