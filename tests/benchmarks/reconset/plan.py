"""The declarations of the reconciliation evaluation set (scenes.toml) as values, and the rules they must keep.

Pure: parsing and validation take plain data and return plain data; nothing is synthesized or written here.
Rules `check` enforces (those needing durations are checked by the build, after synthesis):
- every speaker is a `test` voice of the speech set's cast (the evaluation voices), the outsider is not on the
  roster, and everyone on the roster has a name whose email (first.last@example.com) is unique;
- a conversation has 2 to 4 speakers; its participants are the roster people who speak in it (never the outsider);
- a line introduces no one but its own speaker (`reconcile.intros.named` finds only the speaker's own name);
- no enrolment sentence is said in a conversation;
- in the full set: at least 8 batch-1 conversations, 4 of them with appends; at least 4 batch-2 conversations,
  2 with appends; a roster person speaks in no batch-1 conversation or in at least two; the outsider speaks in
  exactly one conversation; in `half`, two conversations lack exactly one participant's sample and one lacks two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconcile import intros
from tests.benchmarks.speechset.scene import Line, Voice

SETS = ("full", "small")


class PlanError(ValueError):
    """scenes.toml breaks a rule of this module; the message names the entry."""


@dataclass(frozen=True, slots=True)
class Person:
    key: str
    name: str
    email: str | None  # None for the outsider, who is on no roster


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    name: str
    batch: int
    seed: int
    format: str
    condition: str
    parts: tuple[tuple[Line, ...], ...]

    @property
    def speakers(self) -> list[str]:
        return sorted({line.speaker for part in self.parts for line in part})


@dataclass(frozen=True, slots=True)
class Plan:
    set: str
    roster: tuple[Person, ...]
    outsider: Person
    half: frozenset[str]  # keys enrolled in half.toml
    seconds: tuple[float, float]
    enrol_seconds: tuple[float, float]
    enrol_formats: tuple[str, ...]
    enrol_lines: tuple[str, ...]
    conversations: tuple[Conversation, ...]

    @property
    def people(self) -> dict[str, Person]:
        return {p.key: p for p in (*self.roster, self.outsider)}

    def participants(self, conv: Conversation) -> list[str]:
        """Roster emails of the people who speak in `conv`, in roster order."""
        speaking = set(conv.speakers)
        return [p.email for p in self.roster if p.key in speaking and p.email]

    def batch(self, number: int) -> list[Conversation]:
        return [c for c in self.conversations if c.batch == number]


def email_of(name: str) -> str:
    first, *_, last = name.lower().split()
    return f"{first}.{last}@example.com"


def _line(row: Sequence[Any]) -> Line:
    return Line(str(row[0]), str(row[1]), float(row[2]) if len(row) > 2 else None)


def parse(data: Mapping[str, Any], cast: Mapping[str, Voice], which: str) -> Plan:
    """The plan of set `which` ("full" or "small"), checked against the rules of the module docstring."""
    if which not in SETS:
        raise PlanError(f"unknown set {which!r}; one of {SETS}")
    head, enrol = data[which], data["enrolment"]
    for key in [*head["roster"], head["outsider"]]:
        if key not in cast or cast[key].split != "test":
            raise PlanError(f"scenes.toml [{which}]: {key!r} is not a test voice of the speech set's cast.toml")
    roster = tuple(Person(k, cast[k].name, email_of(cast[k].name)) for k in head["roster"])
    outsider = Person(head["outsider"], cast[head["outsider"]].name, None)
    conversations = tuple(
        Conversation(
            c["id"],
            c["name"],
            int(c["batch"]),
            int(c["seed"]),
            c["format"],
            c["condition"],
            tuple(tuple(_line(r) for r in part["lines"]) for part in c["part"]),
        )
        for c in data["conversation"]
        if c["set"] == which
    )
    low, high = head["seconds"]
    elow, ehigh = enrol["seconds"]
    plan = Plan(
        which,
        roster,
        outsider,
        frozenset(head["half"]),
        (float(low), float(high)),
        (float(elow), float(ehigh)),
        tuple(enrol["formats"]),
        tuple(enrol["lines"]),
        conversations,
    )
    check(plan)
    return plan


def check(plan: Plan) -> None:
    """Raise PlanError on the first rule (module docstring) that the plan breaks."""
    people = plan.people
    emails = [p.email for p in plan.roster]
    if plan.outsider.key in {p.key for p in plan.roster} or len(set(emails)) != len(emails):
        raise PlanError(f"[{plan.set}]: the outsider is on the roster, or two roster people share an email")
    if not plan.half <= {p.key for p in plan.roster}:
        raise PlanError(f"[{plan.set}] half: names someone who is not on the roster")
    said = set()
    for conv in plan.conversations:
        if not 2 <= len(conv.speakers) <= 4 or not set(conv.speakers) <= people.keys():
            raise PlanError(f"{conv.id}: needs 2-4 speakers from the roster and the outsider, has {conv.speakers}")
        for part in conv.parts:
            for line in part:
                said.add(line.text)
                _check_intro(conv.id, line, people[line.speaker])
    if reused := said & set(plan.enrol_lines):
        raise PlanError(f"enrolment sentences said in a conversation: {sorted(reused)}")
    _check_coverage(plan)


def _check_intro(conv_id: str, line: Line, speaker: Person) -> None:
    own = {speaker.name, speaker.name.split()[0]}
    if not set(intros.named(line.text)) <= own:
        raise PlanError(f"{conv_id}: {speaker.key} says {line.text!r}, which introduces someone else")


def _check_coverage(plan: Plan) -> None:
    outsider_in = [c.id for c in plan.conversations if plan.outsider.key in c.speakers]
    if len(outsider_in) != 1:
        raise PlanError(f"[{plan.set}]: the outsider must speak in exactly one conversation, not {outsider_in}")
    lacking = [sum(1 for e in plan.participants(c) if not _enrolled(plan, e)) for c in plan.batch(1)]
    if plan.set == "small":
        if 1 not in lacking or 2 not in lacking:
            raise PlanError("[small] half: needs a conversation lacking one sample and one lacking two")
        return
    first, second = plan.batch(1), plan.batch(2)
    if len(first) < 8 or sum(len(c.parts) > 1 for c in first) < 4:
        raise PlanError("[full]: batch 1 needs at least 8 conversations, 4 of them with appends")
    if len(second) < 4 or sum(len(c.parts) > 1 for c in second) < 2:
        raise PlanError("[full]: batch 2 needs at least 4 conversations, 2 of them with appends")
    for person in plan.roster:
        count = sum(person.key in c.speakers for c in first)
        if count == 1:
            raise PlanError(f"[full]: {person.key} speaks in only one batch-1 conversation")
    if lacking.count(1) < 2 or max(lacking) < 2:
        raise PlanError("[full] half: needs two conversations lacking one sample and one lacking two")


def _enrolled(plan: Plan, email: str) -> bool:
    return any(p.email == email and p.key in plan.half for p in plan.roster)
