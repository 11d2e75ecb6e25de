"""Pure tests of statewide histories: the file, the moves, and the state oracle's arithmetic."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from durchstarten.counties import load_counties
from durchstarten.events import COMMANDS
from durchstarten_simulator.check import compare
from durchstarten_simulator.generate import Stage
from durchstarten_simulator.load import _Synthetic, statewide_counties
from durchstarten_simulator.oracle import eligible, identity
from durchstarten_simulator.scenario import ScenarioError
from durchstarten_simulator.statewide import (
    MEASURES,
    STATE,
    Moves,
    StateHistory,
    _validate,
    expected_statewide,
    generate_statewide,
    load,
)

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
STATEWIDE = SCENARIOS / "owl-statewide.toml"
GUETERSLOH, BIELEFELD, HERFORD = "05754", "05711", "05758"


@pytest.fixture(scope="module")
def history() -> StateHistory:
    return generate_statewide(load(STATEWIDE))


def test_the_file_names_three_counties_and_the_moves_between_two() -> None:
    statewide = load(STATEWIDE)
    assert statewide.counties == [BIELEFELD, GUETERSLOH, HERFORD]
    (move,) = statewide.moves
    assert (move.source, move.target, move.people) == ("kreis-guetersloh", "bielefeld", 7)
    assert len(statewide.checks) >= 3


def test_the_same_seed_gives_the_same_history_another_seed_another(
    history: StateHistory,
) -> None:
    statewide = load(STATEWIDE)
    assert generate_statewide(statewide).digest == history.digest
    assert generate_statewide(statewide, 7).digest != history.digest


def test_a_mover_registers_again_in_the_new_county_as_the_same_person(
    history: StateHistory,
) -> None:
    statewide = history.statewide
    guetersloh = next(h for h in history.histories if h.scenario.county == GUETERSLOH)
    source = {
        identity(c.data): c
        for c in guetersloh.commands
        if c.type.startswith("register-participant") and c.stage == Stage.REGISTER
    }
    registrations = [c for c in history.moves if c.type.startswith("register-participant")]
    assert len(registrations) == 7
    counties = load_counties()
    for again in registrations:
        first = source[identity(again.data)]  # the same name and birth date
        assert again.stage == Stage.DUPLICATES  # after the first registration's answer
        assert again.data["municipality"].startswith(BIELEFELD)
        assert BIELEFELD in counties.counties_of(again.provider)
        assert again.day > date.fromisoformat(first.data["entry_date"])
        assert eligible(again.data, statewide.scenario("bielefeld"))
        person = f"{first.provider}/{first.data['provider_reference']}"
        # Everything the old provider does with them happened before the move, but the
        # programme exit, which its registering provider records some time after it.
        acts = [c for c in history.commands if c.person == person]
        (exit_,) = [c for c in acts if c.type == "record-programme-exit.v1"]
        assert all(c.day < again.day for c in acts if c is not exit_)
        assert exit_.provider == first.provider
        assert date.fromisoformat(exit_.data["exit_date"]) > again.day
        moved_ref = f"{again.provider}/{again.data['provider_reference']}"
        assert not [c for c in history.commands if c.person == moved_ref]


def test_the_commands_go_out_stage_by_stage(history: StateHistory) -> None:
    stages = [int(c.stage) for c in history.commands]
    assert stages == sorted(stages)
    total = sum(len(h.commands) for h in history.histories)
    # Every county's commands, the movers' exits moved after the move, plus the registrations.
    assert len(history.commands) == total - 7 + 14


def test_the_state_counts_a_mover_once_and_each_county_its_stay(
    history: StateHistory,
) -> None:
    oracle = expected_statewide(history)
    assert oracle["moved"] == 7
    state_checks = [c for c in oracle["checks"] if c["report"] == STATE]
    assert state_checks
    moves_seen = 0
    for check in state_checks:
        by_county, state = check["figures"]["by_county"], check["figures"][STATE]
        summed = {m: sum(by_county[c][m] for c in by_county) for m in MEASURES}
        # A person lives in one county at a time: the caseloads add up to the state's.
        assert summed["caseload"] == state["caseload"]
        # Each move is an entry of one county and an exit of another, neither of the state.
        moves = summed["entries"] - state["entries"]
        assert summed["exits"] - state["exits"] == moves >= 0
        moves_seen += moves
        tables = [
            c
            for c in oracle["checks"]
            if c["report"] == "quarterly"
            and (c["year"], c["quarter"]) == (check["year"], check["quarter"])
        ]
        for table in tables:
            rows = table["figures"]["by_municipality"]
            assert set(rows) == set(load_counties().municipalities(table["county"]))
            assert {m: sum(r[m] for r in rows.values()) for m in MEASURES} == by_county[
                table["county"]
            ]
    assert moves_seen > 0  # the checked quarters see some of the moves


def test_the_checker_compares_the_state_table_cell_by_cell(history: StateHistory) -> None:
    oracle = expected_statewide(history)
    check = next(c for c in oracle["checks"] if c["report"] == STATE)
    figures = check["figures"]
    counties = sorted(figures["by_county"])

    def cells(values: list[list[int]]) -> list[list[dict[str, object]]]:
        return [[{"value": v, "suppressed": False} for v in row] for row in values]

    served: dict[str, Any] = {
        "min_cell_count": 3,
        "by_county": {
            "rows": counties,
            "columns": list(MEASURES),
            "cells": cells([[figures["by_county"][c][m] for m in MEASURES] for c in counties]),
        },
        STATE: {
            "rows": [STATE],
            "columns": list(MEASURES),
            "cells": cells([[figures[STATE][m] for m in MEASURES]]),
        },
    }
    small = any(0 < v < 3 for row in figures["by_county"].values() for v in row.values())
    small = small or any(0 < v < 3 for v in figures[STATE].values())
    results = compare(check, served)
    assert len(results) == 3 * len(counties) + 3
    # Every figure shown as the oracle has it agrees (a small count shown is a failure).
    assert all(r.ok for r in results) != small
    served[STATE]["cells"][0][0]["value"] = figures[STATE]["entries"] + 1
    assert not next(r for r in compare(check, served) if r.figure == "state entries").ok


def test_moves_must_be_between_counties_by_a_provider_working_there() -> None:
    statewide = load(STATEWIDE)
    same = Moves(
        "kreis-guetersloh", "kreis-guetersloh", "caritas", 1, date(2021, 1, 1), date(2021, 6, 30)
    )
    with pytest.raises(ScenarioError, match="between two counties"):
        _validate(replace(statewide, moves=(same,)))
    # Diakonie works in Kreis Herford only: it cannot register anyone in Gütersloh.
    elsewhere = Moves(
        "bielefeld", "kreis-herford", "diakonie", 1, date(2021, 1, 1), date(2021, 6, 30)
    )
    herford = statewide.scenario("kreis-herford")
    assert GUETERSLOH not in load_counties().counties_of(herford.provider_id("diakonie"))
    _validate(replace(statewide, moves=(elsewhere,)))  # Herford is Diakonie's
    wrong = Moves(
        "kreis-herford", "kreis-guetersloh", "caritas", 1, date(2021, 1, 1), date(2021, 6, 30)
    )
    renamed = replace(
        statewide,
        scenarios=tuple(
            s.with_provider_ids({"caritas": "diakonie-herford"}) if s.county == GUETERSLOH else s
            for s in statewide.scenarios
        ),
    )
    with pytest.raises(ScenarioError, match="does not work in county 05754"):
        _validate(replace(renamed, moves=(wrong,)))


def test_more_movers_than_can_move_is_an_error() -> None:
    statewide = load(STATEWIDE)
    (move,) = statewide.moves
    crowd = replace(move, people=10_000)
    with pytest.raises(ScenarioError, match="people can move"):
        generate_statewide(replace(statewide, moves=(crowd,)))


def test_the_statewide_load_registers_people_where_their_providers_work() -> None:
    counties = statewide_counties()
    assert len(counties.keys) == 53
    assert len(set(counties.keys)) == 53
    assert not set(counties.keys) & set(load_counties().keys)  # no real county's key
    synthetic = _Synthetic(seed=3, providers=counties.provider_ids(), counties=counties)
    known = {f"00000000-0000-4000-8000-{n:012d}": counties.provider_ids()[n] for n in range(50)}
    sent = [next(stream) for stream in [synthetic.stream(known)] for _ in range(1000)]
    registrations = [c for c in sent if c.envelope["type"].startswith("register-participant")]
    assert registrations
    assert {c.envelope["type"] for c in registrations} == {"register-participant.v3"}
    for command in registrations:
        municipality = command.envelope["data"]["municipality"]
        county = counties.county_of(municipality)
        assert county is not None
        assert command.provider in [p.id for p in county.providers]
    sites = {p.id: {s.id for s in p.sites} for county in counties.all() for p in county.providers}
    for command in sent:
        COMMANDS[command.envelope["type"]].model_validate(command.envelope["data"])
        if command.envelope["type"] == "open-case.v1":
            assert command.envelope["data"]["site"] in sites[command.provider]
