import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from durchstarten.counties import load_counties, with_providers
from durchstarten.events import RegisterParticipant
from durchstarten.events.courses import ExamResultRecorded
from durchstarten.events.intake import (
    ApproveEligibilityException,
    DuplicateConfirmed,
    DuplicateDecision,
    EligibilityExceptionApproved,
    ParticipantErased,
    ParticipantMoved,
    ParticipantRegistered,
    ProviderAssigned,
    RequestErasure,
    ResolveDuplicate,
)
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.values import DtzOverall
from durchstarten.messaging.commands import Actor
from intake import domain
from intake.domain import Registration, RuleViolation, check_registration, decide_registration
from intake.eligibility import age_on, load_programmes
from intake.matching import BestMatch, Match, Verdict

DURCHSTARTEN = load_programmes()["durchstarten"]
COUNTIES = with_providers(load_counties(), ["p", "q"])


TODAY = date(2022, 6, 1)


def command(**changes: object) -> RegisterParticipant:
    return RegisterParticipant.model_validate(RegisterParticipant.example | changes)


def register(
    registration: RegisterParticipant,
    *,
    provider: str = "p",
    participant_id: uuid.UUID | None = None,
    match: BestMatch | None = None,
    shares: bool = True,
) -> Registration:
    """The whole registration decision: the programme's rules, then the duplicate check.

    `shares`: the person's consent (or an override) lets the provider join a sure match.
    """
    checked = check_registration(
        registration,
        provider=provider,
        participant_id=participant_id or uuid.uuid4(),
        programme=DURCHSTARTEN,
        counties=COUNTIES,
    )
    return decide_registration(checked, provider=provider, today=TODAY, match=match, shares=shares)


def match(verdict: Verdict, score: float = 0.9) -> BestMatch:
    return BestMatch(uuid.uuid4(), Match(verdict, score))


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
    registration = register(command(), provider="diakonie-herford", participant_id=pid)
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
        check_registration(
            impossible,
            provider="p",
            participant_id=uuid.uuid4(),
            programme=DURCHSTARTEN,
            counties=COUNTIES,
        )
    assert caught.value.reason == "entry-before-birth"
    assert caught.value.field == "entry_date"


def test_an_implausible_age_is_a_rule_violation_not_a_crash() -> None:
    with pytest.raises(RuleViolation) as caught:
        check_registration(
            command(birth_date=date(1950, 1, 1), entry_date=date(2099, 1, 1)),
            provider="p",
            participant_id=uuid.uuid4(),
            programme=DURCHSTARTEN,
            counties=COUNTIES,
        )
    assert caught.value.reason == "implausible-age"
    assert caught.value.field == "birth_date"


def test_a_waivable_failure_waits_for_an_exception_and_others_reject() -> None:
    too_old = command(birth_date=date(1990, 1, 1))
    pending = register(too_old)
    assert pending.status == "pending-exception"
    assert [f.reason for f in pending.waivable_failures] == ["age-above-maximum"]
    assert pending.event.eligibility_exception
    in_facility = command(lives_in_state_reception_facility=True, birth_date=date(1990, 1, 1))
    with pytest.raises(RuleViolation) as caught:
        check_registration(
            in_facility,
            provider="p",
            participant_id=uuid.uuid4(),
            programme=DURCHSTARTEN,
            counties=COUNTIES,
        )
    assert caught.value.reason == "not-eligible"
    assert {f.reason for f in caught.value.failed_rules} == {
        "age-above-maximum",
        "lives-in-state-reception-facility",
    }


def test_no_programme_is_a_rule_violation() -> None:
    with pytest.raises(RuleViolation) as caught:
        check_registration(
            command(), provider="p", participant_id=uuid.uuid4(), programme=None, counties=COUNTIES
        )
    assert caught.value.reason == "unknown-programme"


def test_a_sure_match_joins_the_existing_person_and_assigns_the_provider() -> None:
    sure = match(Verdict.SURE)
    joined = register(command(), provider="in-via", match=sure)
    assert joined.status == "existing-participant"
    assert joined.participant_id == sure.participant_id
    assert joined.events == (
        ProviderAssigned(participant_id=sure.participant_id, provider="in-via", assigned_on=TODAY),
    )
    # Even a registration that would wait for an exception joins the person already known.
    too_old = register(command(birth_date=date(1990, 1, 1)), match=sure)
    assert too_old.status == "existing-participant"
    assert too_old.waivable_failures == ()


def test_a_possible_match_registers_and_asks_a_coordinator_to_look() -> None:
    possible = match(Verdict.POSSIBLE, 0.81)
    pid = uuid.uuid4()
    flagged = register(command(), participant_id=pid, match=possible)
    assert flagged.status == "possible-duplicate"
    assert flagged.participant_id == pid
    assert [type(e) for e in flagged.events] == [ParticipantRegistered]
    assert flagged.possible_duplicate_of == possible
    # A registration waiting for an exception is not announced, nor checked yet.
    waiting = register(command(birth_date=date(1990, 1, 1)), match=possible)
    assert waiting.status == "pending-exception"
    assert waiting.events == ()
    assert waiting.possible_duplicate_of is None


def test_no_match_registers_and_announces_the_person() -> None:
    plain = register(command())
    assert plain.status == "registered"
    assert plain.events == (plain.event,)
    assert plain.possible_duplicate_of is None


def test_only_coordinators_decide_and_only_providers_register() -> None:
    provider, staff = Actor.provider_system("p"), Actor("staff-1", None, coordinator=True)
    approve = ApproveEligibilityException.model_validate(ApproveEligibilityException.example)
    with pytest.raises(RuleViolation) as refused:
        domain.authorise(approve, provider)
    assert refused.value.reason == "forbidden-role"
    domain.authorise(approve, staff)
    with pytest.raises(RuleViolation) as staff_registering:
        domain.authorise(command(), staff)
    assert staff_registering.value.reason == "forbidden-role"
    domain.authorise(command(), provider)


@dataclass(frozen=True)
class Person:
    county: str


def test_a_provider_not_linked_hears_unknown_exactly_as_for_a_missing_id() -> None:
    provider = Actor.provider_system("p")
    herford = Person("05758")
    with pytest.raises(RuleViolation) as foreign:
        domain.require_access(provider, herford, linked=False)
    with pytest.raises(RuleViolation) as missing:
        domain.require_access(provider, None, linked=True)
    assert foreign.value == missing.value
    assert foreign.value.reason == "unknown-participant"
    assert domain.require_access(provider, herford, linked=True) == herford
    staff = Actor("staff-1", None, coordinator=True)
    assert domain.require_access(staff, herford, linked=False) == herford


def test_a_coordinator_of_another_county_hears_unknown_as_for_a_missing_id() -> None:
    guetersloh = Actor("ki-gt-1", None, coordinator=True, county="05754")
    with pytest.raises(RuleViolation) as foreign:
        domain.require_access(guetersloh, Person("05758"), linked=False)
    with pytest.raises(RuleViolation) as missing:
        domain.require_access(guetersloh, None, linked=False)
    assert foreign.value == missing.value
    assert domain.require_access(guetersloh, Person("05754"), linked=False).county == "05754"


def test_erasure_announces_only_a_person_that_was_announced() -> None:
    erase = RequestErasure.model_validate(RequestErasure.example)
    (erased,) = domain.decide_erasure(erase, status="registered", today=TODAY) or ()
    assert erased == ParticipantErased(
        participant_id=erase.participant_id, erased_on=TODAY, reason=erase.reason
    )
    assert domain.decide_erasure(erase, status="pending-exception", today=TODAY) == ()
    assert domain.decide_erasure(erase, status="erased", today=TODAY) is None


def test_an_approval_must_waive_every_failed_rule_and_then_announces_the_person() -> None:
    waiting = register(command(birth_date=date(1990, 1, 1)))
    stored = [domain.failure_record(f) for f in waiting.waivable_failures]
    approve = ApproveEligibilityException.model_validate(
        ApproveEligibilityException.example | {"participant_id": str(waiting.participant_id)}
    )
    pending_event = waiting.event.model_dump(mode="json")
    approved, announced = domain.decide_exception_approval(
        approve,
        status="pending-exception",
        failed_rules=stored,
        pending_event=pending_event,
        today=TODAY,
    )
    assert isinstance(approved, EligibilityExceptionApproved)
    assert approved.approved_on == TODAY
    assert announced == waiting.event
    narrow = approve.model_copy(update={"rules": []})
    with pytest.raises(RuleViolation) as caught:
        domain.decide_exception_approval(
            narrow,
            status="pending-exception",
            failed_rules=stored,
            pending_event=pending_event,
            today=TODAY,
        )
    assert caught.value.reason == "exception-does-not-cover"
    with pytest.raises(RuleViolation) as not_pending:
        domain.decide_exception_approval(
            approve, status="registered", failed_rules=[], pending_event=None, today=TODAY
        )
    assert not_pending.value.reason == "no-exception-pending"


def test_a_duplicate_decision_needs_an_open_check_and_a_confirmation_is_announced() -> None:
    resolve = ResolveDuplicate.model_validate(ResolveDuplicate.example)
    with pytest.raises(RuleViolation) as caught:
        domain.decide_duplicate_resolution(resolve, review_was_open=False, today=TODAY)
    assert caught.value.reason == "no-duplicate-review"
    confirm = resolve.model_copy(update={"decision": DuplicateDecision.CONFIRMED})
    assert domain.review_status(confirm) == "confirmed"
    assert domain.decide_duplicate_resolution(confirm, review_was_open=True, today=TODAY) == (
        DuplicateConfirmed(
            participant_id=resolve.participant_id,
            duplicate_of=resolve.duplicate_of,
            confirmed_on=TODAY,
        ),
    )
    reject = resolve.model_copy(update={"decision": DuplicateDecision.REJECTED})
    assert domain.review_status(reject) == "rejected"
    assert domain.decide_duplicate_resolution(reject, review_was_open=True, today=TODAY) == ()


def test_a_dtz_result_adds_a_level_only_for_a_registered_person_who_sat_it() -> None:
    result = ExamResultRecorded.model_validate(ExamResultRecorded.example)
    level = domain.level_from_exam(result, "registered")
    assert level == domain.dtz_as_cefr(result)
    assert domain.level_from_exam(result, "erased") is None
    assert domain.level_from_exam(result, None) is None
    absent = result.model_copy(update={"overall": DtzOverall.DID_NOT_SIT})
    assert domain.level_from_exam(absent, "registered") is None


def test_a_sure_match_without_consent_to_sharing_is_refused() -> None:
    with pytest.raises(RuleViolation) as refused:
        register(command(), match=match(Verdict.SURE), shares=False)
    assert refused.value.reason == ReasonCode.CONSENT_REQUIRED
    # Without a sure match, consent to sharing is not needed: the person is new here.
    alone = register(command(), shares=False)
    assert alone.status == "registered"


@pytest.mark.parametrize(
    ("municipality", "provider", "reason"),
    [
        ("05758099", "p", "unknown-municipality"),  # well-formed, but no county has it
        ("09162000", "p", "unknown-municipality"),  # München: not a configured county
        ("05754008", "diakonie-herford", "provider-not-in-county"),  # Gütersloh
        ("05711000", "awo-owl", "provider-not-in-county"),  # Bielefeld
    ],
)
def test_a_registration_outside_the_providers_counties_is_refused_naming_the_field(
    municipality: str, provider: str, reason: str
) -> None:
    with pytest.raises(RuleViolation) as caught:
        check_registration(
            command(municipality=municipality),
            provider=provider,
            participant_id=uuid.uuid4(),
            programme=DURCHSTARTEN,
            counties=COUNTIES,
        )
    assert (caught.value.reason, caught.value.field) == (reason, "municipality")


def test_a_provider_working_in_two_counties_registers_in_both() -> None:
    for municipality, county in [("05758012", "05758"), ("05711000", "05711")]:
        checked = check_registration(
            command(municipality=municipality),
            provider="in-via",
            participant_id=uuid.uuid4(),
            programme=DURCHSTARTEN,
            counties=COUNTIES,
        )
        assert (checked.event.municipality, checked.event.county) == (municipality, county)


def test_the_same_person_registered_in_another_county_moved_there() -> None:
    checked = check_registration(
        command(municipality="05711000"),
        provider="in-via",
        participant_id=uuid.uuid4(),
        programme=DURCHSTARTEN,
        counties=COUNTIES,
    )
    sure = match(Verdict.SURE)
    moved = decide_registration(
        checked, provider="in-via", today=TODAY, match=sure, shares=True, moved_from="05758"
    )
    stayed = decide_registration(
        checked, provider="in-via", today=TODAY, match=sure, shares=True, moved_from="05711"
    )
    assert moved.status == stayed.status == "existing-participant"
    moves = [e for e in moved.events if isinstance(e, ParticipantMoved)]
    assert [(m.from_county, m.to_county, m.municipality, m.moved_on) for m in moves] == [
        ("05758", "05711", "05711000", checked.event.entry_date)
    ]
    assert moves[0].participant_id == moved.participant_id == sure.participant_id
    assert not any(isinstance(e, ParticipantMoved) for e in stayed.events)
