"""Statewide histories: several counties' scenarios replayed together, people moving between.

A statewide file (TOML, docs/scenario.md) names county scenarios and moves: people of one
county's history who register again, with a provider of another county, on the day they
moved. The system must then count each of them once in the state's table (one entry, one
exit), as an exit of the county they left (`moved-away`) and an entry of the county they
came to. The oracle here states that rule in a few lines, independent of the services: a
person's stays by county, each ending with the next one or the programme exit.
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NoReturn

from durchstarten.counties import load_counties
from durchstarten_simulator import people
from durchstarten_simulator.generate import (
    History,
    Planned,
    Stage,
    age_on,
    generate,
    registration_type,
)
from durchstarten_simulator.oracle import QUARTER_END, eligible, identity
from durchstarten_simulator.scenario import Scenario, ScenarioError, municipality_key
from durchstarten_simulator.scenario import load as load_scenario

STATE = "state"
MEASURES = ("entries", "exits", "caseload")


@dataclass(frozen=True)
class Moves:
    """People of one county's history who move to another county within some dates."""

    source: str
    """The scenario (its name) they lived in."""
    target: str
    """The scenario (its name) they move to."""
    provider: str
    """The target scenario's provider (its key) that registers them there."""
    people: int
    first: date
    last: date


@dataclass(frozen=True)
class StateCheck:
    """A quarter whose state table and county tables the checker compares."""

    year: int
    quarter: int


@dataclass(frozen=True)
class Statewide:
    """Counties' scenarios, the moves between them, and the quarters to check."""

    name: str
    title: str
    seed: int
    scenarios: tuple[Scenario, ...]
    moves: tuple[Moves, ...]
    checks: tuple[StateCheck, ...]

    def scenario(self, name: str) -> Scenario:
        """The member scenario called `name`."""
        for scenario in self.scenarios:
            if scenario.name == name:
                return scenario
        msg = f"no scenario {name!r} in {self.name}"
        raise ScenarioError(msg)

    def only(self, *names: str) -> Statewide:
        """The same statewide history with fewer counties (their moves only)."""
        kept = tuple(s for s in self.scenarios if s.name in names)
        moves = tuple(m for m in self.moves if m.source in names and m.target in names)
        return replace(self, scenarios=kept, moves=moves)

    @property
    def counties(self) -> list[str]:
        """The counties (keys) of the member scenarios."""
        return sorted(s.county for s in self.scenarios)


def load(path: Path | str) -> Statewide:
    """Read and check a statewide file; member scenarios are named relative to it."""
    path = Path(path)
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    head = raw.get("statewide")
    if not isinstance(head, dict) or "name" not in head:
        msg = "statewide: missing table (with name)"
        raise ScenarioError(msg)
    scenarios = tuple(load_scenario(path.parent / str(f)) for f in head.get("scenarios", []))
    moves = tuple(
        Moves(
            source=str(m["from"]),
            target=str(m["to"]),
            provider=str(m["provider"]),
            people=int(m["people"]),
            first=m["between"][0],
            last=m["between"][1],
        )
        for m in raw.get("moves", [])
    )
    checks = tuple(StateCheck(int(c["year"]), int(c["quarter"])) for c in raw.get("check", []))
    statewide = Statewide(
        name=str(head["name"]),
        title=str(head.get("title", head["name"])),
        seed=int(head.get("seed", 0)),
        scenarios=scenarios,
        moves=moves,
        checks=checks,
    )
    _validate(statewide)
    return statewide


def _validate(statewide: Statewide) -> None:
    counties = [s.county for s in statewide.scenarios]
    if not counties:
        _fail("statewide.scenarios: name at least one scenario file")
    if len(set(counties)) != len(counties):
        _fail("statewide.scenarios: one scenario per county")
    configured = load_counties()
    for move in statewide.moves:
        source, target = statewide.scenario(move.source), statewide.scenario(move.target)
        if source.county == target.county:
            _fail(f"moves {move.source}->{move.target}: a move is between two counties")
        provider = target.provider_id(move.provider)
        if target.county not in configured.counties_of(provider):
            _fail(f"moves: provider {provider!r} does not work in county {target.county}")
        if move.last < move.first or move.people < 1:
            _fail(f"moves {move.source}->{move.target}: between = [first, last], people >= 1")
    for check in statewide.checks:
        if check.quarter not in {1, 2, 3, 4}:
            _fail("check: quarter must be 1-4")


def _fail(message: str) -> NoReturn:
    raise ScenarioError(message)


@dataclass
class StateHistory:
    """Every county's history and the moves, as one sequence of commands in stages."""

    statewide: Statewide
    seed: int
    histories: list[History]
    moves: list[Planned]
    commands: list[Planned] = field(default_factory=list)

    def as_history(self) -> History:
        """One history the runner replays (its scenario: the first county's)."""
        return History(self.statewide.scenarios[0], self.seed, self.commands)

    @property
    def digest(self) -> str:
        """SHA-256 over the commands: equal for equal histories."""
        return self.as_history().digest


def generate_statewide(statewide: Statewide, seed: int | None = None) -> StateHistory:
    """The statewide history for `seed` (the file's own when None); deterministic."""
    used = statewide.seed if seed is None else seed
    histories = [
        generate(s, None if seed is None else seed + number)
        for number, s in enumerate(statewide.scenarios)
    ]
    rng = random.Random(used)  # noqa: S311  # invented data, not security
    by_name = {h.scenario.name: h for h in histories}
    moves: list[Planned] = []
    taken: set[str] = set()
    for number, move in enumerate(statewide.moves):
        target = statewide.scenario(move.target)
        moves += _moves(move, number, histories=by_name, target=target, rng=rng, taken=taken)
    # Stable by stage: each history keeps its own order; a move goes with the duplicates
    # (a registration of someone registered already), before the coaching that comes after
    # it in the history and before the exit.
    # A mover's programme exit comes after the move (`_moves`), not on the day the old
    # provider closed the case.
    kept = [
        c
        for h in histories
        for c in h.commands
        if not (c.type == "record-programme-exit.v1" and c.person in taken)
    ]
    combined = kept + moves
    combined.sort(key=lambda c: int(c.stage))
    return StateHistory(statewide, used, histories, moves, combined)


@dataclass(frozen=True)
class _Candidate:
    person: str
    registration: Planned
    earliest: date
    latest: date


def _moves(
    move: Moves,
    number: int,
    *,
    histories: dict[str, History],
    target: Scenario,
    rng: random.Random,
    taken: set[str],
) -> list[Planned]:
    """The registrations of `move`'s people in the target county."""
    source = histories[move.source]
    candidates = [
        c
        for c in _candidates(source, move, target)
        if c.person not in taken and c.earliest <= c.latest
    ]
    if len(candidates) < move.people:
        msg = f"moves {move.source}->{move.target}: {len(candidates)} people can move"
        raise ScenarioError(msg)
    provider = target.provider_id(move.provider)
    planned = []
    for index, chosen in enumerate(rng.sample(candidates, move.people)):
        taken.add(chosen.person)
        day = chosen.earliest + timedelta(
            days=rng.randint(0, (chosen.latest - chosen.earliest).days)
        )
        data = dict(chosen.registration.data)
        data.update(
            provider_reference=f"MOV{number}-{day.year}-{index + 1:04d}",
            municipality=people.pick(rng, target.population.municipalities),
            entry_date=day.isoformat(),
            consent={**data["consent"], "given_on": day.isoformat()},
        )
        data["municipality"] = municipality_key(str(data["municipality"]))
        planned.append(
            Planned(Stage.DUPLICATES, day, provider, "intake", registration_type(data), data)
        )
        # The programme exit comes some months after the move (within the programme), in
        # place of the old one; the registering provider records it, as only it may.
        leaves = min(day + timedelta(days=rng.randint(30, 300)), target.programme_end)
        planned.append(
            Planned(
                Stage.EXIT,
                leaves,
                chosen.registration.provider,
                "intake",
                "record-programme-exit.v1",
                {"exit_date": leaves.isoformat(), "reason": "regular-end"},
                chosen.person,
            )
        )
    return planned


def _candidates(history: History, move: Moves, target: Scenario) -> list[_Candidate]:
    """People who can move within the dates: registered and eligible, acts done before.

    Every act of the source history lies before the move (their exit there is dropped: the
    new county's comes instead).
    """
    registrations: dict[str, Planned] = {}
    seen: set[tuple[tuple[str, ...], str]] = set()
    for command in history.commands:
        if command.stage == Stage.REGISTER and command.type.startswith("register-participant"):
            who = identity(command.data)
            if eligible(command.data, history.scenario) and who not in seen:
                registrations[f"{command.provider}/{command.data['provider_reference']}"] = command
            seen.add(who)
    last_act: dict[str, date] = {}
    for command in history.commands:
        if command.person is not None and command.type != "record-programme-exit.v1":
            last_act[command.person] = max(_days(command), last_act.get(command.person, date.min))
    found = []
    for person, registration in sorted(registrations.items()):
        entered = date.fromisoformat(registration.data["entry_date"])
        earliest = max(move.first, last_act.get(person, entered) + timedelta(days=1))
        latest = move.last
        born = date.fromisoformat(registration.data["birth_date"])
        # Still of the programme's age where they move to, on the last possible day.
        oldest = age_on(born, latest) <= target.population.age_max
        if oldest and latest <= target.programme_end:
            found.append(_Candidate(person, registration, earliest, latest))
    return found


def _days(command: Planned) -> date:
    """The latest day a command speaks of (its own, or a date in its data)."""
    days = [command.day]
    for value in command.data.values():
        if isinstance(value, str) and len(value) == 10 and value[4] == "-":
            try:
                days.append(date.fromisoformat(value))
            except ValueError:
                continue
    return max(days)


# --- the oracle ------------------------------------------------------------------------------


@dataclass
class _Stay:
    county: str
    municipality: str
    entered: date


@dataclass
class _Person:
    stays: list[_Stay]
    exit: date | None = None

    def in_county(self, county: str) -> tuple[_Stay, date | None] | None:
        """The first stay in `county` and the day it ended (a move on, or the exit)."""
        for index, stay in enumerate(self.stays):
            if stay.county == county:
                left = self.stays[index + 1].entered if index + 1 < len(self.stays) else None
                ends = [d for d in (left, self.exit) if d is not None]
                return stay, min(ends) if ends else None
        return None


def _world(history: StateHistory) -> list[_Person]:
    by_county = {s.county: s for s in history.statewide.scenarios}
    persons: list[_Person] = []
    by_identity: dict[tuple[tuple[str, ...], str], _Person] = {}
    by_reference: dict[str, _Person] = {}
    for command in history.commands:
        data = command.data
        if command.type.startswith("register-participant"):
            key = municipality_key(str(data["municipality"]))
            scenario = by_county[key[:5]]
            entered = date.fromisoformat(data["entry_date"])
            reference = f"{command.provider}/{data['provider_reference']}"
            known = by_identity.get(identity(data))
            if known is not None:
                # The same person: in another county (and eligible there) a move.
                moved = known.stays[-1].county != key[:5] and known.exit is None
                if moved and eligible(data, scenario):
                    known.stays.append(_Stay(key[:5], key, entered))
                by_reference[reference] = known
            elif eligible(data, scenario):
                new = _Person([_Stay(key[:5], key, entered)])
                persons.append(new)
                by_identity[identity(data)] = new
                by_reference[reference] = new
        elif command.type == "record-programme-exit.v1":
            person = by_reference.get(command.person or "")
            if person is not None:
                person.exit = date.fromisoformat(data["exit_date"])
    return persons


def _quarter(year: int, quarter: int) -> tuple[date, date]:
    return date(year, 3 * quarter - 2, 1), date(year, *QUARTER_END[quarter])


def _counts(spans: list[tuple[date, date | None]], start: date, end: date) -> dict[str, int]:
    return {
        "entries": sum(start <= entered <= end for entered, _ in spans),
        "exits": sum(left is not None and start <= left <= end for _, left in spans),
        "caseload": sum(entered <= end and (left is None or left > end) for entered, left in spans),
    }


def county_table(
    persons: list[_Person], county: str, year: int, quarter: int
) -> dict[str, dict[str, int]]:
    """A county's quarterly table by municipality: its stays, a move an exit or an entry."""
    start, end = _quarter(year, quarter)
    stays = [found for p in persons if (found := p.in_county(county)) is not None]
    table = {}
    for municipality in load_counties().municipalities(county):
        here = [(s.entered, left) for s, left in stays if s.municipality == municipality]
        table[municipality] = _counts(here, start, end)
    return table


def state_totals(persons: list[_Person], year: int, quarter: int) -> dict[str, int]:
    """The state's own totals: a person once, from the first entry to the programme exit."""
    start, end = _quarter(year, quarter)
    return _counts([(p.stays[0].entered, p.exit) for p in persons], start, end)


def expected_statewide(history: StateHistory) -> dict[str, Any]:
    """Every check of the statewide file: the state table and each county's quarterly table."""
    persons = _world(history)
    statewide = history.statewide
    checks: list[dict[str, Any]] = []
    for check in statewide.checks:
        by_county = {}
        for county in statewide.counties:
            table = county_table(persons, county, check.year, check.quarter)
            by_county[county] = {m: sum(row[m] for row in table.values()) for m in MEASURES}
            checks.append(
                {
                    "report": "quarterly",
                    "county": county,
                    "provider": None,
                    "year": check.year,
                    "quarter": check.quarter,
                    "figures": {"by_municipality": table},
                }
            )
        checks.append(
            {
                "report": STATE,
                "provider": None,
                "year": check.year,
                "quarter": check.quarter,
                "figures": {
                    "by_county": by_county,
                    STATE: state_totals(persons, check.year, check.quarter),
                },
            }
        )
    return {
        "statewide": statewide.name,
        "seed": history.seed,
        "digest": history.digest,
        "participants": len(persons),
        "moved": sum(len(p.stays) - 1 for p in persons),
        "checks": checks,
    }
