"""The scenario file format (TOML, docs/scenario.md): what a county's history consists of.

A scenario names the providers, the population the participants are drawn from, the
coaching programmes (F1, F6), the courses (F2, F3, F4), the ineligible applicants and
duplicates, and the report figures to check. It says nothing about how the services work:
the generator turns it into commands, and the oracle computes the figures from those.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from durchstarten.counties import load_counties

Weights = dict[str, float]
T = TypeVar("T")


HERFORD_NAMES = {
    "buende": "05758004",
    "enger": "05758008",
    "herford": "05758012",
    "hiddenhausen": "05758016",
    "kirchlengern": "05758020",
    "loehne": "05758024",
    "roedinghausen": "05758028",
    "spenge": "05758032",
    "vlotho": "05758036",
}
"""Kreis Herford's municipalities by the names of the older registrations, and their keys
(restated from the Gemeindeverzeichnis, not taken from the services)."""


def municipality_key(value: str) -> str:
    """The official key a registration names, by key or (older version) by Herford name."""
    return HERFORD_NAMES.get(value, value)


class ScenarioError(ValueError):
    """The scenario file is not valid; the message names the offending key."""


@dataclass(frozen=True)
class Provider:
    """A provider (Träger): `key` is how the scenario refers to it, `id` what the system knows."""

    key: str
    id: str
    name: str


@dataclass(frozen=True)
class Population:
    """Weights the participants' coarse attributes are drawn from."""

    municipalities: Weights
    sex: Weights
    origins: Weights
    statuses: Weights
    german_levels: Weights
    school_education: Weights
    age_min: int = 18
    age_max: int = 27


@dataclass(frozen=True)
class Coaching:
    """A coaching (F1) or participation-management (F6) programme at one provider.

    Either `persons` new people are registered by the provider, or (`from_programme`) a
    share of another programme's people is taken on as well.
    """

    name: str
    provider: str
    module: str
    sites: Weights
    start: date
    end: date
    persons: int = 0
    from_programme: str | None = None
    share_of_source: float = 0.0
    placement_share: float = 0.0
    placement_share_spread: float = 0.0
    placements: Weights = field(default_factory=dict)
    employment_marginal_share: float = 0.0
    other_outcome_share: float = 0.0
    other_outcomes: Weights = field(default_factory=dict)
    sessions_min: int = 2
    sessions_max: int = 8
    months_min: int = 2
    months_max: int = 14
    languages: list[str] = field(default_factory=lambda: ["de"])


@dataclass(frozen=True)
class Part:
    """A course part with its planned teaching units."""

    name: str
    planned_ue: int


@dataclass(frozen=True)
class Course:
    """A course at one provider, with who takes part and how the exam goes."""

    name: str
    provider: str
    module: str
    course_type: str
    site: str
    start: date
    end: date
    parts: list[Part]
    target_level: str | None = None
    capacity: int | None = None
    new_participants: int = 0
    referred_from: str | None = None
    referred: int = 0
    referred_needs_work: bool = False
    duplicates: int = 0
    attendance_ue_per_day: int = 0
    exam_date: date | None = None
    pass_share: float = 0.0


@dataclass(frozen=True)
class Applicants:
    """Registrations that do not (or not yet) become participants."""

    provider: str
    ineligible: int = 0


@dataclass(frozen=True)
class Check:
    """A report figure set the oracle computes and the checker compares."""

    report: str  # "outcomes", "quarterly" or "courses"
    year: int
    quarter: int | None = None
    provider: str | None = None  # a provider key; None for the whole county


@dataclass(frozen=True)
class Scenario:
    """A whole scenario, as read from its file."""

    name: str
    title: str
    seed: int
    county: str
    """The county (its key) the scenario's people live in; its file names the municipalities."""
    programme_start: date
    programme_end: date
    providers: list[Provider]
    population: Population
    coaching: list[Coaching]
    courses: list[Course]
    applicants: list[Applicants]
    checks: list[Check]

    @property
    def municipality_keys(self) -> frozenset[str]:
        """The official keys of the county's municipalities (from the county files)."""
        return frozenset(load_counties().municipalities(self.county))

    def provider_id(self, key: str) -> str:
        """The system's id of the provider the scenario calls `key`."""
        for provider in self.providers:
            if provider.key == key:
                return provider.id
        msg = f"unknown provider key {key!r}"
        raise ScenarioError(msg)

    def with_provider_ids(self, ids: dict[str, str]) -> Scenario:
        """The same scenario with some providers renamed (key or old id -> new id).

        Lets one stack hold two histories side by side, each under its own provider ids.
        """
        renamed = [replace(p, id=ids.get(p.key, ids.get(p.id, p.id))) for p in self.providers]
        return replace(self, providers=renamed)


def load(path: Path | str) -> Scenario:
    """Read and check a scenario file."""
    with Path(path).open("rb") as handle:
        raw = tomllib.load(handle)
    return parse(raw)


def parse(raw: dict[str, Any]) -> Scenario:
    """Build a scenario from parsed TOML; raises ScenarioError naming the offending key."""
    head = _table(raw, "scenario")
    providers = [
        Provider(key=_str(p, "key"), id=_str(p, "id"), name=str(p.get("name", p["key"])))
        for p in _list(raw, "providers")
    ]
    population = _table(raw, "population")
    ages = population.get("ages", [18, 27])
    scenario = Scenario(
        name=_str(head, "name"),
        title=str(head.get("title", head["name"])),
        seed=int(head.get("seed", 0)),
        county=_str(head, "county"),
        programme_start=_date(head, "programme_start"),
        programme_end=_date(head, "programme_end"),
        providers=providers,
        population=Population(
            municipalities=_weights(population, "municipalities"),
            sex=_weights(population, "sex"),
            origins=_weights(population, "origins"),
            statuses=_weights(population, "statuses"),
            german_levels=_weights(population, "german_levels"),
            school_education=_weights(population, "school_education"),
            age_min=int(ages[0]),
            age_max=int(ages[1]),
        ),
        coaching=[_coaching(c) for c in raw.get("coaching", [])],
        courses=[_course(c) for c in raw.get("course", [])],
        applicants=[
            Applicants(provider=_str(a, "provider"), ineligible=int(a.get("ineligible", 0)))
            for a in raw.get("applicants", [])
        ],
        checks=[
            Check(
                report=_str(c, "report"),
                year=int(c["year"]),
                quarter=int(c["quarter"]) if "quarter" in c else None,
                provider=c.get("provider"),
            )
            for c in raw.get("check", [])
        ],
    )
    _validate(scenario)
    return scenario


def _coaching(raw: dict[str, Any]) -> Coaching:
    placements = raw.get("placements", {})
    outcomes = raw.get("other_outcomes", {})
    sessions = raw.get("sessions", [2, 8])
    months = raw.get("months", [2, 14])
    return Coaching(
        name=_str(raw, "name"),
        provider=_str(raw, "provider"),
        module=_str(raw, "module"),
        sites=_weights(raw, "sites"),
        start=_date(raw, "start"),
        end=_date(raw, "end"),
        persons=int(raw.get("persons", 0)),
        from_programme=raw.get("from"),
        share_of_source=float(raw.get("share_of_source", 0.0)),
        placement_share=float(placements.get("share", 0.0)),
        placement_share_spread=float(placements.get("spread", 0.0)),
        placements={k: float(v) for k, v in placements.get("categories", {}).items()},
        employment_marginal_share=float(placements.get("marginal_share", 0.0)),
        other_outcome_share=float(outcomes.get("share", 0.0)),
        other_outcomes={k: float(v) for k, v in outcomes.get("categories", {}).items()},
        sessions_min=int(sessions[0]),
        sessions_max=int(sessions[1]),
        months_min=int(months[0]),
        months_max=int(months[1]),
        languages=[str(x) for x in raw.get("languages", ["de"])],
    )


def _course(raw: dict[str, Any]) -> Course:
    people = raw.get("participants", {})
    exam = raw.get("exam", {})
    return Course(
        name=_str(raw, "name"),
        provider=_str(raw, "provider"),
        module=_str(raw, "module"),
        course_type=_str(raw, "course_type"),
        site=_str(raw, "site"),
        start=_date(raw, "start"),
        end=_date(raw, "end"),
        parts=[Part(name=_str(p, "name"), planned_ue=int(p["planned_ue"])) for p in raw["parts"]],
        target_level=raw.get("target_level"),
        capacity=int(raw["capacity"]) if "capacity" in raw else None,
        new_participants=int(people.get("new", 0)),
        referred_from=people.get("referred_from"),
        referred=int(people.get("referred", 0)),
        referred_needs_work=bool(people.get("referred_in_work_only", False)),
        duplicates=int(people.get("duplicates", 0)),
        attendance_ue_per_day=int(raw.get("attendance_ue_per_day", 0)),
        exam_date=exam.get("date"),
        pass_share=float(exam.get("pass_share", 0.0)),
    )


def _validate(scenario: Scenario) -> None:  # noqa: PLR0912  # one rule per branch
    counties = load_counties()
    if scenario.county not in counties.by_key:
        _fail(f"scenario.county: {scenario.county} is not a configured county")
    for place in scenario.population.municipalities:
        key = HERFORD_NAMES.get(place, place)
        if counties.county_of(key) is None or not key.startswith(scenario.county):
            _fail(f"population.municipalities: {place} is not a municipality of the county")
    keys = {p.key for p in scenario.providers}
    programmes = {c.name for c in scenario.coaching}
    for coaching in scenario.coaching:
        _known(coaching.provider, keys, f"coaching {coaching.name}: provider")
        if coaching.module not in {"F1", "F6"}:
            _fail(f"coaching {coaching.name}: module must be F1 or F6")
        if coaching.from_programme is not None:
            _known(coaching.from_programme, programmes, f"coaching {coaching.name}: from")
        if coaching.end < coaching.start:
            _fail(f"coaching {coaching.name}: end lies before start")
    for course in scenario.courses:
        _known(course.provider, keys, f"course {course.name}: provider")
        if course.referred_from is not None:
            _known(course.referred_from, programmes, f"course {course.name}: referred_from")
        planned = course.new_participants + course.referred + course.duplicates
        if course.capacity is not None and planned > course.capacity:
            # The oracle need not model a waitlist whose order depends on partitions.
            _fail(f"course {course.name}: more participants than places")
        if course.exam_date is not None and not course.start <= course.exam_date <= course.end:
            _fail(f"course {course.name}: exam date outside the course")
    for applicants in scenario.applicants:
        _known(applicants.provider, keys, "applicants: provider")
    for check in scenario.checks:
        if check.report not in {"outcomes", "quarterly", "courses"}:
            _fail(f"check: unknown report {check.report!r}")
        if check.report != "courses" and check.quarter not in {1, 2, 3, 4}:
            _fail(f"check: a {check.report} check names its quarter (1-4)")
        if check.provider is not None:
            _known(check.provider, keys, "check: provider")


def _known(value: str, known: set[str], what: str) -> None:
    if value not in known:
        _fail(f"{what} {value!r} is not defined")


def _fail(message: str) -> NoReturn:
    raise ScenarioError(message)


def _typed(raw: dict[str, Any], key: str, kind: type[T], problem: str) -> T:
    """`raw[key]` if it is a non-empty `kind`; else a ScenarioError naming the key."""
    value = raw.get(key)
    if not isinstance(value, kind) or value in ("", [], {}):
        _fail(f"{key} {problem}")
    return value


def _table(raw: dict[str, Any], key: str) -> dict[str, Any]:
    return _typed(raw, key, dict, "is missing (a table)")


def _list(raw: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return _typed(raw, key, list, "is missing (an array of tables)")


def _str(raw: dict[str, Any], key: str) -> str:
    return _typed(raw, key, str, "must be a non-empty string")


def _date(raw: dict[str, Any], key: str) -> date:
    return _typed(raw, key, date, "must be a TOML date (YYYY-MM-DD, unquoted)")


def _weights(raw: dict[str, Any], key: str) -> Weights:
    table = _typed(raw, key, dict, "must be a table of weights")
    weights = {str(k): float(v) for k, v in table.items()}
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        _fail(f"{key}: weights must be non-negative with a positive sum")
    return weights
