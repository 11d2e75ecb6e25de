import itertools
import uuid
from datetime import date

import pytest

from courses import domain
from courses.handlers import rate_on
from courses.settings import FundingRate
from durchstarten.events.courses import Enrol, ParticipantWaitlisted
from durchstarten.events.values import DtzLevel, DtzOverall

LEVELS = list(DtzLevel)
RANK = {DtzLevel.BELOW_A2: 0, DtzLevel.A2: 1, DtzLevel.B1: 2}


def oracle(lr: DtzLevel, writing: DtzLevel, speaking: DtzLevel) -> DtzOverall:
    # Independent restatement: the overall level is the lower of speaking and the better of
    # the two written/receptive skills.
    level = min(RANK[speaking], max(RANK[lr], RANK[writing]))
    return [DtzOverall.BELOW_A2, DtzOverall.A2, DtzOverall.B1][level]


@pytest.mark.parametrize(("lr", "writing", "speaking"), list(itertools.product(LEVELS, repeat=3)))
def test_dtz_rule_for_every_combination(
    lr: DtzLevel, writing: DtzLevel, speaking: DtzLevel
) -> None:
    assert domain.dtz_overall(lr, writing, speaking) == oracle(lr, writing, speaking)


def test_dtz_examples_from_the_rule() -> None:
    assert domain.dtz_overall(DtzLevel.B1, DtzLevel.A2, DtzLevel.B1) == DtzOverall.B1
    assert domain.dtz_overall(DtzLevel.B1, DtzLevel.B1, DtzLevel.A2) == DtzOverall.A2
    assert (
        domain.dtz_overall(DtzLevel.BELOW_A2, DtzLevel.BELOW_A2, DtzLevel.B1) == DtzOverall.BELOW_A2
    )


COURSE = domain.CourseView(
    uuid.uuid4(),
    "in-via",
    "in-work-qualification",
    "F2",
    "herford",
    date(2022, 1, 10),
    date(2022, 12, 16),
    [{"name": "main", "planned_ue": 120}],
    None,
    2,
)


def enrol(
    participant: domain.ParticipantView,
    taken: int = 0,
    waiting: int = 0,
    linked: frozenset[str] = frozenset({"in-via"}),
) -> object:
    command = Enrol(
        course_id=COURSE.course_id,
        participant_id=participant.participant_id,
        requested_on=date(2022, 1, 5),
    )
    return domain.decide_enrol(
        command,
        provider="in-via",
        course=COURSE,
        participant=participant,
        linked_providers=linked,
        status=None,
        places_taken=taken,
        waiting=waiting,
    )


@pytest.mark.parametrize(
    ("placement", "ban", "reason"),
    [
        (None, False, "needs-work-or-training"),
        ("language-course", False, "needs-work-or-training"),
        ("employment", True, "employment-ban"),
    ],
)
def test_f2_needs_work_or_training_and_no_employment_ban(
    placement: str | None, ban: bool, reason: str
) -> None:
    with pytest.raises(domain.RuleViolation) as caught:
        enrol(domain.ParticipantView(uuid.uuid4(), ban, placement))
    assert caught.value.reason == reason


def test_a_participant_not_linked_to_the_provider_is_unknown_before_any_rule() -> None:
    # Another provider's participant, in work under a ban: neither fact may show. The answer
    # is exactly the unknown participant's (waited for, then `unknown-participant`).
    person = domain.ParticipantView(uuid.uuid4(), True, "employment")
    with pytest.raises(domain.NotKnownYet) as caught:
        enrol(person, linked=frozenset({"awo-owl"}))
    assert caught.value.waiting_for == f"participant:{person.participant_id}"


@pytest.mark.parametrize("placement", ["employment", "ausbildung-company", "ausbildung-school"])
def test_f2_admits_people_in_work_or_training(placement: str) -> None:
    person = domain.ParticipantView(uuid.uuid4(), False, placement)
    assert type(enrol(person)).__name__ == "ParticipantEnrolled"
    waitlisted = enrol(person, taken=2, waiting=3)
    assert isinstance(waitlisted, ParticipantWaitlisted)
    assert waitlisted.position == 4


def test_funding_counts_each_delivered_unit_once() -> None:
    assert (
        domain.ue_funding(
            COURSE, delivered_before=5, delivered_now=5, on=date(2022, 2, 1), ue_cents=3750
        )
        is None
    )
    accrued = domain.ue_funding(
        COURSE, delivered_before=3, delivered_now=5, on=date(2022, 2, 1), ue_cents=3750
    )
    assert accrued is not None
    assert (accrued.ue, accrued.amount_cents) == (2, 7500)


def test_the_rate_in_force_on_a_day_applies() -> None:
    rates = [
        FundingRate(valid_from=date(2019, 4, 9), ue_cents=3750, exam_fee_cents=13500),
        FundingRate(valid_from=date(2023, 1, 1), ue_cents=4000, exam_fee_cents=14000),
    ]
    assert rate_on(rates, date(2022, 12, 31)).ue_cents == 3750
    assert rate_on(rates, date(2023, 1, 1)).ue_cents == 4000
