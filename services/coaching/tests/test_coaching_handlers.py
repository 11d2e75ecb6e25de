"""Coaching's command side against the real PostgreSQL, without Kafka.

Commands go in as a provider's system writes them and run through `CoachingHandlers.execute`;
intake's events come in through `learn_from` as the consumer hands them over. Each test
checks the outcome, the rows written, and the outbox: the events announced and the reply
on the provider's outbound topic.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from pydantic import SecretStr

from coaching.app import MIGRATIONS
from coaching.handlers import SERVICE, CoachingHandlers
from coaching.settings import CoachingSettings
from durchstarten.clock import Clock
from durchstarten.events import Event
from durchstarten.events.intake import (
    ConsentChanged,
    ParticipantErased,
    ParticipantExited,
    ParticipantRegistered,
    ProviderAssigned,
)
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.topics import COACHING_EVENTS, INTAKE_EVENTS, outbound
from durchstarten.service import ServiceRuntime
from durchstarten_deploy.testing import (
    TEST_PROVIDERS,
    ConsumedRecord,
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
ENTRY = date(2022, 3, 1)
SITES = {ALPHA: ["herford", "buende"], BETA: ["herford"]}
HOLD = timedelta(minutes=5)


def coaching_handlers(runtime: ServiceRuntime, *, hold_for: timedelta = HOLD) -> CoachingHandlers:
    return CoachingHandlers(runtime, clock=Clock(TODAY), sites=SITES, hold_for=hold_for)


@pytest_asyncio.fixture
async def handlers(fresh_database_url: str, fresh_pool: asyncpg.Pool) -> CoachingHandlers:
    settings = CoachingSettings(
        database_url=SecretStr(fresh_database_url),
        providers=list(TEST_PROVIDERS),
        counties_dir=counties_for_tests(),
        sites=SITES,
    )
    runtime = ServiceRuntime(
        service=SERVICE, settings=settings, migrations=MIGRATIONS, with_outbox_relay=True
    )
    await runtime.attach_database(fresh_pool)
    return coaching_handlers(runtime)


async def learn(handlers: CoachingHandlers, event: Event) -> None:
    await handlers.learn_from(event_record(INTAKE_EVENTS, event, service="intake"))


def registration(participant_id: uuid.UUID, provider: str = ALPHA) -> ConsumedRecord:
    """intake's announcement of a registration (each call a new event id), as consumed."""
    event = example_event(
        ParticipantRegistered,
        participant_id=str(participant_id),
        provider=provider,
        entry_date=ENTRY.isoformat(),
    )
    return event_record(INTAKE_EVENTS, event, service="intake")


async def registered(
    handlers: CoachingHandlers, provider: str = ALPHA, participant_id: uuid.UUID | None = None
) -> uuid.UUID:
    """A participant intake registered and coaching learnt of."""
    participant_id = participant_id or uuid.uuid4()
    await handlers.learn_from(registration(participant_id, provider))
    return participant_id


def open_case_data(participant_id: uuid.UUID, **changes: Any) -> dict[str, Any]:
    return {
        "case_id": str(uuid.uuid4()),
        "participant_id": str(participant_id),
        "module": "F1",
        "site": "buende",
        "opened_on": "2022-03-02",
    } | changes


async def opened_case(
    handlers: CoachingHandlers, participant_id: uuid.UUID, provider: str = ALPHA
) -> uuid.UUID:
    data = open_case_data(participant_id, site="herford")
    _, outcome = await send_command(handlers, "open-case.v1", provider, data)
    assert outcome.status == "accepted", outcome
    return uuid.UUID(data["case_id"])


def session_data(case_id: uuid.UUID, day: str = "2022-03-09") -> dict[str, Any]:
    return {
        "session_id": str(uuid.uuid4()),
        "case_id": str(case_id),
        "date": day,
        "minutes": 60,
        "languages": ["de", "ti"],
        "topics": ["training-search"],
        "coach_id": "coach-7",
    }


async def test_a_case_opens_for_a_known_participant_announced_and_confirmed(
    handlers: CoachingHandlers,
    fresh_pool: asyncpg.Pool,
) -> None:
    participant_id = await registered(handlers)
    data = open_case_data(participant_id)

    inbound, outcome = await send_command(handlers, "open-case.v1", ALPHA, data)

    assert outcome.status == "accepted"
    case_id = uuid.UUID(data["case_id"])
    assert await fetch_rows(fresh_pool, "SELECT * FROM cases") == [
        {
            "case_id": case_id,
            "participant_id": participant_id,
            "provider": ALPHA,
            "module": "F1",
            "site": "buende",
            "opened_on": date(2022, 3, 2),
            "closed_on": None,
            "close_reason": None,
        }
    ]
    opened, accepted = await outbox_messages(fresh_pool)
    assert (opened.topic, opened.type) == (COACHING_EVENTS, "case.opened.v1")
    assert opened.data["case_id"] == str(case_id)
    assert opened.data["provider"] == ALPHA
    assert (accepted.topic, accepted.type) == (outbound(ALPHA, SERVICE), "command.accepted.v1")
    assert accepted.data["command_id"] == inbound.envelope.id
    assert accepted.data["participant_id"] == str(participant_id)


async def test_opening_is_rejected_with_the_rules_reason_and_nothing_is_stored(
    handlers: CoachingHandlers,
    fresh_pool: asyncpg.Pool,
) -> None:
    participant_id = await registered(handlers)
    case_id = await opened_case(handlers, participant_id)
    before = await outbox_messages(fresh_pool)

    cases = [
        (open_case_data(participant_id), ReasonCode.CASE_ALREADY_OPEN, "data.module"),
        (
            open_case_data(participant_id, module="F6", site="bielefeld"),
            ReasonCode.UNKNOWN_SITE,
            "data.site",
        ),
        (
            open_case_data(participant_id, module="F6", opened_on="2022-02-28"),
            ReasonCode.DATE_BEFORE_ENTRY,
            "data.opened_on",
        ),
        (
            open_case_data(participant_id, module="F6", case_id=str(case_id)),
            ReasonCode.DUPLICATE_ID,
            "data.case_id",
        ),
    ]
    for data, reason, field in cases:
        inbound, outcome = await send_command(handlers, "open-case.v1", ALPHA, data)
        assert_rejected(outcome, reason)
        await handlers.execute(inbound)  # sent again: the same rejection, not a new verdict
        reply, repeated = await replies_to(handlers, inbound)
        assert reply.type == repeated.type == "command.rejected.v1"
        assert (reply.data["reason"], reply.data["field"]) == (reason.value, field)
        assert repeated.data == reply.data | {"repeat": True}

    assert [
        row["case_id"] for row in await fetch_rows(fresh_pool, "SELECT case_id FROM cases")
    ] == [case_id]
    after = await outbox_messages(fresh_pool)
    assert {m.type for m in after[len(before) :]} == {"command.rejected.v1"}  # no events


async def test_a_repeated_command_id_is_carried_out_once(
    handlers: CoachingHandlers, fresh_pool: asyncpg.Pool
) -> None:
    case_id = await opened_case(handlers, await registered(handlers))
    inbound = provider_inbound(handlers, "record-session.v1", ALPHA, session_data(case_id))

    first = await handlers.execute(inbound)
    written = await outbox_messages(fresh_pool)
    again = await handlers.execute(inbound)

    assert (first.status, again.status) == ("accepted", "duplicate")
    assert len(await fetch_rows(fresh_pool, "SELECT * FROM sessions")) == 1
    new = (await outbox_messages(fresh_pool))[len(written) :]
    assert [m.type for m in new] == ["command.accepted.v1"]  # no second event: the answer only
    original, repeated = await replies_to(handlers, inbound)
    assert repeated.data == original.data | {"repeat": True}
    assert await fetch_rows(
        fresh_pool,
        "SELECT message_id FROM processed_messages WHERE consumer = 'coaching.commands'"
        " AND message_id = $1",
        inbound.dedupe_key,
    ) == [{"message_id": inbound.dedupe_key}]


async def test_another_providers_case_is_refused_and_stays_untouched(
    handlers: CoachingHandlers,
    fresh_pool: asyncpg.Pool,
) -> None:
    case_id = await opened_case(handlers, await registered(handlers))
    impatient = coaching_handlers(handlers.runtime, hold_for=timedelta(0))

    # Held like a case not known yet, then refused as unknown when the hold expires.
    session, session_outcome = await send_command(
        impatient, "record-session.v1", BETA, session_data(case_id)
    )
    closing, closing_outcome = await send_command(
        impatient,
        "close-case.v1",
        BETA,
        {"case_id": str(case_id), "closed_on": "2022-06-01", "reason": "goal-reached"},
    )
    assert (session_outcome.status, closing_outcome.status) == ("held", "held")
    assert await impatient.retrier.retry_all() == 2

    for inbound in (session, closing):
        [reply] = await replies_to(handlers, inbound)
        assert reply.type == "command.rejected.v1"
        assert reply.topic == outbound(BETA, SERVICE)  # the sender hears, the owner does not
        assert (reply.data["reason"], reply.data["field"]) == ("unknown-case", "data.case_id")
    assert await fetch_rows(fresh_pool, "SELECT * FROM sessions") == []
    assert await fetch_rows(fresh_pool, "SELECT closed_on FROM cases") == [{"closed_on": None}]


async def test_a_command_about_an_unknown_participant_is_held_until_intake_tells(
    handlers: CoachingHandlers,
    fresh_pool: asyncpg.Pool,
) -> None:
    participant_id = uuid.uuid4()
    inbound, outcome = await send_command(
        handlers, "open-case.v1", ALPHA, open_case_data(participant_id)
    )

    assert outcome.status == "held"
    assert await fetch_rows(fresh_pool, "SELECT waiting_for FROM held_commands") == [
        {"waiting_for": f"participant:{participant_id}"}
    ]
    assert await fetch_rows(fresh_pool, "SELECT * FROM cases") == []
    assert await outbox_messages(fresh_pool) == []  # no answer yet
    assert (await handlers.execute(inbound)).status == "duplicate"  # sent again while held
    assert await outbox_messages(fresh_pool) == []  # still none: the answer comes with the decision

    await registered(handlers, participant_id=participant_id)
    assert await handlers.retrier.retry_all() == 1

    assert await fetch_rows(fresh_pool, "SELECT participant_id FROM cases") == [
        {"participant_id": participant_id}
    ]
    assert await fetch_rows(fresh_pool, "SELECT * FROM held_commands") == []
    assert [m.type for m in await outbox_messages(fresh_pool)] == [
        "case.opened.v1",
        "command.accepted.v1",
    ]
    assert len(await replies_to(handlers, inbound)) == 1


async def test_the_same_event_learnt_twice_is_kept_once(
    handlers: CoachingHandlers, fresh_pool: asyncpg.Pool
) -> None:
    participant_id = uuid.uuid4()
    record = registration(participant_id)

    await handlers.learn_from(record)
    await handlers.learn_from(record)

    assert await fetch_rows(
        fresh_pool, "SELECT participant_id, provider FROM participant_access"
    ) == [{"participant_id": participant_id, "provider": ALPHA}]
    assert await fetch_rows(
        fresh_pool,
        "SELECT count(*) AS n FROM processed_messages WHERE consumer = 'coaching.learnt-events'",
    ) == [{"n": 1}]


async def test_a_hold_that_expires_is_rejected_as_unknown_participant(
    handlers: CoachingHandlers,
    fresh_pool: asyncpg.Pool,
) -> None:
    impatient = coaching_handlers(handlers.runtime, hold_for=timedelta(0))
    inbound, outcome = await send_command(
        impatient, "open-case.v1", ALPHA, open_case_data(uuid.uuid4())
    )
    assert outcome.status == "held"

    assert await impatient.retrier.retry_all() == 1

    [reply] = await replies_to(handlers, inbound)
    assert reply.type == "command.rejected.v1"
    assert (reply.data["reason"], reply.data["field"]) == (
        "unknown-participant",
        "data.participant_id",
    )
    assert await fetch_rows(fresh_pool, "SELECT * FROM held_commands") == []
    assert await fetch_rows(fresh_pool, "SELECT * FROM cases") == []


async def test_an_accepted_referral_lets_the_receiving_provider_open_a_case(
    handlers: CoachingHandlers,
    fresh_pool: asyncpg.Pool,
) -> None:
    participant_id = await registered(handlers, ALPHA)
    case_id = await opened_case(handlers, participant_id, ALPHA)
    impatient = coaching_handlers(handlers.runtime, hold_for=timedelta(0))
    refused, refused_outcome = await send_command(
        impatient, "open-case.v1", BETA, open_case_data(participant_id, site="herford")
    )
    assert refused_outcome.status == "held"  # exactly as for an unknown participant
    assert await impatient.retrier.retry_all() == 1

    referral_id = str(uuid.uuid4())
    _, made = await send_command(
        handlers,
        "make-referral.v1",
        ALPHA,
        {
            "referral_id": referral_id,
            "case_id": str(case_id),
            "made_on": "2022-04-01",
            "target": {"kind": "provider", "provider": BETA},
        },
    )
    answer = {"referral_id": referral_id, "answer": "accepted", "answered_on": "2022-04-05"}
    _, by_sender = await send_command(handlers, "answer-referral.v1", ALPHA, answer)
    _, by_receiver = await send_command(handlers, "answer-referral.v1", BETA, answer)
    _, opened = await send_command(
        handlers, "open-case.v1", BETA, open_case_data(participant_id, module="F6", site="herford")
    )

    assert made.status == "accepted"
    assert_rejected(by_sender, ReasonCode.NOT_REFERRAL_RECIPIENT)
    assert (by_receiver.status, opened.status) == ("accepted", "accepted")
    assert await fetch_rows(
        fresh_pool,
        "SELECT answer, answered_by FROM referrals WHERE referral_id = $1",
        uuid.UUID(referral_id),
    ) == [{"answer": "accepted", "answered_by": BETA}]
    assert await fetch_rows(
        fresh_pool, "SELECT provider FROM participant_access ORDER BY provider"
    ) == [
        {"provider": ALPHA},
        {"provider": BETA},
    ]
    assert await fetch_rows(fresh_pool, "SELECT provider FROM cases ORDER BY provider") == [
        {"provider": ALPHA},
        {"provider": BETA},
    ]
    events = [m.type for m in await outbox_messages(fresh_pool) if m.topic == COACHING_EVENTS]
    assert events == [
        "case.opened.v1",
        "case.referral-made.v1",
        "case.referral-answered.v1",
        "case.opened.v1",
    ]
    assert (await replies_to(handlers, refused))[0].data["reason"] == "unknown-participant"


async def test_follow_ups_wait_for_the_exit_and_keep_to_their_window(
    handlers: CoachingHandlers,
    fresh_pool: asyncpg.Pool,
) -> None:
    participant_id = await registered(handlers)
    case_id = await opened_case(handlers, participant_id)

    def follow_up(observed_on: str) -> dict[str, Any]:
        return {
            "case_id": str(case_id),
            "window": "4-weeks",
            "observed_on": observed_on,
            "category": "ausbildung-company",
        }

    _, too_soon = await send_command(
        handlers, "record-follow-up.v1", ALPHA, follow_up("2023-01-10")
    )
    assert_rejected(too_soon, ReasonCode.NO_EXIT_YET)

    exited = example_event(
        ParticipantExited,
        participant_id=str(participant_id),
        provider=ALPHA,
        exit_date="2022-12-31",
    )
    await learn(handlers, exited)
    assert await fetch_rows(
        fresh_pool, "SELECT time_window, due_on FROM follow_up_tasks ORDER BY due_on"
    ) == [
        {"time_window": "4-weeks", "due_on": date(2023, 1, 28)},
        {"time_window": "6-months", "due_on": date(2023, 7, 1)},
    ]

    _, outside = await send_command(handlers, "record-follow-up.v1", ALPHA, follow_up("2023-03-01"))
    _, inside = await send_command(handlers, "record-follow-up.v1", ALPHA, follow_up("2023-01-10"))

    assert_rejected(outside, ReasonCode.OUTSIDE_FOLLOW_UP_WINDOW)
    assert inside.status == "accepted"
    assert await fetch_rows(fresh_pool, "SELECT time_window, observed_on FROM follow_ups") == [
        {"time_window": "4-weeks", "observed_on": date(2023, 1, 10)}
    ]


async def test_erasure_removes_the_persons_rows_and_a_replay_does_not_bring_them_back(
    handlers: CoachingHandlers,
    fresh_pool: asyncpg.Pool,
) -> None:
    participant_id = await registered(handlers)
    case_id = await opened_case(handlers, participant_id)
    _, session = await send_command(handlers, "record-session.v1", ALPHA, session_data(case_id))
    assert session.status == "accepted"

    await learn(handlers, example_event(ParticipantErased, participant_id=str(participant_id)))
    # A new event id: intake published the registration again (a replay, a restored backup).
    await handlers.learn_from(registration(participant_id))

    for table in ("participants", "participant_access", "cases", "sessions"):
        assert await fetch_rows(fresh_pool, f"SELECT * FROM {table}") == [], table  # noqa: S608  # our names
    assert await fetch_rows(fresh_pool, "SELECT participant_id FROM erased_participants") == [
        {"participant_id": participant_id}
    ]


async def test_every_id_bearing_command_answers_another_providers_ids_as_unknown(
    handlers: CoachingHandlers,
    fresh_pool: asyncpg.Pool,
) -> None:
    participant_id = await registered(handlers, ALPHA)
    case_id = await opened_case(handlers, participant_id, ALPHA)
    referral_id = str(uuid.uuid4())
    _, made = await send_command(
        handlers,
        "make-referral.v1",
        ALPHA,
        {
            "referral_id": referral_id,
            "case_id": str(case_id),
            "made_on": "2022-04-01",
            "target": {"kind": "course-type", "course_type": "jugendintegrationskurs"},
        },
    )
    assert made.status == "accepted"
    await learn(
        handlers,
        example_event(
            ParticipantExited,
            participant_id=str(participant_id),
            provider=ALPHA,
            exit_date="2022-12-31",
        ),
    )
    impatient = coaching_handlers(handlers.runtime, hold_for=timedelta(0))
    case = {"case_id": str(case_id)}
    commands: list[tuple[str, dict[str, Any], str]] = [
        ("open-case.v1", open_case_data(participant_id, site="herford"), "participant_id"),
        ("record-session.v1", session_data(case_id), "case_id"),
        (
            "make-referral.v1",
            case
            | {
                "referral_id": str(uuid.uuid4()),
                "made_on": "2022-04-02",
                "target": {"kind": "regular-service", "service": "jobcenter"},
            },
            "case_id",
        ),
        (
            "answer-referral.v1",
            {"referral_id": referral_id, "answer": "accepted", "answered_on": "2022-04-05"},
            "referral_id",
        ),
        (
            "record-placement.v1",
            case
            | {
                "placement_id": str(uuid.uuid4()),
                "category": "ausbildung-company",
                "start_date": "2022-09-01",
            },
            "case_id",
        ),
        (
            "record-follow-up.v1",
            case
            | {"window": "4-weeks", "observed_on": "2023-01-10", "category": "ausbildung-company"},
            "case_id",
        ),
        ("close-case.v1", case | {"closed_on": "2022-06-01", "reason": "goal-reached"}, "case_id"),
    ]
    before_rows = await domain_rows(fresh_pool)
    before = len(await outbox_messages(fresh_pool))

    id_fields = {type_: id_field for type_, _, id_field in commands}
    pairs = []
    for type_, data, id_field in commands:
        foreign, foreign_outcome = await send_command(impatient, type_, BETA, data)
        unknown, unknown_outcome = await send_command(
            impatient, type_, BETA, data | {id_field: str(uuid.uuid4())}
        )
        assert (foreign_outcome.status, unknown_outcome.status) == ("held", "held"), type_
        pairs.append((type_, foreign, unknown))
    assert await impatient.retrier.retry_all() == 2 * len(commands)

    for type_, foreign, unknown in pairs:
        [foreign_reply] = await replies_to(handlers, foreign)
        [unknown_reply] = await replies_to(handlers, unknown)
        assert foreign_reply.topic == unknown_reply.topic == outbound(BETA, SERVICE), type_
        assert foreign_reply.type == unknown_reply.type == "command.rejected.v1", type_
        assert {k: v for k, v in foreign_reply.data.items() if k != "command_id"} == {
            k: v for k, v in unknown_reply.data.items() if k != "command_id"
        }, type_
        what = id_fields[type_].removesuffix("_id")
        assert (foreign_reply.data["reason"], foreign_reply.data["field"]) == (
            f"unknown-{what}",
            f"data.{what}_id",
        ), type_
    assert await domain_rows(fresh_pool) == before_rows  # nothing written
    added = (await outbox_messages(fresh_pool))[before:]
    assert {m.type for m in added} == {"command.rejected.v1"}
    assert await fetch_rows(fresh_pool, "SELECT * FROM held_commands") == []


async def test_an_assignment_announced_before_the_registration_still_lets_the_provider_in(
    handlers: CoachingHandlers,
    fresh_pool: asyncpg.Pool,
) -> None:
    # A sure duplicate of a registration that waits for an eligibility exception: intake
    # announces the assignment at once, the registration only once a coordinator approves.
    participant_id = uuid.uuid4()
    assigned = example_event(ProviderAssigned, participant_id=str(participant_id), provider=BETA)
    await learn(handlers, assigned)
    await registered(handlers, ALPHA, participant_id)

    _, opened = await send_command(
        handlers, "open-case.v1", BETA, open_case_data(participant_id, site="herford")
    )

    assert opened.status == "accepted"
    assert await fetch_rows(
        fresh_pool, "SELECT provider FROM participant_access ORDER BY provider"
    ) == [{"provider": ALPHA}, {"provider": BETA}]


def referral_to(case_id: uuid.UUID, provider: str, made_on: str = "2022-04-01") -> dict[str, Any]:
    return {
        "referral_id": str(uuid.uuid4()),
        "case_id": str(case_id),
        "made_on": made_on,
        "target": {"kind": "provider", "provider": provider},
    }


def consent_changed(participant_id: uuid.UUID, **changes: Any) -> Event:
    """intake's announcement of what holds now of the person's consent."""
    return example_event(
        ConsentChanged,
        participant_id=str(participant_id),
        registered_by=ALPHA,
        **{"changed_on": "2022-06-01", "consent": None, "overrides": []} | changes,
    )


async def test_a_referral_to_another_provider_needs_consent_and_its_withdrawal_revokes_access(
    handlers: CoachingHandlers, fresh_pool: asyncpg.Pool
) -> None:
    participant_id = uuid.uuid4()
    unconsented = example_event(
        ParticipantRegistered,
        participant_id=str(participant_id),
        provider=ALPHA,
        entry_date=ENTRY.isoformat(),
        consent=None,
    )
    await learn(handlers, unconsented)
    case_id = await opened_case(handlers, participant_id, ALPHA)
    _, refused = await send_command(handlers, "make-referral.v1", ALPHA, referral_to(case_id, BETA))
    assert_rejected(refused, ReasonCode.CONSENT_REQUIRED)
    # A coordinator's override for BETA lets the referral through, for its days only.
    await learn(
        handlers,
        consent_changed(participant_id, overrides=[{"provider": BETA, "until": "2024-01-20"}]),
    )
    referral = referral_to(case_id, BETA, made_on="2022-04-02")
    _, made = await send_command(handlers, "make-referral.v1", ALPHA, referral)
    assert made.status == "accepted", made
    answer = {"referral_id": referral["referral_id"], "answer": "accepted"}
    handlers.clock = Clock(date(2024, 1, 21))  # the override has ended: backdating won't help
    _, late = await send_command(
        handlers, "answer-referral.v1", BETA, answer | {"answered_on": "2022-04-05"}
    )
    assert_rejected(late, ReasonCode.CONSENT_REQUIRED)
    handlers.clock = Clock(TODAY)
    _, accepted = await send_command(
        handlers, "answer-referral.v1", BETA, answer | {"answered_on": "2022-04-05"}
    )
    assert accepted.status == "accepted", accepted
    access = "SELECT provider FROM participant_access ORDER BY provider"
    assert await fetch_rows(fresh_pool, access) == [{"provider": ALPHA}, {"provider": BETA}]
    # Consent to nothing, no override any more: BETA loses access, ALPHA keeps it.
    await learn(handlers, consent_changed(participant_id))
    assert await fetch_rows(fresh_pool, access) == [{"provider": ALPHA}]


async def test_with_consent_to_sharing_a_referral_to_another_provider_takes_effect(
    handlers: CoachingHandlers, fresh_pool: asyncpg.Pool
) -> None:
    participant_id = await registered(handlers, ALPHA)  # the example consents to sharing
    case_id = await opened_case(handlers, participant_id, ALPHA)
    _, made = await send_command(handlers, "make-referral.v1", ALPHA, referral_to(case_id, BETA))
    assert made.status == "accepted", made
    # Consent that expired before the day of a later referral: refused.
    expired = {"scopes": ["data-sharing-between-providers"], "given_on": "2022-03-01"}
    await learn(
        handlers,
        consent_changed(
            participant_id, consent=expired | {"expires_on": "2023-12-31"}, changed_on="2023-12-01"
        ),
    )
    later = referral_to(case_id, BETA, made_on="2022-05-02")
    _, refused = await send_command(handlers, "make-referral.v1", ALPHA, later)
    assert_rejected(refused, ReasonCode.CONSENT_REQUIRED)


async def test_one_batch_opens_a_case_and_records_into_it_as_one_command_after_another(
    handlers: CoachingHandlers, fresh_pool: asyncpg.Pool
) -> None:
    """A case opened and used in the same batch; another provider's session still refused.

    The same commands go once one at a time and once as one polled batch, each run about
    a person of its own; outcomes, sessions and announced events must be the same.
    """

    async def run(*, batch: bool) -> tuple[list[Any], list[str], int]:
        participant_id = await registered(handlers)
        opening = open_case_data(participant_id)
        case_id = uuid.UUID(opening["case_id"])
        first_session = provider_inbound(
            handlers, "record-session.v1", ALPHA, session_data(case_id)
        )
        sent = [
            provider_inbound(handlers, "open-case.v1", ALPHA, opening),
            first_session,
            # another provider's: the case is not known to it (it waits, then is refused)
            provider_inbound(handlers, "record-session.v1", BETA, session_data(case_id)),
            first_session,  # sent again
            provider_inbound(handlers, "record-session.v1", ALPHA, session_data(uuid.uuid4())),
            provider_inbound(
                handlers, "record-session.v1", ALPHA, session_data(case_id, "2022-03-16")
            ),
        ]
        before = len(await outbox_messages(fresh_pool))
        outcomes = await (send_batch if batch else send_one_by_one)(handlers, sent)
        results = [(o.status, o.violation.reason if o.violation else None) for o in outcomes]
        messages = (await outbox_messages(fresh_pool))[before:]
        events = [m.type for m in messages if m.topic == COACHING_EVENTS]
        sessions = await fetch_rows(
            fresh_pool, "SELECT 1 FROM sessions WHERE case_id = $1", case_id
        )
        return results, events, len(sessions)

    one_by_one = await run(batch=False)
    in_one_batch = await run(batch=True)

    assert [status for status, _ in one_by_one[0]] == [
        "accepted",
        "accepted",
        "held",
        "duplicate",
        "held",
        "accepted",
    ]
    assert one_by_one[2] == 2
    assert in_one_batch == one_by_one


async def test_what_a_batch_reads_ahead_is_kept_up_to_date_by_its_own_commands(
    handlers: CoachingHandlers, fresh_pool: asyncpg.Pool
) -> None:
    """The cases, open modules and session ids read once for the batch change as it runs.

    A session id stored before the batch, one used twice within it, a second case in a
    module the batch opened, a case opened before and opened again, a session after the
    batch closed its case: each decided as one at a time decides it, with the same rows.
    """

    async def run(*, batch: bool) -> tuple[list[Any], list[str], int, list[Any]]:
        participant_id = await registered(handlers)
        earlier_case = await opened_case(handlers, participant_id)
        stored = session_data(earlier_case)
        _, first = await send_command(handlers, "record-session.v1", ALPHA, stored)
        assert first.status == "accepted"
        other = await registered(handlers)
        opening = open_case_data(other, module="F1")
        case_id = uuid.UUID(opening["case_id"])
        twice = session_data(case_id)
        sent = [
            # the session id stored before the batch, in a new command
            provider_inbound(handlers, "record-session.v1", ALPHA, stored),
            provider_inbound(handlers, "open-case.v1", ALPHA, opening),
            provider_inbound(handlers, "record-session.v1", ALPHA, twice),
            # the same session id again, in another command of the same batch
            provider_inbound(handlers, "record-session.v1", ALPHA, twice | {"minutes": 30}),
            # a second F1 case for the person the batch opened one for
            provider_inbound(handlers, "open-case.v1", ALPHA, open_case_data(other)),
            # a case stored before the batch, opened again
            provider_inbound(
                handlers,
                "open-case.v1",
                ALPHA,
                open_case_data(participant_id) | {"case_id": str(earlier_case)},
            ),
            provider_inbound(
                handlers,
                "close-case.v1",
                ALPHA,
                {"case_id": str(case_id), "closed_on": "2022-06-01", "reason": "goal-reached"},
            ),
            provider_inbound(
                handlers, "record-session.v1", ALPHA, session_data(case_id, "2022-07-01")
            ),
            # after the close, F1 is open again for the person
            provider_inbound(handlers, "open-case.v1", ALPHA, open_case_data(other)),
        ]
        before = len(await outbox_messages(fresh_pool))
        outcomes = await (send_batch if batch else send_one_by_one)(handlers, sent)
        results = [(o.status, o.violation.reason if o.violation else None) for o in outcomes]
        messages = (await outbox_messages(fresh_pool))[before:]
        events = [m.type for m in messages if m.topic == COACHING_EVENTS]
        sessions = await fetch_rows(
            fresh_pool,
            "SELECT 1 FROM sessions WHERE case_id = ANY($1::uuid[])",
            [case_id, earlier_case],
        )
        cases = await fetch_rows(
            fresh_pool,
            "SELECT module, closed_on FROM cases WHERE participant_id = $1"
            " ORDER BY closed_on NULLS LAST",
            other,
        )
        return results, events, len(sessions), [tuple(case.values()) for case in cases]

    one_by_one = await run(batch=False)
    in_one_batch = await run(batch=True)

    statuses = [status for status, _ in one_by_one[0]]
    assert statuses == [
        "rejected",  # the stored session id
        "accepted",
        "accepted",
        "rejected",  # the session id used twice
        "rejected",  # F1 open already
        "rejected",  # the case id exists
        "accepted",  # closed
        "rejected",  # into a closed case
        "accepted",  # F1 again, after the close
    ], one_by_one[0]
    assert one_by_one[2] == 2  # the session stored before and the batch's first
    # the case the batch opened and closed, and the one it opened after
    assert one_by_one[3] == [("F1", date(2022, 6, 1)), ("F1", None)]
    assert in_one_batch == one_by_one
