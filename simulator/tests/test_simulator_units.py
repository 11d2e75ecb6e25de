"""Pure tests of the simulator: the scenario format, seeded histories, the oracle's arithmetic."""

from __future__ import annotations

import tomllib
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from durchstarten.events import COMMANDS
from durchstarten_simulator import scenario as scenario_file
from durchstarten_simulator.check import compare
from durchstarten_simulator.generate import NAMES_PARTICIPANT, History, Planned, Stage, generate
from durchstarten_simulator.load import _suffix, _Synthetic
from durchstarten_simulator.oracle import dtz_overall, expected, identity

HERFORD = Path(__file__).resolve().parents[1] / "scenarios" / "kreis-herford.toml"


@pytest.fixture(scope="module")
def herford() -> scenario_file.Scenario:
    return scenario_file.load(HERFORD)


def figures(oracle: dict[str, Any], report: str, provider: str | None) -> dict[str, Any]:
    return next(
        c["figures"]
        for c in oracle["checks"]
        if c["report"] == report and c["provider"] == provider
    )


def test_the_herford_file_parses(herford: scenario_file.Scenario) -> None:
    assert [p.id for p in herford.providers] == ["diakonie-herford", "in-via", "awo-owl"]
    coaching = herford.coaching[0]
    assert (coaching.module, coaching.persons, coaching.end) == ("F1", 106, date(2022, 12, 31))
    assert herford.coaching[1].module == "F6"
    assert herford.coaching[1].end == date(2022, 6, 30)
    jik = herford.courses[1]
    assert sum(p.planned_ue for p in jik.parts) == 1000
    assert (jik.start, jik.end, jik.target_level) == (date(2022, 3, 1), date(2023, 2, 28), "B1")
    assert herford.courses[0].start == date(2022, 1, 10)


def test_a_bad_file_is_refused_naming_the_key() -> None:
    raw = tomllib.loads(HERFORD.read_text())
    raw["coaching"][0]["provider"] = "nobody"
    with pytest.raises(scenario_file.ScenarioError, match="provider 'nobody'"):
        scenario_file.parse(raw)
    raw = tomllib.loads(HERFORD.read_text())
    raw["course"][1]["participants"]["new"] = 30
    with pytest.raises(scenario_file.ScenarioError, match="more participants than places"):
        scenario_file.parse(raw)
    raw = tomllib.loads(HERFORD.read_text())
    raw["scenario"]["programme_start"] = "2019-04-09"
    with pytest.raises(scenario_file.ScenarioError, match="TOML date"):
        scenario_file.parse(raw)


def test_a_seed_gives_the_same_history_and_another_seed_another(
    herford: scenario_file.Scenario,
) -> None:
    first, again, other = generate(herford), generate(herford), generate(herford, 7)
    assert first.digest == again.digest
    assert first.digest != other.digest
    assert first.seed == herford.seed


def test_every_command_fits_the_contract(herford: scenario_file.Scenario) -> None:
    placeholder = "6f1c1a52-8d1b-4a8e-9a55-0f1d64c3c0de"
    for command in generate(herford, 3).commands:
        data = dict(command.data)
        if command.type in NAMES_PARTICIPANT:
            data["participant_id"] = placeholder
        COMMANDS[command.type].model_validate(data)


def test_the_herford_history_has_the_county_figures(herford: scenario_file.Scenario) -> None:
    for seed in (None, 1, 2, 99):
        history = generate(herford, seed)
        oracle = expected(history)
        diakonie = figures(oracle, "outcomes", "diakonie-herford")
        assert diakonie["reached"] == 106
        assert 0.45 <= diakonie["placement_rate_reached"] <= 0.55
        awo = figures(oracle, "courses", "awo-owl")
        assert awo["pass_rate"] == 1.0
        assert awo["exam_results"]["B1"] == 18
        kinds = Counter(c.type for c in history.commands)
        assert kinds["register-participant.v2"] == 106 + 11 + 2 + 4  # coached, AWO, dups, refused
        f6 = [c for c in history.commands if c.type == "open-case.v1" and c.data["module"] == "F6"]
        assert f6
        assert all(c.day <= date(2022, 6, 30) for c in f6)
        closes = {c.data["case_id"]: c.day for c in history.commands if c.type == "close-case.v1"}
        assert all(closes[c.data["case_id"]] <= date(2022, 6, 30) for c in f6)
        f2 = [c for c in history.commands if c.type == "enrol.v1" and c.provider == "in-via"]
        assert f2
        assert all(c.day >= date(2022, 1, 10) for c in f2)


def test_each_persons_commands_are_in_calendar_order(herford: scenario_file.Scenario) -> None:
    history = generate(herford, 5)
    last: dict[tuple[str, str], tuple[Stage, date]] = {}
    for command in history.commands:
        key = (command.key, command.service)
        if key in last:
            assert last[key] <= (command.stage, command.day)
        last[key] = (command.stage, command.day)


@pytest.mark.parametrize("seed", [None, 5, 99])
def test_a_course_provider_enrols_only_people_linked_to_it_a_stage_before(
    herford: scenario_file.Scenario, seed: int | None
) -> None:
    # Courses holds an enrolment of a person not linked to the course's provider (its own
    # registration, a sure duplicate it registered, or a referral it accepted) like one of
    # an unknown person; the replay sends a stage only once the one before is answered.
    history = generate(herford, seed)
    person: dict[str, tuple[tuple[str, ...], str]] = {}
    linked: dict[tuple[tuple[tuple[str, ...], str], str], Stage] = {}
    for command in history.commands:
        if command.type.startswith("register-participant"):
            who = identity(command.data)
            person.setdefault(f"{command.provider}/{command.data['provider_reference']}", who)
            linked.setdefault((who, command.provider), command.stage)
        elif command.type == "answer-referral.v1" and command.data["answer"] == "accepted":
            assert command.person is not None
            linked.setdefault((person[command.person], command.provider), command.stage)
    enrolments = [c for c in history.commands if c.type == "enrol.v1"]
    assert {c.provider for c in enrolments} == {"in-via", "awo-owl"}
    for enrolment in enrolments:
        assert enrolment.person is not None
        link = linked.get((person[enrolment.person], enrolment.provider))
        assert link is not None, enrolment
        assert link < enrolment.stage, enrolment


def _register(provider: str, ref: str, **changes: Any) -> Planned:
    data = {
        "provider_reference": ref,
        "given_name": "Amina",
        "family_name": "Haddad",
        "birth_date": "2001-05-04",
        "residence_status": {"status": "duldung", "legal_basis": "aufenthg-60a"},
        "municipality": "herford",
        "entry_date": "2022-03-01",
    } | changes
    return Planned(
        Stage.REGISTER, date(2022, 3, 1), provider, "intake", "register-participant.v2", data
    )


def test_the_oracle_counts_by_its_own_rules(herford: scenario_file.Scenario) -> None:
    def case(provider: str, ref: str, case_id: str, opened: str) -> Planned:
        return Planned(
            Stage.COACHING,
            date.fromisoformat(opened),
            provider,
            "coaching",
            "open-case.v1",
            {"case_id": case_id, "module": "F1", "site": "herford", "opened_on": opened},
            f"{provider}/{ref}",
        )

    def placement(provider: str, case_id: str, category: str, start: str) -> Planned:
        return Planned(
            Stage.COACHING,
            date.fromisoformat(start),
            provider,
            "coaching",
            "record-placement.v1",
            {"placement_id": "x", "case_id": case_id, "category": category, "start_date": start},
        )

    commands = [
        _register("dia", "A"),
        _register("dia", "B", given_name="Omar", birth_date="2000-02-03"),
        _register("dia", "C", given_name="Ali", birth_date="1990-02-03"),  # too old
        _register("awo", "D", family_name="HADDAD", birth_date="2001-05-04"),  # = A
        _register(
            "dia",
            "E",
            given_name="Sami",
            birth_date="2002-02-03",
            lives_in_state_reception_facility=True,
        ),
        case("dia", "A", "c1", "2022-03-02"),
        case("dia", "B", "c2", "2022-03-02"),
        case("awo", "D", "c3", "2022-10-02"),
        placement("dia", "c1", "employment", "2022-09-01"),
        placement("dia", "c2", "moved-away", "2022-09-01"),  # not a placement that counts
        placement("awo", "c3", "ausbildung-company", "2023-01-10"),  # after the quarter
        Planned(
            Stage.EXIT,
            date(2022, 12, 1),
            "dia",
            "intake",
            "record-programme-exit.v1",
            {"exit_date": "2022-12-01", "reason": "placed"},
            "dia/A",
        ),
    ]
    renamed = herford.with_provider_ids({"diakonie": "dia", "awo": "awo", "in-via": "iv"})
    oracle = expected(History(renamed, 0, commands))
    assert oracle["participants"] == 2
    assert figures(oracle, "outcomes", "dia") == {
        "reached": 2,
        "placed": 1,
        "exited": 1,
        "placed_exited": 1,
        "placement_rate_reached": 0.5,
        "placement_rate_exited": 1.0,
    }
    county = figures(oracle, "outcomes", None)
    assert (county["reached"], county["placed"]) == (2, 1)


def test_identity_and_the_dtz_rule() -> None:
    assert identity(
        {"given_name": "Amina", "family_name": "Al-Khatib", "birth_date": "2001-05-04"}
    ) == identity({"given_name": "AL KHATIB", "family_name": "Amina", "birth_date": "2001-05-04"})
    assert dtz_overall({"speaking": "B1", "listening_reading": "A2", "writing": "B1"}) == "B1"
    assert dtz_overall({"speaking": "A2", "listening_reading": "B1", "writing": "B1"}) == "A2"
    assert (
        dtz_overall({"speaking": "B1", "listening_reading": "below-A2", "writing": "below-A2"})
        == "below-A2"
    )
    assert dtz_overall({"did_not_sit": True}) == "did-not-sit"


def test_the_checker_accepts_withheld_counts_that_are_not_zero_only() -> None:
    def cell(value: int | None) -> dict[str, Any]:
        return {"value": value, "suppressed": value is None}

    check: dict[str, Any] = {
        "report": "outcomes",
        "provider": "p",
        "year": 2022,
        "quarter": 4,
        "figures": {
            "reached": 10,
            "placed": 2,
            "exited": 5,
            "placed_exited": 1,
            "placement_rate_reached": 0.2,
            "placement_rate_exited": 0.2,
        },
    }
    report: dict[str, Any] = {
        "min_cell_count": 3,
        "participants": {
            "rows": ["reached", "placed", "exited", "placed_exited"],
            "columns": ["participants"],
            "cells": [[cell(10)], [cell(None)], [cell(5)], [cell(None)]],
        },
        "placement_rate_reached": None,
        "placement_rate_exited": None,
    }
    assert all(c.ok for c in compare(check, report))
    report["participants"]["cells"][0] = [cell(None)]  # withheld to protect a small count
    assert all(c.ok for c in compare(check, report))
    report["participants"]["cells"][0] = [cell(11)]
    assert [c.figure for c in compare(check, report) if not c.ok] == ["reached"]
    report["participants"]["cells"][0] = [cell(10)]
    report["participants"]["cells"][1] = [cell(2)]  # a small count published
    assert [c.figure for c in compare(check, report) if not c.ok] == ["placed"]
    check["figures"]["placed"] = 0
    report["participants"]["cells"][1] = [cell(None)]  # a zero withheld
    assert [c.figure for c in compare(check, report) if not c.ok] == ["placed"]


def test_load_mode_mixes_commands_in_each_persons_order() -> None:
    assert len({_suffix(n) for n in range(5000)}) == 5000
    synthetic = _Synthetic(seed=1, providers=["p-one", "p-two"])
    known = {f"00000000-0000-4000-8000-{n:012d}": ("p-one", "p-two")[n % 2] for n in range(20)}
    sent = [next(stream) for stream in [synthetic.stream(known)] for _ in range(400)]
    kinds = Counter(c.envelope["type"] for c in sent)
    assert kinds["register-participant.v2"] == 40  # every tenth command
    assert kinds["open-case.v1"] == 20
    assert kinds["record-session.v1"] > kinds["record-placement.v1"] > 0
    assert kinds["enrol.v1"] == 20
    assert kinds["record-attendance.v1"] > 0
    for command in sent:
        COMMANDS[command.envelope["type"]].model_validate(command.envelope["data"])
    first: dict[str, str] = {}
    for command in sent:
        first.setdefault(command.key, command.envelope["type"])
    assert {t for k, t in first.items() if k in known} == {"open-case.v1"}
