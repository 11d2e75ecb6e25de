import uuid
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from durchstarten.events import RegisterParticipant
from intake.domain import RuleViolation, decide_registration
from intake.eligibility import age_on, load_programmes

DURCHSTARTEN = load_programmes()["durchstarten"]


def command(**changes: object) -> RegisterParticipant:
    return RegisterParticipant.model_validate(RegisterParticipant.example | changes)


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (date(2001, 5, 4), date(2022, 5, 3), 20),
        (date(2001, 5, 4), date(2022, 5, 4), 21),
        (date(2000, 2, 29), date(2018, 2, 28), 17),
        (date(2000, 2, 29), date(2018, 3, 1), 18),
        (date(2000, 1, 1), date(2000, 1, 1), 0),
    ],
)
def test_age_in_whole_years(birth: date, day: date, age: int) -> None:
    assert age_on(birth, day) == age


@given(
    st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 12, 31)),
    st.integers(min_value=0, max_value=20000),
)
def test_age_never_decreases_as_days_pass(birth: date, days: int) -> None:
    day = date.fromordinal(birth.toordinal() + days)
    later = date.fromordinal(day.toordinal() + 1)
    assert 0 <= age_on(birth, day) <= age_on(birth, later) <= age_on(birth, day) + 1


def test_registration_announces_coarse_attributes_only() -> None:
    pid = uuid.uuid4()
    registration = decide_registration(
        command(), provider="diakonie-herford", participant_id=pid, programme=DURCHSTARTEN
    )
    assert registration.status == "registered"
    event = registration.event
    assert event.participant_id == pid
    assert event.age_at_entry == 20
    assert event.provider == "diakonie-herford"
    assert event.german_level_at_entry.overall == "A2"
    assert event.residence_status.legal_basis == "aufenthg-60a"
    dumped = event.model_dump_json()
    for identifier in ("Amina", "Haddad", "2001-05-04"):
        assert identifier not in dumped


def test_entry_before_birth_is_a_rule_violation() -> None:
    # The command model already refuses this; the domain guards its own invariant too.
    impossible = command().model_copy(update={"entry_date": date(2000, 1, 1)})
    with pytest.raises(RuleViolation) as caught:
        decide_registration(
            impossible, provider="p", participant_id=uuid.uuid4(), programme=DURCHSTARTEN
        )
    assert caught.value.reason == "entry-before-birth"
    assert caught.value.field == "entry_date"


def test_an_implausible_age_is_a_rule_violation_not_a_crash() -> None:
    with pytest.raises(RuleViolation) as caught:
        decide_registration(
            command(birth_date=date(1950, 1, 1), entry_date=date(2099, 1, 1)),
            provider="p",
            participant_id=uuid.uuid4(),
            programme=DURCHSTARTEN,
        )
    assert caught.value.reason == "implausible-age"
    assert caught.value.field == "birth_date"


def test_a_waivable_failure_waits_for_an_exception_and_others_reject() -> None:
    too_old = command(birth_date=date(1990, 1, 1))
    pending = decide_registration(
        too_old, provider="p", participant_id=uuid.uuid4(), programme=DURCHSTARTEN
    )
    assert pending.status == "pending-exception"
    assert [f.reason for f in pending.waivable_failures] == ["age-above-maximum"]
    assert pending.event.eligibility_exception
    in_facility = command(lives_in_state_reception_facility=True, birth_date=date(1990, 1, 1))
    with pytest.raises(RuleViolation) as caught:
        decide_registration(
            in_facility, provider="p", participant_id=uuid.uuid4(), programme=DURCHSTARTEN
        )
    assert caught.value.reason == "not-eligible"
    assert {f.reason for f in caught.value.failed_rules} == {
        "age-above-maximum",
        "lives-in-state-reception-facility",
    }


def test_no_programme_is_a_rule_violation() -> None:
    with pytest.raises(RuleViolation) as caught:
        decide_registration(command(), provider="p", participant_id=uuid.uuid4(), programme=None)
    assert caught.value.reason == "unknown-programme"
