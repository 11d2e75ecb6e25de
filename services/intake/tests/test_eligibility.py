"""Eligibility at every boundary, from the programme files (no code branches per programme)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from durchstarten.events.reasons import ReasonCode
from durchstarten.events.values import ResidenceStatus
from intake.eligibility import (
    Applicant,
    Programme,
    age_on,
    choose_programme,
    evaluate,
    load_programmes,
)

PROGRAMMES = load_programmes()
DURCHSTARTEN = PROGRAMMES["durchstarten"]
ENTRY = date(2021, 6, 15)


def applicant(
    *,
    birth_date: date = date(2000, 1, 1),
    entry_date: date = ENTRY,
    status: ResidenceStatus = ResidenceStatus.DULDUNG,
    county_runs: bool = True,
    facility: bool = False,
) -> Applicant:
    return Applicant(birth_date, entry_date, status, county_runs, facility)


def years_before(day: date, years: int) -> date:
    return day.replace(year=day.year - years)


def reasons(programme: Programme, person: Applicant) -> set[ReasonCode]:
    return {failure.reason for failure in evaluate(programme, person)}


@pytest.mark.parametrize(
    ("birth_date", "expected"),
    [
        (years_before(ENTRY, 18) + timedelta(days=1), {ReasonCode.AGE_BELOW_MINIMUM}),  # 17 y 364 d
        (years_before(ENTRY, 18), set()),  # 18th birthday on the entry day
        (years_before(ENTRY, 28) + timedelta(days=1), set()),  # 27 y 364 d
        (years_before(ENTRY, 28), {ReasonCode.AGE_ABOVE_MAXIMUM}),  # 28th birthday
    ],
    ids=["17y364d", "18", "27y364d", "28"],
)
def test_age_at_every_boundary(birth_date: date, expected: set[ReasonCode]) -> None:
    assert reasons(DURCHSTARTEN, applicant(birth_date=birth_date)) == expected


@pytest.mark.parametrize(
    ("entry_date", "eligible"),
    [
        (date(2019, 4, 8), False),
        (date(2019, 4, 9), True),
        (date(2023, 6, 30), True),
        (date(2023, 7, 1), False),
    ],
    ids=["day-before-start", "start", "end", "day-after-end"],
)
def test_programme_validity_at_both_ends(entry_date: date, eligible: bool) -> None:
    person = applicant(entry_date=entry_date, birth_date=years_before(entry_date, 20))
    failures = reasons(DURCHSTARTEN, person)
    assert (failures == set()) is eligible
    if not eligible:
        assert failures == {ReasonCode.OUTSIDE_PROGRAMME_VALIDITY}


@pytest.mark.parametrize("status", list(ResidenceStatus))
def test_each_residence_status(status: ResidenceStatus) -> None:
    target_group = {
        ResidenceStatus.DULDUNG,
        ResidenceStatus.AUSBILDUNGSDULDUNG,
        ResidenceStatus.BESCHAEFTIGUNGSDULDUNG,
        ResidenceStatus.GESTATTUNG,
    }
    failures = evaluate(DURCHSTARTEN, applicant(status=status))
    if status in target_group:
        assert failures == []
    else:
        assert [f.reason for f in failures] == [ReasonCode.RESIDENCE_STATUS_NOT_ELIGIBLE]
        assert failures[0].waivable
        assert failures[0].field == "residence_status.status"


def test_state_reception_facility_excludes_and_cannot_be_waived() -> None:
    failures = evaluate(DURCHSTARTEN, applicant(facility=True))
    assert [(f.reason, f.waivable) for f in failures] == [
        (ReasonCode.LIVES_IN_STATE_RECEPTION_FACILITY, False)
    ]


def test_every_failed_rule_is_named_at_once() -> None:
    person = applicant(
        birth_date=years_before(ENTRY, 30),
        status=ResidenceStatus.AUFENTHALTSERLAUBNIS,
        facility=True,
    )
    assert reasons(DURCHSTARTEN, person) == {
        ReasonCode.AGE_ABOVE_MAXIMUM,
        ReasonCode.RESIDENCE_STATUS_NOT_ELIGIBLE,
        ReasonCode.LIVES_IN_STATE_RECEPTION_FACILITY,
    }


def test_a_second_programme_is_configuration_only(tmp_path: Path) -> None:
    kim = PROGRAMMES["kim"]
    person = applicant(
        birth_date=date(1970, 1, 1),
        entry_date=date(2024, 1, 1),
        status=ResidenceStatus.AUFENTHALTSERLAUBNIS,
    )
    assert evaluate(kim, person) == []
    assert reasons(DURCHSTARTEN, person) == {
        ReasonCode.OUTSIDE_PROGRAMME_VALIDITY,
        ReasonCode.AGE_ABOVE_MAXIMUM,
        ReasonCode.RESIDENCE_STATUS_NOT_ELIGIBLE,
    }
    # A third programme, written as a file only, is picked up and applied.
    (tmp_path / "pilot.toml").write_text(
        'id = "pilot"\nversion = 1\nname = "Pilot"\nvalid_from = 2024-01-01\n'
        "[age]\nmin = 16\nmax = 20\n"
    )
    pilot = load_programmes(tmp_path)["pilot"]
    assert reasons(pilot, person) == {ReasonCode.AGE_ABOVE_MAXIMUM}


def test_the_programme_is_chosen_by_entry_date_or_by_name() -> None:
    active = ["durchstarten", "kim"]
    assert choose_programme(PROGRAMMES, active, None, date(2022, 1, 1)) is DURCHSTARTEN
    assert choose_programme(PROGRAMMES, active, None, date(2024, 1, 1)) is PROGRAMMES["kim"]
    assert choose_programme(PROGRAMMES, active, "kim", date(2022, 1, 1)) is PROGRAMMES["kim"]
    assert choose_programme(PROGRAMMES, ["durchstarten"], "kim", date(2024, 1, 1)) is None


@given(
    birth=st.dates(min_value=date(1950, 1, 1), max_value=date(2005, 12, 31)),
    entry=st.dates(min_value=date(2019, 4, 9), max_value=date(2023, 6, 30)),
)
def test_the_age_rule_agrees_with_an_independent_birthday_count(birth: date, entry: date) -> None:
    # Independent oracle: count the birthdays passed, one year at a time.
    birthdays = sum(
        1
        for year in range(birth.year + 1, entry.year + 1)
        if (
            date(year, 3, 1) - timedelta(days=1)
            if (birth.month, birth.day) == (2, 29) and not _leap(year)
            else birth.replace(year=year)
        )
        <= entry
    )
    assert age_on(birth, entry) == birthdays
    failures = reasons(DURCHSTARTEN, applicant(birth_date=birth, entry_date=entry))
    assert (ReasonCode.AGE_BELOW_MINIMUM in failures) == (birthdays < 18)
    assert (ReasonCode.AGE_ABOVE_MAXIMUM in failures) == (birthdays > 27)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@given(
    status=st.sampled_from(list(ResidenceStatus)),
    county_runs=st.booleans(),
    facility=st.booleans(),
)
def test_only_age_and_status_failures_are_waivable(
    status: ResidenceStatus, county_runs: bool, facility: bool
) -> None:
    person = applicant(status=status, county_runs=county_runs, facility=facility)
    for failure in evaluate(DURCHSTARTEN, person):
        assert failure.waivable == (
            failure.reason
            in {
                ReasonCode.AGE_BELOW_MINIMUM,
                ReasonCode.AGE_ABOVE_MAXIMUM,
                ReasonCode.RESIDENCE_STATUS_NOT_ELIGIBLE,
            }
        )


def test_a_county_that_does_not_run_the_programme_fails_the_place_rule_unwaivably() -> None:
    failures = evaluate(DURCHSTARTEN, applicant(county_runs=False))
    assert [(f.reason, f.field, f.waivable) for f in failures] == [
        (ReasonCode.MUNICIPALITY_NOT_COVERED, "municipality", False)
    ]
