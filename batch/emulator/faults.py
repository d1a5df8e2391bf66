"""Fault injection (§13 #20): scripted per route (FIFO) and random with a seeded rate per kind. Off by default.

Specification (JSON; `--faults` takes the text or `@file`, `POST /_emulator/config` takes the object):

    {"seed": 7,
     "rates": {"429": 0.05, "503": 0.02, "reset_after": 0.01, "job_failed": 0.02},
     "script": {"POST /v1/process/audio": ["429", "429", "pass"], "GET /v1/job/*": ["reset_before"]},
     "slow_seconds": 2.0,
     "retry_after": 3}

Kinds: 429 (submit routes only), 500, 502, 503, 504, reset_before (connection dropped before the server acts),
reset_after (the server acts, then drops the connection: the lost-answer case), slow (the server acts, then
waits `slow_seconds` before answering), act_late (submit routes only: the server reads the request, drops the
connection at once, and acts on it `slow_seconds` later: a create that appears after the client gave up on
its answer), malformed (GET routes only: the answer breaks the contract: its first list item loses its `id`
and gets `timeOffset: "soon"`, or, with no list, the JSON is cut short), token_expiry (every token issued so
far expires now, so the request gets 401), job_failed (submit routes only: the job is accepted and later ends
`failed`), ignore_member_update (PUT members only: the server checks the body as usual and answers 200 with the
contract's success message, but changes nothing: an acknowledged update that never shows), and, in scripts,
pass (no fault). Script keys are "METHOD path-glob"; the first key that matches and still has actions gives the
next one, so a script counts: `{"PUT /v1/conversations/*/members/*": ["ignore_member_update", "pass"]}` ignores
the first member update only, and a rate of 1 ignores every one. `retry_after` adds a Retry-After header to
injected 429s.
"""

from __future__ import annotations

import fnmatch
import json
import random
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = (
    "429", "500", "502", "503", "504", "reset_before", "reset_after", "slow", "act_late", "malformed", "token_expiry",
    "job_failed", "ignore_member_update",
)  # fmt: skip
SUBMIT_ONLY = frozenset({"429", "job_failed", "act_late"})
GET_ONLY = frozenset({"malformed"})
MEMBER_PUT = "PUT /v1/conversations/*/members/*"
MEMBER_PUT_ONLY = frozenset({"ignore_member_update"})
SPEC_KEYS = frozenset({"seed", "rates", "script", "slow_seconds", "retry_after"})


class FaultSpecError(ValueError):
    """The fault specification is malformed; the message names the field."""


@dataclass(slots=True)
class FaultPlan:
    rates: dict[str, float] = field(default_factory=dict)
    script: dict[str, deque[str]] = field(default_factory=dict)
    slow_seconds: float = 2.0
    retry_after: int | None = None
    seed: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.rng.seed(self.seed)

    @classmethod
    def parse(cls, spec: Any) -> FaultPlan:
        """Build a plan from the JSON object; raise FaultSpecError naming the bad field."""
        if not isinstance(spec, dict):
            raise FaultSpecError("faults: expected a JSON object")
        unknown = set(spec) - SPEC_KEYS
        if unknown:
            raise FaultSpecError(f"faults: unknown key '{sorted(unknown)[0]}'; valid: {', '.join(sorted(SPEC_KEYS))}")
        rates = spec.get("rates", {})
        if not isinstance(rates, dict):
            raise FaultSpecError("faults.rates: expected an object of kind -> rate")
        for kind, rate in rates.items():
            if kind not in KINDS:
                raise FaultSpecError(f"faults.rates: unknown kind '{kind}'; valid: {', '.join(KINDS)}")
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise FaultSpecError(f"faults.rates.{kind}: expected a number between 0 and 1")
        return cls(
            rates={k: float(v) for k, v in rates.items()},
            script={route: deque(_actions(route, acts)) for route, acts in _script(spec.get("script", {})).items()},
            slow_seconds=_number(spec, "slow_seconds", 2.0),
            retry_after=int(_number(spec, "retry_after", 0)) or None,
            seed=int(_number(spec, "seed", 0)),
        )

    @classmethod
    def from_text(cls, text: str) -> FaultPlan:
        """The CLI form: JSON text, or @path to a JSON file."""
        if text.startswith("@"):
            try:
                text = Path(text[1:]).read_text()
            except OSError as exc:
                raise FaultSpecError(f"--faults: cannot read {text[1:]}: {exc.strerror}") from None
        try:
            return cls.parse(json.loads(text))
        except json.JSONDecodeError as exc:
            raise FaultSpecError(f"--faults: not valid JSON ({exc.msg} at column {exc.colno})") from None

    def describe(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "rates": self.rates,
            "script": {k: list(v) for k, v in self.script.items()},
            "slow_seconds": self.slow_seconds,
            "retry_after": self.retry_after,
        }

    def draw(self, method: str, path: str, *, submit: bool) -> str | None:
        """The fault for this request, or None: the script first, then the seeded random rates."""
        key = f"{method} {path}"
        for pattern, actions in self.script.items():
            if actions and fnmatch.fnmatchcase(key, pattern):
                action = actions.popleft()
                return None if action == "pass" else action
        member_put = fnmatch.fnmatchcase(key, MEMBER_PUT)
        for kind in KINDS:
            rate = self.rates.get(kind, 0.0)
            allowed = (submit or kind not in SUBMIT_ONLY) and (method == "GET" or kind not in GET_ONLY)
            if rate and allowed and (member_put or kind not in MEMBER_PUT_ONLY) and self.rng.random() < rate:
                return kind
        return None


def _script(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise FaultSpecError('faults.script: expected an object of "METHOD /path-glob" -> list of kinds')
    return raw


def _actions(route: str, actions: Any) -> list[str]:
    if len(route.split(" ", 1)) != 2 or not isinstance(actions, list):
        raise FaultSpecError(f"faults.script['{route}']: expected key \"METHOD /path\" and a list of kinds")
    for action in actions:
        if action not in (*KINDS, "pass"):
            raise FaultSpecError(f"faults.script['{route}']: unknown kind '{action}'; valid: pass, {', '.join(KINDS)}")
    return list(actions)


def _number(spec: dict[str, Any], key: str, default: float) -> float:
    value = spec.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultSpecError(f"faults.{key}: expected a non-negative number")
    return float(value)
