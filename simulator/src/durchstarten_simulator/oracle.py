"""The oracle: the report figures a history must produce, computed from its commands alone.

Deliberately simple and independent of the services: it re-states the programme's rules
(who is eligible, who is the same person, what a DTZ result is, what counts as a placement)
in a few lines each and counts. Nothing of the reporting service's code is used.

Definitions (the reporting API's, as documented there):
- outcomes for a provider at a quarter's end: *reached* are the people with a module
  participation (a case opened, or a course place) started at that provider by then; *placed*
  those of them with a placement into Ausbildung, work, a qualification measure, a language
  course or school recorded by that provider and started by then; *exited* those of them whose
  programme exit lies on or before the quarter's end. Without a provider: everyone who
  entered by then, and a placement by anyone.
- quarterly monitoring, per municipality: *entries* are the people whose programme entry lies
  in the quarter, *exits* those whose exit does, *caseload* those entered by its last day and
  not exited by then; for a provider, only people with a module participation there.
- courses of a year: DTZ results of exams taken that year (at that provider's courses), and
  the pass rate B1 / exams sat (did-not-sit excluded).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from durchstarten_simulator.generate import History
from durchstarten_simulator.scenario import Check, Scenario, municipality_key

POSITIVE = frozenset(
    {
        "ausbildung-company",
        "ausbildung-school",
        "employment",
        "qualification-measure",
        "language-course",
        "school",
    }
)
TARGET_STATUSES = frozenset(
    {"duldung", "ausbildungsduldung", "beschaeftigungsduldung", "gestattung"}
)
EXAM_LEVELS = ("B1", "A2", "below-A2", "did-not-sit")
QUARTER_END = {1: (3, 31), 2: (6, 30), 3: (9, 30), 4: (12, 31)}


@dataclass
class _Person:
    entry: date
    municipality: str
    exit: date | None = None
    participations: list[tuple[str, date]] = field(default_factory=list)  # provider, start
    placements: list[tuple[str, str, date]] = field(default_factory=list)  # provider, cat, start


@dataclass
class _World:
    persons: list[_Person] = field(default_factory=list)
    by_reference: dict[str, _Person] = field(default_factory=dict)
    by_identity: dict[tuple[tuple[str, ...], str], _Person] = field(default_factory=dict)
    cases: dict[str, tuple[str, _Person]] = field(default_factory=dict)
    courses: dict[str, dict[str, Any]] = field(default_factory=dict)
    places: dict[str, int] = field(default_factory=dict)
    exams: list[tuple[str, date, str]] = field(default_factory=list)  # provider, day, overall


def identity(data: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    """Who a registration names: name tokens without case, accents or order, and birth date."""
    text = f"{data['given_name']} {data['family_name']}".replace("-", " ")
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
    return tuple(sorted(plain.split())), str(data["birth_date"])


def eligible(data: dict[str, Any], scenario: Scenario) -> bool:
    """The programme's rules, without exceptions (no coordinator approves one here)."""
    entry = date.fromisoformat(data["entry_date"])
    born = date.fromisoformat(data["birth_date"])
    age = entry.year - born.year - ((entry.month, entry.day) < (born.month, born.day))
    status = data["residence_status"]
    status = status["status"] if isinstance(status, dict) else status
    return (
        scenario.programme_start <= entry <= scenario.programme_end
        and scenario.population.age_min <= age <= scenario.population.age_max
        and status in TARGET_STATUSES
        and municipality_key(data["municipality"]) in scenario.municipality_keys
        and not data.get("lives_in_state_reception_facility", False)
    )


def dtz_overall(result: dict[str, Any]) -> str:
    """The DTZ rule: a level needs it in speaking and in listening/reading or writing."""
    if result.get("did_not_sit"):
        return "did-not-sit"
    rank = {"below-A2": 0, "A2": 1, "B1": 2}
    speaking = rank[result["speaking"]]
    other = max(rank[result["listening_reading"]], rank[result["writing"]])
    return {0: "below-A2", 1: "A2", 2: "B1"}[min(speaking, other)]


def _world(history: History) -> _World:
    world = _World()
    scenario = history.scenario
    for command in history.commands:
        data = command.data
        person = world.by_reference.get(command.person or "")
        if command.type.startswith("register-participant"):
            reference = f"{command.provider}/{data['provider_reference']}"
            known = world.by_identity.get(identity(data))
            if known is not None:
                world.by_reference[reference] = known
            elif eligible(data, scenario):
                new = _Person(
                    entry=date.fromisoformat(data["entry_date"]),
                    municipality=municipality_key(data["municipality"]),
                )
                world.persons.append(new)
                world.by_identity[identity(data)] = new
                world.by_reference[reference] = new
        elif command.type == "open-case.v1" and person is not None:
            world.cases[data["case_id"]] = (command.provider, person)
            person.participations.append((command.provider, date.fromisoformat(data["opened_on"])))
        elif command.type == "record-placement.v1" and data["case_id"] in world.cases:
            provider, placed = world.cases[data["case_id"]]
            placed.placements.append(
                (provider, data["category"], date.fromisoformat(data["start_date"]))
            )
        elif command.type == "schedule-course.v1":
            world.courses[data["course_id"]] = {"provider": command.provider, **data}
        elif command.type == "enrol.v1" and person is not None:
            course = world.courses[data["course_id"]]
            world.places[data["course_id"]] = world.places.get(data["course_id"], 0) + 1
            if course.get("capacity") is None or world.places[data["course_id"]] <= int(
                course["capacity"]
            ):
                person.participations.append(
                    (course["provider"], date.fromisoformat(data["requested_on"]))
                )
        elif command.type == "record-exam-result.v1" and person is not None:
            world.exams.append(
                (
                    world.courses[data["course_id"]]["provider"],
                    date.fromisoformat(data["exam_date"]),
                    dtz_overall(data),
                )
            )
        elif command.type == "record-programme-exit.v1" and person is not None:
            person.exit = date.fromisoformat(data["exit_date"])
    return world


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def outcomes(world: _World, provider: str | None, year: int, quarter: int) -> dict[str, Any]:
    """Reached, placed, exited and placed-exited at the quarter's end, and the two rates."""
    end = date(year, *QUARTER_END[quarter])
    if provider is None:
        group = [p for p in world.persons if p.entry <= end]
    else:
        group = [
            p
            for p in world.persons
            if any(who == provider and d <= end for who, d in p.participations)
        ]
    placed = [
        p
        for p in group
        if any(
            (provider is None or who == provider) and category in POSITIVE and start <= end
            for who, category, start in p.placements
        )
    ]
    exited = [p for p in group if p.exit is not None and p.exit <= end]
    placed_exited = [p for p in exited if p in placed]
    return {
        "reached": len(group),
        "placed": len(placed),
        "exited": len(exited),
        "placed_exited": len(placed_exited),
        "placement_rate_reached": _rate(len(placed), len(group)),
        "placement_rate_exited": _rate(len(placed_exited), len(exited)),
    }


def quarterly(
    world: _World, scenario: Scenario, provider: str | None, year: int, quarter: int
) -> dict[str, Any]:
    """Entries, exits and caseload per municipality in the quarter."""
    end = date(year, *QUARTER_END[quarter])
    start = date(year, 3 * quarter - 2, 1)
    group = [
        p
        for p in world.persons
        if provider is None or any(who == provider for who, _ in p.participations)
    ]
    table = {}
    for municipality in sorted(scenario.municipality_keys):
        here = [p for p in group if p.municipality == municipality]
        table[municipality] = {
            "entries": sum(start <= p.entry <= end for p in here),
            "exits": sum(p.exit is not None and start <= p.exit <= end for p in here),
            "caseload": sum(p.entry <= end and (p.exit is None or p.exit > end) for p in here),
        }
    return {"by_municipality": table}


def courses(world: _World, provider: str | None, year: int) -> dict[str, Any]:
    """DTZ results of the year by level, and the pass rate."""
    results = dict.fromkeys(EXAM_LEVELS, 0)
    for who, day, overall in world.exams:
        if day.year == year and (provider is None or who == provider):
            results[overall] += 1
    sat = results["B1"] + results["A2"] + results["below-A2"]
    return {"exam_results": results, "pass_rate": _rate(results["B1"], sat)}


def figures_for(world: _World, scenario: Scenario, check: Check) -> dict[str, Any]:
    """The figures of one check."""
    provider = scenario.provider_id(check.provider) if check.provider else None
    if check.report == "outcomes":
        assert check.quarter is not None  # noqa: S101  # the scenario parser requires it
        return outcomes(world, provider, check.year, check.quarter)
    if check.report == "quarterly":
        assert check.quarter is not None  # noqa: S101  # the scenario parser requires it
        return quarterly(world, scenario, provider, check.year, check.quarter)
    return courses(world, provider, check.year)


def expected(history: History) -> dict[str, Any]:
    """Every check of the scenario with the figures the reports must show."""
    world = _world(history)
    scenario = history.scenario
    return {
        "scenario": scenario.name,
        "seed": history.seed,
        "digest": history.digest,
        "participants": len(world.persons),
        "checks": [
            {
                "report": check.report,
                "provider": scenario.provider_id(check.provider) if check.provider else None,
                "year": check.year,
                "quarter": check.quarter,
                "figures": figures_for(world, scenario, check),
            }
            for check in scenario.checks
        ],
    }
