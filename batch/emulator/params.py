"""Validation of the async submission parameters (contract §3, decisions §13).

Rules:
- File uploads carry every parameter in the query string. Booleans are the strings `true`/`false`; lists
  and objects are JSON-encoded, and a list may also be a repeated key (the Go SDK's form).
- URL submissions carry them in the JSON body; only `enableSpeakerDiarization`, `diarizationSpeakerCount`
  and `webhookUrl` may also appear in the query, and the query wins.
- In a URL body, a boolean or integer parameter may be a JSON boolean/number or a string, because Symbl's own
  examples send `"diarizationSpeakerCount": "2"` and `"true"`/`"false"` (decisions §13 #21). A string there is
  read exactly as the query's text would be.
- A whole-number float (`2.0`, as JSON or as text) is an integer; `2.5` is not (§13 #22).
- Unknown parameters are rejected (stricter than the lost service may have been, so a client that passes
  here sends nothing the contract does not name).
Every failure is a 400 whose message names the parameter and what would be valid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from batch.emulator.errors import BadRequest

LANGUAGES = frozenset(
    (
        *("en-US", "en-GB", "en-AU", "en-IE", "en-IN", "en-ZA", "ru-RU", "fr-CA", "fr-FR", "de-DE", "it-IT"),
        *("nl-NL", "ja-JP", "es-US", "es-ES", "ar-SA", "hi-IN", "pt-BR", "pt-PT", "fa-IR"),
    )
)
BOOLEANS = frozenset(
    (
        *("detectPhrases", "detectEntities", "enableSeparateRecognitionPerChannel", "enableSpeakerDiarization"),
        *("enableAllTrackers", "enableSummary"),
    )
)
JSON_VALUED = frozenset({"entities", "channelMetadata", "trackers", "features", "metadata"})
QUERY_ON_URL_VARIANTS = frozenset({"enableSpeakerDiarization", "diarizationSpeakerCount", "webhookUrl"})
TEXT_IN_BODY = BOOLEANS | {"diarizationSpeakerCount"}
WHOLE_NUMBER = re.compile(r"([0-9]+)(?:\.0+)?")  # ASCII only: str.isdigit() also takes "²", which int() refuses


@dataclass(frozen=True, slots=True)
class AsyncParams:
    name: str | None = None
    webhook_url: str | None = None
    diarization: bool = False
    speaker_count: int | None = None
    detect_phrases: bool = False
    language: str = "en-US"
    mode: str = "default"
    custom_vocabulary: tuple[str, ...] = ()
    confidence_threshold: float = 0.5
    url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def _fail(name: str, valid: str) -> BadRequest:
    return BadRequest(f"Invalid value for parameter '{name}': expected {valid}.")


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(name, "a non-empty string")
    return value


def _http_url(name: str, value: Any) -> str:
    text = _string(name, value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _fail(name, "an absolute http or https URL")
    return text


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(name, "true or false")
    return value


def _count(name: str, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(name, "an integer of at least 1")
    return value


def _threshold(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise _fail(name, "a number between 0.0 and 1.0")
    return float(value)


def _one_of(choices: frozenset[str], valid: str) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        if value not in choices:
            raise _fail(name, valid)
        return str(value)

    return check


def _strings(name: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(name, "a list of strings")
    return tuple(value)


def _objects(*required: str) -> Callable[[str, Any], list[dict[str, Any]]]:
    def check(name: str, value: Any) -> list[dict[str, Any]]:
        ok = isinstance(value, list) and all(isinstance(v, dict) and all(k in v for k in required) for v in value)
        if not ok:
            keys = ", ".join(required) or "any keys"
            raise _fail(name, f"a list of objects with {keys}")
        return list(value)

    return check


def _object(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(name, "a JSON object")
    return value


CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "name": _string,
    "webhookUrl": _http_url,
    "customVocabulary": _strings,
    "confidenceThreshold": _threshold,
    "entities": _objects("customType", "text"),
    "languageCode": _one_of(LANGUAGES, "a supported BCP-47 code such as en-US"),
    "mode": _one_of(frozenset({"phone", "default"}), "'phone' or 'default'"),
    "channelMetadata": _objects("channel", "speaker"),
    "diarizationSpeakerCount": _count,
    "trackers": _objects("name"),
    "features": _object,
    "metadata": _object,
    "url": _http_url,
    **dict.fromkeys(BOOLEANS, _boolean),
}


def _number_or_text(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _json_or_fail(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise _fail(name, "JSON-encoded") from None


def _whole_or_text(text: str) -> Any:
    match = WHOLE_NUMBER.fullmatch(text)
    return int(match.group(1)) if match else text


def _from_query_text(name: str, values: Sequence[str]) -> Any:
    """Turn the query's strings into the JSON value they stand for, by the parameter's type."""
    if name == "customVocabulary":
        single = len(values) == 1 and values[0].startswith("[")
        return _json_or_fail(name, values[0]) if single else list(values)
    if len(values) > 1:
        raise _fail(name, "a single value")
    return _from_text(name, values[0])


def _from_text(name: str, text: str) -> Any:
    """One textual value read by its parameter's type; text that does not fit is left for the check to refuse."""
    if name in BOOLEANS:
        return {"true": True, "false": False}.get(text, text)
    if name == "diarizationSpeakerCount":
        return _whole_or_text(text)
    if name == "confidenceThreshold":
        return _number_or_text(text)
    return _json_or_fail(name, text) if name in JSON_VALUED else text


def parse(query: Mapping[str, Sequence[str]], body: Mapping[str, Any] | None, *, url_variant: bool) -> AsyncParams:
    """Validate and merge the parameters of one submission. `body` is the JSON body of a URL variant."""
    merged: dict[str, Any] = {}
    for key, value in (body or {}).items():
        if key not in CHECKS or (key == "url" and not url_variant):
            raise BadRequest(f"Unknown parameter '{key}' in the request body.")
        merged[key] = _from_text(key, value) if key in TEXT_IN_BODY and isinstance(value, str) else value
    for key, values in query.items():
        if key not in CHECKS or key == "url" or (url_variant and key not in QUERY_ON_URL_VARIANTS):
            where = "the JSON body" if url_variant and key in CHECKS else "nowhere: it is not a parameter"
            raise BadRequest(f"Unknown query parameter '{key}'; it belongs in {where}.")
        merged[key] = _from_query_text(key, values)
    checked = {key: CHECKS[key](key, value) for key, value in merged.items()}
    return _assemble(checked, url_variant=url_variant)


def _assemble(checked: dict[str, Any], *, url_variant: bool) -> AsyncParams:
    if url_variant and "url" not in checked:
        raise BadRequest("Parameter 'url' is required: the URL of the media to process.")
    diarization = checked.get("enableSpeakerDiarization", False)
    count = checked.get("diarizationSpeakerCount")
    language = checked.get("languageCode", "en-US")
    if diarization and count is None:
        raise BadRequest("Parameter 'diarizationSpeakerCount' is required when enableSpeakerDiarization is true.")
    if diarization and language.split("-")[0] not in ("en", "es"):
        raise BadRequest("Speaker diarization is supported for English and Spanish languageCode only.")
    if "channelMetadata" in checked and not checked.get("enableSeparateRecognitionPerChannel", False):
        raise BadRequest("Parameter 'channelMetadata' needs enableSeparateRecognitionPerChannel=true.")
    return AsyncParams(
        name=checked.get("name"),
        webhook_url=checked.get("webhookUrl"),
        diarization=diarization,
        speaker_count=count,
        detect_phrases=checked.get("detectPhrases", False),
        language=language,
        mode=checked.get("mode", "default"),
        custom_vocabulary=checked.get("customVocabulary", ()),
        confidence_threshold=checked.get("confidenceThreshold", 0.5),
        url=checked.get("url"),
        raw=checked,
    )
