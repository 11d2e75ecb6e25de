"""Courses' command side against the real PostgreSQL, without Kafka.

Commands go in as a provider's system writes them and run through `CoursesHandlers.execute`;
intake's and coaching's events come in through `learn_from` as the consumer hands them over.
Each test checks the outcome, the rows written, and the outbox: the events announced and the
reply on the provider's outbound topic.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from pydantic import SecretStr

from courses.app import MIGRATIONS
from courses.handlers import SERVICE, CoursesHandlers
from courses.settings import CoursesSettings
from durchstarten.clock import Clock
from durchstarten.events.coaching import PlacementRecorded, ReferralAnswered
from durchstarten.events.intake import ParticipantErased, ParticipantRegistered, ProviderAssigned
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.topics import COACHING_EVENTS, COURSES_EVENTS, INTAKE_EVENTS, outbound
from durchstarten.messaging.command_service import Outcome
from durchstarten.messaging.commands import InboundCommand
from durchstarten.service import ServiceRuntime
from durchstarten_deploy.testing import (
    TEST_PROVIDERS,
    OutboxMessage,
    assert_rejected,
    counties_for_tests,
    domain_rows,
    event_record,
    example_event,
    fetch_rows,
    outbox_messages,
    provider_inbound,
    replies_to,
    send_batch,
    send_command,
    send_one_by_one,
)

pytestmark = [pytest.mark.integration, pytest.mark.database]  # PostgreSQL only, no broker

ALPHA, BETA = TEST_PROVIDERS
TODAY = date(2024, 1, 15)
UE_CENTS = 3750  # the default funding rate: 37.50 EUR per teaching unit


def courses_handlers(
    runtime: ServiceRuntime, *, hold_for: timedelta = timedelta(minutes=5)
) -> CoursesHandlers:
    settings = runtime.settings
    assert isinstance(settings, CoursesSettings)
    return CoursesHandlers(
        runtime, clock=Clock(TODAY), rates=settings.funding_rates, hold_for=hold_for
    )


@pytest_asyncio.fixture
async def handlers(fresh_database_url: str, fresh_pool: asyncpg.Pool) -> CoursesHandlers:
    settings = CoursesSettings(
        database_url=SecretStr(fresh_database_url),
        providers=list(TEST_PROVIDERS),
        counties_dir=counties_for_tests(),
    )
    runtime = ServiceRuntime(
        service=SERVICE, settings=settings, migrations=MIGRATIONS, with_outbox_relay=True
    )
    await runtime.attach_database(fresh_pool)
    return courses_handlers(runtime)


async def registered(
    handlers: CoursesHandlers,
    participant_id: uuid.UUID | None = None,
    *,
    employment_ban: bool = False,
    provider: str = ALPHA,
) -> uuid.UUID:
    """A participant intake registered and courses learnt of."""
    participant_id = participant_id or uuid.uuid4()
    registration = example_event(
        ParticipantRegistered,
        participant_id=str(participant_id),
        provider=provider,
        employment_ban=employment_ban,
    )
    await handlers.learn_from(event_record(INTAKE_EVENTS, registration, service="intake"))
    return participant_id


def course_data(**changes: Any) -> dict[str, Any]:
    return {
        "course_id": str(uuid.uuid4()),
        "course_type": "preparatory-course",
        "module": "F4",
        "site": "herford",
        "start_date": "2022-03-01",
        "end_date": "2022-12-31",
        "parts": [{"name": "main", "planned_ue": 10}],
        "capacity": 2,
    } | changes


async def scheduled(handlers: CoursesHandlers, provider: str = ALPHA, **changes: Any) -> str:
    data = course_data(**changes)
    _, outcome = await send_command(handlers, "schedule-course.v1", provider, data)
    assert outcome.status == "accepted", outcome
    course_id: str = data["course_id"]
    return course_id


def enrol_data(course_id: str, participant_id: uuid.UUID) -> dict[str, Any]:
    return {
        "course_id": course_id,
        "participant_id": str(participant_id),
        "requested_on": "2022-02-15",
    }


async def enrol(
    handlers: CoursesHandlers, course_id: str, participant_id: uuid.UUID, provider: str = ALPHA
) -> tuple[InboundCommand, Outcome]:
    return await send_command(handlers, "enrol.v1", provider, enrol_data(course_id, participant_id))


def attendance(course_id: str, participant_id: uuid.UUID, day: str, ue: int) -> dict[str, Any]:
    return {
        "course_id": course_id,
        "participant_id": str(participant_id),
        "part": "main",
        "date": day,
        "ue": ue,
    }


async def standing(handlers: CoursesHandlers, course_id: str) -> list[tuple[uuid.UUID, str]]:
    """Who holds or waits for a place, in order of request."""
    found = await fetch_rows(
        handlers.runtime.pool,
        "SELECT participant_id, status FROM enrolments WHERE course_id = $1 ORDER BY seq",
        uuid.UUID(course_id),
    )
    return [(row["participant_id"], row["status"]) for row in found]


async def events_since(handlers: CoursesHandlers, count: int) -> list[OutboxMessage]:
    """Domain events announced after the first `count` outbox rows."""
    messages = (await outbox_messages(handlers.runtime.pool))[count:]
    return [message for message in messages if message.topic == COURSES_EVENTS]


async def test_a_course_is_scheduled_once_per_id(
    handlers: CoursesHandlers, fresh_pool: asyncpg.Pool
) -> None:
    data = course_data()

    first, scheduled_outcome = await send_command(handlers, "schedule-course.v1", ALPHA, data)
    again, again_outcome = await send_command(handlers, "schedule-course.v1", ALPHA, data)

    assert scheduled_outcome.status == "accepted"
    assert_rejected(again_outcome, ReasonCode.DUPLICATE_ID)
    assert await fetch_rows(
        fresh_pool, "SELECT course_id, provider, module, capacity FROM courses"
    ) == [
        {
            "course_id": uuid.UUID(data["course_id"]),
            "provider": ALPHA,
            "module": "F4",
            "capacity": 2,
        }
    ]
    announced, accepted, rejected = await outbox_messages(fresh_pool)
    assert (announced.topic, announced.type) == (COURSES_EVENTS, "course.scheduled.v1")
    assert announced.data["course_id"] == data["course_id"]
    assert (accepted.topic, accepted.type) == (outbound(ALPHA, SERVICE), "command.accepted.v1")
    assert accepted.data["command_id"] == first.envelope.id
    assert (rejected.type, rejected.data["command_id"]) == (
        "command.rejected.v1",
        again.envelope.id,
    )
    assert (rejected.data["reason"], rejected.data["field"]) == ("duplicate-id", "data.course_id")


async def test_places_go_in_order_of_request_then_the_waitlist(
    handlers: CoursesHandlers, fresh_pool: asyncpg.Pool
) -> None:
    course_id = await scheduled(handlers, capacity=2)
    people = [await registered(handlers) for _ in range(3)]
    before = len(await outbox_messages(fresh_pool))

    outcomes = [(await enrol(handlers, course_id, person))[1] for person in people]
    _, repeated = await enrol(handlers, course_id, people[0])  # a new command, the same person

    assert [outcome.status for outcome in outcomes] == ["accepted"] * 3
    assert_rejected(repeated, ReasonCode.ALREADY_ENROLLED)
    assert await standing(handlers, course_id) == [
        (people[0], "enrolled"),
        (people[1], "enrolled"),
        (people[2], "waitlisted"),
    ]
    announced = await events_since(handlers, before)
    assert [m.type for m in announced] == [
        "course.participant-enrolled.v1",
        "course.participant-enrolled.v1",
        "course.participant-waitlisted.v1",
    ]
    assert announced[2].data["position"] == 1


async def test_a_drop_out_gives_the_place_to_the_longest_waiting(
    handlers: CoursesHandlers,
    fresh_pool: asyncpg.Pool,
) -> None:
    course_id = await scheduled(handlers, capacity=1)
    holder, first_waiting, second_waiting = [await registered(handlers) for _ in range(3)]
    for person in (holder, first_waiting, second_waiting):
        await enrol(handlers, course_id, person)
    before = len(await outbox_messages(fresh_pool))

    _, dropped = await send_command(
        handlers,
        "drop-out.v1",
        ALPHA,
        {
            "course_id": course_id,
            "participant_id": str(holder),
            "dropped_on": "2022-04-01",
            "reason": "placed",
        },
    )

    assert dropped.status == "accepted"
    assert await standing(handlers, course_id) == [
        (holder, "dropped-out"),
        (first_waiting, "enrolled"),
        (second_waiting, "waitlisted"),
    ]
    left, promoted = await events_since(handlers, before)
    assert (left.type, left.data["participant_id"]) == (
        "course.participant-dropped-out.v1",
        str(holder),
    )
    assert (promoted.type, promoted.data["participant_id"], promoted.data["from_waitlist"]) == (
        "course.participant-enrolled.v1",
        str(first_waiting),
        True,
    )


async def test_a_repeated_enrol_command_takes_one_place_only(handlers: CoursesHandlers) -> None:
    course_id = await scheduled(handlers, capacity=1)
    first, second = await registered(handlers), await registered(handlers)
    inbound = provider_inbound(handlers, "enrol.v1", ALPHA, enrol_data(course_id, first))

    outcomes = [await handlers.execute(inbound) for _ in range(3)]
    _, next_person = await enrol(handlers, course_id, second)

    assert [outcome.status for outcome in outcomes] == ["accepted", "duplicate", "duplicate"]
    assert next_person.status == "accepted"
    assert await standing(handlers, course_id) == [(first, "enrolled"), (second, "waitlisted")]
    reply, *repeats = await replies_to(handlers, inbound)
    assert reply.type == "command.accepted.v1"
    assert [r.data for r in repeats] == [reply.data | {"repeat": True}] * 2  # the copies


async def test_another_providers_course_is_unknown_to_the_sender(
    handlers: CoursesHandlers,
) -> None:
    course_id = await scheduled(handlers, provider=ALPHA)
    person = await registered(handlers)

    inbound, outcome = await enrol(handlers, course_id, person, provider=BETA)

    assert_rejected(outcome, ReasonCode.UNKNOWN_COURSE)
    [reply] = await replies_to(handlers, inbound)
    assert reply.topic == outbound(BETA, SERVICE)
    assert (reply.data["reason"], reply.data["field"]) == ("unknown-course", "data.course_id")
    assert await standing(handlers, course_id) == []


async def test_an_enrolment_for_an_unknown_participant_is_held_until_intake_tells(
    handlers: CoursesHandlers,
    fresh_pool: asyncpg.Pool,
) -> None:
    course_id = await scheduled(handlers)
    person = uuid.uuid4()
    before = len(await outbox_messages(fresh_pool))

    inbound, outcome = await enrol(handlers, course_id, person)

    assert outcome.status == "held"
    assert await fetch_rows(fresh_pool, "SELECT waiting_for FROM held_commands") == [
        {"waiting_for": f"participant:{person}"}
    ]
    assert await standing(handlers, course_id) == []
    assert len(await outbox_messages(fresh_pool)) == before  # no answer yet

    await registered(handlers, person)
    assert await handlers.retrier.retry_all() == 1

    assert await standing(handlers, course_id) == [(person, "enrolled")]
    assert await fetch_rows(fresh_pool, "SELECT * FROM held_commands") == []
    assert [m.type for m in await events_since(handlers, before)] == [
        "course.participant-enrolled.v1"
    ]
    [reply] = await replies_to(handlers, inbound)
    assert reply.type == "command.accepted.v1"


async def test_module_f2_admits_people_in_work_or_training_without_an_employment_ban(
    handlers: CoursesHandlers,
    fresh_pool: asyncpg.Pool,
) -> None:
    course_id = await scheduled(
        handlers, module="F2", course_type="in-work-qualification", capacity=None
    )
    banned = await registered(handlers, employment_ban=True)
    person = await registered(handlers)

    _, refused_ban = await enrol(handlers, course_id, banned)
    _, refused_unplaced = await enrol(handlers, course_id, person)
    placement = example_event(
        PlacementRecorded,
        placement_id=str(uuid.uuid4()),
        participant_id=str(person),
        category="ausbildung-company",
        employment_kind=None,
    )
    await handlers.learn_from(event_record(COACHING_EVENTS, placement, service="coaching"))
    _, admitted = await enrol(handlers, course_id, person)

    assert_rejected(refused_ban, ReasonCode.EMPLOYMENT_BAN)
    assert_rejected(refused_unplaced, ReasonCode.NEEDS_WORK_OR_TRAINING)
    assert admitted.status == "accepted"
    assert await fetch_rows(
        fresh_pool, "SELECT category FROM participant_placements WHERE participant_id = $1", person
    ) == [{"category": "ausbildung-company"}]
    assert await standing(handlers, course_id) == [(person, "enrolled")]


async def test_a_placement_read_before_the_registration_still_counts_for_f2(
    handlers: CoursesHandlers,
    fresh_pool: asyncpg.Pool,
) -> None:
    """coaching.events and intake.events have no order between them: either may come first."""
    course_id = await scheduled(
        handlers, module="F2", course_type="in-work-qualification", capacity=None
    )
    person = uuid.uuid4()
    placement = example_event(
        PlacementRecorded,
        placement_id=str(uuid.uuid4()),
        participant_id=str(person),
        category="employment",
        employment_kind="insured",
    )
    await handlers.learn_from(event_record(COACHING_EVENTS, placement, service="coaching"))
    await registered(handlers, person)
    _, admitted = await enrol(handlers, course_id, person)

    assert admitted.status == "accepted"
    erasure = example_event(ParticipantErased, participant_id=str(person))
    await handlers.learn_from(event_record(INTAKE_EVENTS, erasure, service="intake"))
    late = placement.model_copy(update={"placement_id": uuid.uuid4()})
    await handlers.learn_from(event_record(COACHING_EVENTS, late, service="coaching"))
    assert (
        await fetch_rows(  # erased: no placement kept, not even one read late
            fresh_pool, "SELECT * FROM participant_placements WHERE participant_id = $1", person
        )
        == []
    )


async def test_attendance_accrues_funding_for_teaching_delivered_once_per_day(
    handlers: CoursesHandlers,
    fresh_pool: asyncpg.Pool,
) -> None:
    course_id = await scheduled(handlers)
    first, second = await registered(handlers), await registered(handlers)
    for person in (first, second):
        await enrol(handlers, course_id, person)
    before = len(await outbox_messages(fresh_pool))

    _, one = await send_command(
        handlers, "record-attendance.v1", ALPHA, attendance(course_id, first, "2022-03-02", 5)
    )
    _, same_day = await send_command(
        handlers, "record-attendance.v1", ALPHA, attendance(course_id, second, "2022-03-02", 4)
    )
    beyond, beyond_outcome = await send_command(
        handlers, "record-attendance.v1", ALPHA, attendance(course_id, first, "2022-03-03", 6)
    )

    assert (one.status, same_day.status) == ("accepted", "accepted")
    assert_rejected(beyond_outcome, ReasonCode.ATTENDANCE_BEYOND_PLAN)
    assert (await replies_to(handlers, beyond))[0].data["field"] == "data.ue"
    announced = await events_since(handlers, before)
    assert [m.type for m in announced] == [
        "course.attendance-recorded.v1",
        "course.funding-accrued.v1",
        "course.attendance-recorded.v1",  # the day's teaching was paid for already
    ]
    assert (announced[1].data["ue"], announced[1].data["amount_cents"]) == (5, 5 * UE_CENTS)
    assert await fetch_rows(fresh_pool, "SELECT date, ue FROM course_days") == [
        {"date": date(2022, 3, 2), "ue": 5}
    ]
    assert await fetch_rows(
        fresh_pool, "SELECT participant_id, ue FROM attendance ORDER BY ue"
    ) == [
        {"participant_id": second, "ue": 4},
        {"participant_id": first, "ue": 5},
    ]


def answer_of(reply: OutboxMessage) -> tuple[Any, ...]:
    """A rejection without its command id: what the sender learns from it."""
    data = reply.data
    return (reply.topic, reply.type, data["reason"], data["field"], data["message_en"])


async def learn(handlers: CoursesHandlers, topic: str, event: Any, service: str) -> None:
    await handlers.learn_from(event_record(topic, event, service=service))


async def test_another_providers_participant_is_answered_as_unknown_and_nothing_is_written(
    handlers: CoursesHandlers, fresh_pool: asyncpg.Pool
) -> None:
    impatient = courses_handlers(handlers.runtime, hold_for=timedelta(0))
    course_id = await scheduled(
        handlers, provider=BETA, module="F2", course_type="in-work-qualification"
    )
    # ALPHA's participant, under an employment ban and in work: neither may show to BETA.
    theirs = await registered(handlers, employment_ban=True)
    placement = example_event(PlacementRecorded, participant_id=str(theirs), category="employment")
    await learn(handlers, COACHING_EVENTS, placement, "coaching")
    before_rows, before = await domain_rows(fresh_pool), len(await outbox_messages(fresh_pool))

    foreign, foreign_outcome = await enrol(impatient, course_id, theirs, provider=BETA)
    unknown, unknown_outcome = await enrol(impatient, course_id, uuid.uuid4(), provider=BETA)
    assert (foreign_outcome.status, unknown_outcome.status) == ("held", "held")
    assert await impatient.retrier.retry_all() == 2

    [foreign_reply] = await replies_to(handlers, foreign)
    [unknown_reply] = await replies_to(handlers, unknown)
    assert answer_of(foreign_reply) == answer_of(unknown_reply)
    assert answer_of(foreign_reply)[:4] == (
        outbound(BETA, SERVICE),
        "command.rejected.v1",
        "unknown-participant",
        "data.participant_id",
    )
    assert await domain_rows(fresh_pool) == before_rows
    assert await events_since(handlers, before) == []
    assert await fetch_rows(fresh_pool, "SELECT * FROM held_commands") == []


async def test_every_id_bearing_command_answers_another_providers_ids_as_unknown(
    handlers: CoursesHandlers, fresh_pool: asyncpg.Pool
) -> None:
    alphas_course = await scheduled(handlers, provider=ALPHA)
    betas_course = await scheduled(handlers, provider=BETA)
    theirs = await registered(handlers)
    _, enrolled = await enrol(handlers, alphas_course, theirs)
    assert enrolled.status == "accepted"
    day = {"date": "2022-03-02", "exam_date": "2022-06-01", "issued_on": "2022-06-02"}
    commands = {
        "record-attendance.v1": attendance(alphas_course, theirs, day["date"], 2),
        "record-exam-result.v1": {
            "course_id": alphas_course,
            "participant_id": str(theirs),
            "exam_date": day["exam_date"],
            "listening_reading": "B1",
            "writing": "A2",
            "speaking": "B1",
        },
        "record-certificate.v1": {
            "course_id": alphas_course,
            "participant_id": str(theirs),
            "certificate": "dtz",
            "issued_on": day["issued_on"],
        },
        "complete-participation.v1": {
            "course_id": alphas_course,
            "participant_id": str(theirs),
            "completed_on": "2022-06-30",
        },
        "drop-out.v1": {
            "course_id": alphas_course,
            "participant_id": str(theirs),
            "dropped_on": "2022-06-30",
            "reason": "placed",
        },
        "enrol.v1": enrol_data(alphas_course, theirs),
    }
    before_rows, before = await domain_rows(fresh_pool), len(await outbox_messages(fresh_pool))

    for type_, data in commands.items():
        # ALPHA's course, and ALPHA's participant in BETA's own course: like unknown ids.
        for foreign_data, unknown_data in (
            (data, data | {"course_id": str(uuid.uuid4())}),
            (
                data | {"course_id": betas_course},
                data | {"course_id": betas_course, "participant_id": str(uuid.uuid4())},
            ),
        ):
            foreign, foreign_outcome = await send_command(handlers, type_, BETA, foreign_data)
            unknown, unknown_outcome = await send_command(handlers, type_, BETA, unknown_data)
            assert foreign_outcome.status == unknown_outcome.status, type_
            if foreign_outcome.status == "rejected":
                assert foreign_outcome.violation == unknown_outcome.violation, type_
                [foreign_reply] = await replies_to(handlers, foreign)
                [unknown_reply] = await replies_to(handlers, unknown)
                assert answer_of(foreign_reply) == answer_of(unknown_reply), type_
            else:  # an enrolment waits for the participant, unknown or not linked alike
                assert foreign_outcome.status == "held", type_

    assert await domain_rows(fresh_pool) == before_rows
    added = (await outbox_messages(fresh_pool))[before:]
    assert {(m.topic, m.type) for m in added} == {(outbound(BETA, SERVICE), "command.rejected.v1")}
    assert {m.data["reason"] for m in added} == {"unknown-course", "not-enrolled"}


async def test_registration_assignment_and_an_accepted_referral_link_a_provider(
    handlers: CoursesHandlers, fresh_pool: asyncpg.Pool
) -> None:
    course_id = await scheduled(handlers, provider=BETA, capacity=None)
    assigned, referred, declined, waited = (uuid.uuid4() for _ in range(4))

    def answered(participant_id: uuid.UUID, answer: str) -> ReferralAnswered:
        return example_event(
            ReferralAnswered,
            referral_id=str(uuid.uuid4()),
            participant_id=str(participant_id),
            answered_by=BETA,
            answer=answer,
        )

    # coaching's answer may arrive before intake's registration: the link is kept anyway.
    await learn(handlers, COACHING_EVENTS, answered(referred, "accepted"), "coaching")
    await learn(handlers, COACHING_EVENTS, answered(declined, "declined"), "coaching")
    for person in (assigned, referred, declined, waited):
        await registered(handlers, person)
    await learn(
        handlers,
        INTAKE_EVENTS,
        example_event(ProviderAssigned, participant_id=str(assigned), provider=BETA),
        "intake",
    )
    own = await registered(handlers, provider=BETA)

    outcomes = {
        person: (await enrol(handlers, course_id, person, provider=BETA))[1]
        for person in (own, assigned, referred, declined, waited)
    }
    assert {person: outcome.status for person, outcome in outcomes.items()} == {
        own: "accepted",
        assigned: "accepted",
        referred: "accepted",
        declined: "held",
        waited: "held",
    }

    # The assignment reaches courses after the enrolment: the held enrolment goes ahead.
    await learn(
        handlers,
        INTAKE_EVENTS,
        example_event(ProviderAssigned, participant_id=str(waited), provider=BETA),
        "intake",
    )
    assert await handlers.retrier.retry_all() == 1
    assert {person for person, state in await standing(handlers, course_id)} == {
        own,
        assigned,
        referred,
        waited,
    }
    assert await fetch_rows(fresh_pool, "SELECT waiting_for FROM held_commands") == [
        {"waiting_for": f"participant:{declined}"}
    ]

    await learn(
        handlers,
        INTAKE_EVENTS,
        example_event(ParticipantErased, participant_id=str(assigned)),
        "intake",
    )
    await learn(
        handlers,
        INTAKE_EVENTS,
        example_event(ProviderAssigned, participant_id=str(assigned), provider=ALPHA),
        "intake",
    )
    assert (
        await fetch_rows(
            fresh_pool, "SELECT * FROM participant_providers WHERE participant_id = $1", assigned
        )
        == []
    )


async def test_one_batch_decides_exactly_as_one_command_after_another(
    handlers: CoursesHandlers, fresh_pool: asyncpg.Pool
) -> None:
    """The last place, the waitlist, a repeat and a hold, in one transaction or in many.

    Two courses alike get the same commands: one course's one at a time (`execute`), the
    other's as one polled batch (`execute_batch`). Every outcome, every enrolment and every
    announced event must be the same; a command's rejection must not touch the others.
    """
    people = [await registered(handlers) for _ in range(3)]
    unknown = uuid.uuid4()  # intake has not announced this one: the command waits

    def commands(course_id: str) -> list[InboundCommand]:
        def enrolment(person: uuid.UUID) -> InboundCommand:
            return provider_inbound(handlers, "enrol.v1", ALPHA, enrol_data(course_id, person))

        first = enrolment(people[0])
        dropping = provider_inbound(
            handlers,
            "drop-out.v1",
            ALPHA,
            {
                "course_id": course_id,
                "participant_id": str(people[0]),
                "dropped_on": "2022-04-01",
                "reason": "placed",
            },
        )
        return [
            first,
            enrolment(people[1]),  # the course is full now: waitlisted
            enrolment(people[0]),  # a new command for the same person: already enrolled
            first,  # the same command sent again: answered as before
            enrolment(unknown),  # held until intake announces the person
            dropping,  # the place goes to the first waiting
            enrolment(people[2]),  # waitlisted behind nobody: the place was taken
        ]

    async def run(course_id: str, *, batch: bool) -> tuple[list[Any], list[Any], list[Any]]:
        before = len(await outbox_messages(fresh_pool))
        sent = commands(course_id)
        outcomes = await (send_batch if batch else send_one_by_one)(handlers, sent)
        results = [(o.status, o.violation.reason if o.violation else None) for o in outcomes]
        messages = (await outbox_messages(fresh_pool))[before:]
        events = [
            (m.type, str(m.data.get("participant_id")), m.data.get("position"))
            for m in messages
            if m.topic == COURSES_EVENTS
        ]
        replies = [
            (m.type, m.data.get("reason"), m.data.get("repeat"), m.data.get("command_type"))
            for m in messages
            if m.topic == outbound(ALPHA, SERVICE)
        ]
        rows = await standing(handlers, course_id)
        return results, events, replies + rows

    one_by_one = await run(await scheduled(handlers, capacity=1), batch=False)
    in_one_batch = await run(await scheduled(handlers, capacity=1), batch=True)

    statuses = [status for status, _ in one_by_one[0]]
    assert statuses == [
        "accepted",
        "accepted",
        "rejected",
        "duplicate",
        "held",
        "accepted",
        "accepted",
    ]
    assert one_by_one[0][2] == ("rejected", ReasonCode.ALREADY_ENROLLED)
    assert in_one_batch == one_by_one


async def test_attendance_in_one_batch_is_counted_and_funded_as_one_at_a_time(
    handlers: CoursesHandlers, fresh_pool: asyncpg.Pool
) -> None:
    """What a batch reads ahead (standings, UE so far, the day's teaching) follows the batch.

    Two courses alike get the same commands, one course's one at a time and the other's
    as one batch: two people on one day (the day paid once), a day beyond the plan, a
    drop-out and then attendance of the one who left, a person enrolled in the batch and
    attending in it. Outcomes, events, attendance rows and paid days must be the same.
    """
    people = [await registered(handlers) for _ in range(3)]

    def commands(course_id: str) -> list[InboundCommand]:
        def attending(person: int, day: str, ue: int) -> InboundCommand:
            return provider_inbound(
                handlers,
                "record-attendance.v1",
                ALPHA,
                attendance(course_id, people[person], day, ue),
            )

        return [
            provider_inbound(handlers, "enrol.v1", ALPHA, enrol_data(course_id, people[0])),
            provider_inbound(handlers, "enrol.v1", ALPHA, enrol_data(course_id, people[1])),
            attending(0, "2022-03-02", 5),
            attending(1, "2022-03-02", 4),  # the same day: its teaching is paid already
            attending(0, "2022-03-03", 6),  # 11 of 10 planned: refused
            attending(0, "2022-03-03", 3),
            provider_inbound(
                handlers,
                "drop-out.v1",
                ALPHA,
                {
                    "course_id": course_id,
                    "participant_id": str(people[1]),
                    "dropped_on": "2022-03-04",
                    "reason": "placed",
                },
            ),
            attending(1, "2022-03-05", 2),  # left the course: refused
            provider_inbound(handlers, "enrol.v1", ALPHA, enrol_data(course_id, people[2])),
            attending(2, "2022-03-05", 2),  # enrolled in this batch: counted
        ]

    async def run(course_id: str, *, batch: bool) -> tuple[list[Any], ...]:
        before = len(await outbox_messages(fresh_pool))
        outcomes = await (send_batch if batch else send_one_by_one)(handlers, commands(course_id))
        results = [(o.status, o.violation.reason if o.violation else None) for o in outcomes]
        events = [
            (m.type, m.data.get("participant_id"), m.data.get("ue"), m.data.get("amount_cents"))
            for m in await events_since(handlers, before)
        ]
        course = uuid.UUID(course_id)
        days = await fetch_rows(
            fresh_pool,
            "SELECT date, ue FROM course_days WHERE course_id = $1 ORDER BY date",
            course,
        )
        attended = await fetch_rows(
            fresh_pool,
            "SELECT participant_id, date, ue FROM attendance WHERE course_id = $1"
            " ORDER BY date, participant_id",
            course,
        )
        return results, events, days, attended, await standing(handlers, course_id)

    one_by_one = await run(await scheduled(handlers), batch=False)
    in_one_batch = await run(await scheduled(handlers), batch=True)

    assert [status for status, _ in one_by_one[0]] == [
        "accepted",
        "accepted",
        "accepted",
        "accepted",
        "rejected",
        "accepted",
        "accepted",
        "rejected",
        "accepted",
        "accepted",
    ], one_by_one[0]
    assert one_by_one[0][4][1] == ReasonCode.ATTENDANCE_BEYOND_PLAN
    assert [row["ue"] for row in one_by_one[2]] == [5, 3, 2]  # each day paid once
    funded = [event[2] for event in one_by_one[1] if event[0] == "course.funding-accrued.v1"]
    assert funded == [5, 3, 2]
    assert in_one_batch == one_by_one
