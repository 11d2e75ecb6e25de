import uuid
from datetime import date

import pytest

from coaching import domain
from durchstarten.events.coaching import (
    AnswerReferral,
    CloseCase,
    OpenCase,
    RecordFollowUp,
    RecordSession,
)
from durchstarten.events.values import FollowUpWindow

TODAY = date(2023, 6, 1)
PID = uuid.uuid4()
CASE = domain.CaseView(
    uuid.uuid4(), PID, "diakonie-herford", "F1", "buende", date(2022, 3, 2), None
)
PERSON = domain.ParticipantView(PID, date(2022, 3, 1), None, frozenset({"diakonie-herford"}))


def open_case(**changes: object) -> OpenCase:
    return OpenCase.model_validate(OpenCase.example | {"participant_id": str(PID)} | changes)


def decide_open(
    command: OpenCase,
    participant: domain.ParticipantView | None = PERSON,
    modules: set[str] | None = None,
) -> object:
    return domain.decide_open_case(
        command,
        provider="diakonie-herford",
        participant=participant,
        sites=["herford", "buende", "loehne"],
        open_modules=modules or set(),
        today=TODAY,
    )


def test_an_unknown_participant_is_waited_for_not_refused() -> None:
    with pytest.raises(domain.NotKnownYet) as caught:
        decide_open(open_case(), participant=None)
    assert caught.value.waiting_for == f"participant:{PID}"


@pytest.mark.parametrize(
    ("changes", "modules", "reason"),
    [
        ({"site": "bielefeld"}, set(), "unknown-site"),
        ({}, {"F1"}, "case-already-open"),
        ({"opened_on": "2022-02-28"}, set(), "date-before-entry"),
        ({"opened_on": "2023-06-02"}, set(), "date-in-future"),
    ],
)
def test_opening_rules(changes: dict[str, object], modules: set[str], reason: str) -> None:
    with pytest.raises(domain.RuleViolation) as caught:
        decide_open(open_case(**changes), modules=modules)
    assert caught.value.reason == reason


def test_another_providers_participant_is_unknown() -> None:
    stranger = domain.ParticipantView(PID, date(2022, 3, 1), None, frozenset({"in-via"}))
    # Exactly the unknown answer, before any rule that would tell of the person (their
    # open cases, entry or exit): waited for, since a link may still be on its way.
    with pytest.raises(domain.NotKnownYet) as caught:
        decide_open(open_case(), participant=stranger, modules={"F1"})
    assert caught.value.waiting_for == f"participant:{PID}"


def test_sessions_need_an_own_open_case_and_a_date_inside_it() -> None:
    good = RecordSession.model_validate(RecordSession.example | {"case_id": str(CASE.case_id)})
    recorded = domain.decide_session(good, provider="diakonie-herford", case=CASE, today=TODAY)
    assert recorded.participant_id == PID
    with pytest.raises(domain.NotKnownYet) as foreign:  # answered like an unknown case
        domain.decide_session(good, provider="in-via", case=CASE, today=TODAY)
    assert foreign.value.waiting_for == f"case:{CASE.case_id}"
    closed = domain.CaseView(
        CASE.case_id, PID, "diakonie-herford", "F1", "buende", date(2022, 3, 2), date(2022, 3, 5)
    )
    with pytest.raises(domain.RuleViolation) as after_close:
        domain.decide_session(good, provider="diakonie-herford", case=closed, today=TODAY)
    assert after_close.value.reason == "case-closed"
    with pytest.raises(domain.NotKnownYet):
        domain.decide_session(good, provider="diakonie-herford", case=None, today=TODAY)


def test_follow_up_windows_follow_esf_practice() -> None:
    exit_day = date(2022, 12, 31)
    exited = domain.ParticipantView(
        PID, date(2022, 3, 1), exit_day, frozenset({"diakonie-herford"})
    )
    assert domain.follow_up_window(exit_day, FollowUpWindow.FOUR_WEEKS) == (
        exit_day,
        date(2023, 1, 28),
    )
    six_months = RecordFollowUp.model_validate(
        RecordFollowUp.example | {"case_id": str(CASE.case_id), "observed_on": "2023-06-01"}
    )
    recorded = domain.decide_follow_up(
        six_months, provider="diakonie-herford", case=CASE, participant=exited, today=TODAY
    )
    assert recorded.window == FollowUpWindow.SIX_MONTHS
    late = RecordFollowUp.model_validate(six_months.model_dump(mode="json") | {"window": "4-weeks"})
    with pytest.raises(domain.RuleViolation) as caught:
        domain.decide_follow_up(
            late, provider="diakonie-herford", case=CASE, participant=exited, today=TODAY
        )
    assert caught.value.reason == "outside-follow-up-window"


def test_only_the_receiving_provider_answers_and_acceptance_grants_access() -> None:
    referral = domain.ReferralView(
        uuid.uuid4(),
        CASE.case_id,
        PID,
        "diakonie-herford",
        date(2022, 4, 1),
        "provider",
        "in-via",
        None,
    )
    answer = AnswerReferral.model_validate(
        AnswerReferral.example | {"referral_id": str(referral.referral_id)}
    )
    with pytest.raises(domain.RuleViolation) as caught:
        domain.decide_answer(answer, provider="diakonie-herford", referral=referral, today=TODAY)
    assert caught.value.reason == "not-referral-recipient"
    with pytest.raises(domain.NotKnownYet) as third:  # neither side: like an unknown one
        domain.decide_answer(answer, provider="awo-owl", referral=referral, today=TODAY)
    assert third.value.waiting_for == f"referral:{referral.referral_id}"
    answered = domain.decide_answer(answer, provider="in-via", referral=referral, today=TODAY)
    assert domain.grants_access(answered, referral) == "in-via"


def test_closing_needs_a_date_after_opening() -> None:
    close = CloseCase.model_validate(
        CloseCase.example | {"case_id": str(CASE.case_id), "closed_on": "2022-03-01"}
    )
    with pytest.raises(domain.RuleViolation) as caught:
        domain.decide_close(close, provider="diakonie-herford", case=CASE, today=TODAY)
    assert caught.value.reason == "date-before-case"
