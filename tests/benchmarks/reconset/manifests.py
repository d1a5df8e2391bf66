"""The four manifests of the set (everyone, half, nobody, second) as TOML text. Pure.

Format: the project's manifest (batch/schema.py): `[api]` with the scenario's own output folder and state file,
`[defaults]` with speaker diarization on, `[[people]]` = the whole roster (an `enrolment` only for those enrolled
in the scenario), `[[conversations]]` with `participants` = the roster people who speak in it (never the
outsider) and one `[[conversations.segments]]` per media file, in append order. `diarizationSpeakerCount` is the
true number of distinct voices (the outsider included): on the conversation when every part has the same count,
else on each segment. Paths are relative to the manifest, which sits at the top of the set's folder.
`second` holds batch 2 and shares `nobody`'s state file on purpose: it is run after `nobody.toml` (and its
review answers), so what the first batch taught the state is there for the second.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tests.benchmarks.reconset.plan import Conversation, Plan


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    batch: int
    enrolled: frozenset[str]  # roster keys with an enrolment sample in this manifest
    state: str
    about: str

    @property
    def manifest(self) -> str:
        return f"{self.name}.toml"

    @property
    def output(self) -> str:
        return f"out-{self.name}"


def scenarios(plan: Plan) -> list[Scenario]:
    everyone = frozenset(p.key for p in plan.roster)
    return [
        Scenario("everyone", 1, everyone, "state-everyone.db", "batch 1; every roster person has an enrolment sample"),
        Scenario("half", 1, plan.half, "state-half.db", "batch 1; about half the roster has an enrolment sample"),
        Scenario("nobody", 1, frozenset(), "state-nobody.db", "batch 1; no enrolment sample at all"),
        Scenario(
            "second",
            2,
            frozenset(),
            "state-nobody.db",
            "batch 2, no enrolment; run after nobody.toml and its review answers (same state file)",
        ),
    ]


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII text is a TOML basic string


def render(
    plan: Plan,
    scenario: Scenario,
    enrolment: Mapping[str, str],
    media: Mapping[str, Sequence[str]],
    counts: Mapping[str, Sequence[int]],
) -> str:
    """The manifest of `scenario`. `enrolment`: roster key -> sample path; `media`: conversation id -> its
    segment files in order; `counts`: conversation id -> distinct speakers of each segment."""
    out = [
        f"# Reconciliation evaluation set ({plan.set}), scenario {scenario.name!r}: {scenario.about}.",
        "# Written by tests/benchmarks/reconset/build.py; the truth is truth.json and <media>.json beside each file.",
        f"#   symbl-batch run {scenario.manifest} --emulator",
        "",
        "[api]",
        f"output = {_q(scenario.output)}",
        f"state = {_q(scenario.state)}",
        "",
        "[defaults]",
        "enableSpeakerDiarization = true",
        'languageCode = "en-US"',
    ]
    for person in plan.roster:
        out += ["", "[[people]]", f"name = {_q(person.name)}", f"email = {_q(person.email or '')}"]
        if person.key in scenario.enrolled:
            out.append(f"enrolment = {_q(enrolment[person.key])}")
    for conv in plan.batch(scenario.batch):
        out += _conversation(plan, conv, media[conv.id], counts[conv.id])
    return "\n".join(out) + "\n"


def _conversation(plan: Plan, conv: Conversation, files: Sequence[str], counts: Sequence[int]) -> list[str]:
    same = len(set(counts)) == 1
    participants = ", ".join(_q(e) for e in plan.participants(conv))
    out = [
        "",
        "[[conversations]]",
        f"id = {_q(conv.id)}",
        f"name = {_q(conv.name)}",
        f"participants = [{participants}]",
    ]
    if same:
        out.append(f"diarizationSpeakerCount = {counts[0]}")
    for file, count in zip(files, counts, strict=True):
        out += ["", "  [[conversations.segments]]", f"  file = {_q(file)}"]
        if not same:
            out.append(f"  diarizationSpeakerCount = {count}")
    return out
