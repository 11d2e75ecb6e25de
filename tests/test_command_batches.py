"""A write service's polled batch: one transaction, and a failing command taken out alone.

Commands of a batch are carried out in one PostgreSQL transaction (`execute_batch`). A
command that fails in a way no rule foresaw aborts that transaction; the edge then carries
the batch out one command at a time, so the others are done exactly once and the failing
one is parked on the dead-letter topic (the real broker, with its ACLs) and answered
`internal-error`. The failure is injected into coaching's rules for one marked coach.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from pydantic import SecretStr
from tests.support import read_topic

from coaching.app import MIGRATIONS
from coaching.handlers import SERVICE, CoachingHandlers
from coaching.settings import CoachingSettings
from durchstarten.clock import Clock
from durchstarten.db.pool import create_pool
from durchstarten.events import Event
from durchstarten.events.coaching import RecordSession
from durchstarten.events.intake import ParticipantRegistered
from durchstarten.events.topics import (
    COACHING_EVENTS,
    INTAKE_EVENTS,
    dead_letters,
    inbound,
    outbound,
)
from durchstarten.messaging.access import service_principal
from durchstarten.messaging.commands import InboundCommand
from durchstarten.messaging.inbound import InboundEdge
from durchstarten.service import ServiceRuntime
from durchstarten_deploy.postgres import create_databases, with_database
from durchstarten_deploy.stack import Stack
from durchstarten_deploy.testing import (
    TEST_PROVIDERS,
    ConsumedRecord,
    counties_for_tests,
    event_record,
    example_event,
    fetch_rows,
    outbox_messages,
    provider_inbound,
)

pytestmark = [pytest.mark.integration]

ALPHA = TEST_PROVIDERS[0]
BROKEN_COACH = "coach-whose-session-breaks"


class BreaksForOneCoach(CoachingHandlers):
    """Coaching, with a fault no rule foresees in the sessions of one coach."""

    async def decide_and_save(
        self, connection: asyncpg.Connection, inbound: InboundCommand
    ) -> list[Event]:
        result = await super().decide_and_save(connection, inbound)
        if isinstance(inbound.command, RecordSession) and inbound.command.coach_id == BROKEN_COACH:
            # After the service wrote its rows: the batch's transaction must not keep them.
            msg = "a fault no rule foresaw"
            raise RuntimeError(msg)
        return result


@pytest_asyncio.fixture
async def coaching(stack: Stack) -> AsyncIterator[BreaksForOneCoach]:
    name = f"{stack.database_prefix}_batches_{random.randrange(10**6)}"
    await create_databases(stack.admin_url, [name], recreate=True)
    settings = CoachingSettings(
        database_url=SecretStr(with_database(stack.admin_url, name)),
        **stack.kafka_settings(service_principal(SERVICE)),
        providers=list(TEST_PROVIDERS),
        counties_dir=counties_for_tests(),
    )
    runtime = ServiceRuntime(
        service=SERVICE, settings=settings, migrations=MIGRATIONS, with_outbox_relay=True
    )
    pool = await create_pool(settings.database_url.get_secret_value())
    await runtime.attach_database(pool)
    await runtime.broker.connect()  # the dead letters go to the real broker
    try:
        yield BreaksForOneCoach(
            runtime,
            clock=Clock(date(2022, 6, 1)),
            sites={ALPHA: ["herford"]},
            hold_for=timedelta(minutes=5),
        )
    finally:
        await runtime.broker.stop()
        await pool.close()


def session(case_id: str, coach: str) -> dict[str, Any]:
    return {
        "session_id": str(uuid.uuid4()),
        "case_id": case_id,
        "date": "2022-03-09",
        "minutes": 60,
        "languages": ["de"],
        "topics": ["training-search"],
        "coach_id": coach,
    }


def parked_from(records: list[Any], topic: str, offset: int) -> list[dict[str, str]]:
    """The headers of the dead letters among `records` parked from `topic` at `offset`."""
    found = []
    for record in records:
        headers = {key: value.decode() for key, value in record.headers}
        if (headers.get("dlq-source-topic"), headers.get("dlq-source-offset")) == (
            topic,
            str(offset),
        ):
            found.append(headers)
    return found


async def test_a_failing_command_is_parked_alone_and_the_rest_of_its_batch_done_once(
    stack: Stack, coaching: BreaksForOneCoach
) -> None:
    participant_id = uuid.uuid4()
    registration = example_event(
        ParticipantRegistered, participant_id=str(participant_id), provider=ALPHA
    )
    await coaching.learn_batch([event_record(INTAKE_EVENTS, registration, service="intake")])
    case_id = str(uuid.uuid4())
    commands = [
        provider_inbound(
            coaching,
            "open-case.v1",
            ALPHA,
            {
                "case_id": case_id,
                "participant_id": str(participant_id),
                "module": "F1",
                "site": "herford",
                "opened_on": "2022-03-02",
            },
        ),
        provider_inbound(coaching, "record-session.v1", ALPHA, session(case_id, BROKEN_COACH)),
        provider_inbound(coaching, "record-session.v1", ALPHA, session(case_id, "coach-7")),
    ]
    topic = inbound(ALPHA, SERVICE)
    # Offsets no other test's records have on this topic: the dead letter is told by them.
    first_offset = random.randrange(10**9, 2 * 10**9)
    records = [
        ConsumedRecord(topic=topic, value=command.envelope.to_json(), offset=first_offset + n)
        for n, command in enumerate(commands)
    ]

    await InboundEdge(coaching).on_batch(records)

    pool = coaching.runtime.pool
    sessions = await fetch_rows(pool, "SELECT coach_id FROM sessions ORDER BY coach_id")
    assert sessions == [{"coach_id": "coach-7"}]
    messages = await outbox_messages(pool)
    assert [m.type for m in messages if m.topic == COACHING_EVENTS] == [
        "case.opened.v1",
        "case.session-recorded.v1",
    ]
    replies = {m.data["command_id"]: m for m in messages if m.topic == outbound(ALPHA, SERVICE)}
    assert len(replies) == 3
    assert replies[commands[0].envelope.id].type == "command.accepted.v1"
    assert replies[commands[2].envelope.id].type == "command.accepted.v1"
    broken = replies[commands[1].envelope.id]
    assert (broken.type, broken.data["reason"]) == ("command.rejected.v1", "internal-error")
    # The dead letter has no key (coaching's commands carry none): any partition.
    records = await read_topic(
        stack,
        dead_letters(topic),
        until=lambda found: parked_from(found, topic, first_offset + 1),
    )
    (parked,) = parked_from(records, topic, first_offset + 1)
    assert parked["dlq-error-class"] == "RuntimeError"
    assert parked["dlq-consumer"] == SERVICE
    # Its failed attempt left nothing behind, not even its id: sent again once the fault
    # is mended, it is new to the service, not a repeat answered with the parked failure.
    inbox = await fetch_rows(
        pool,
        "SELECT message_id FROM processed_messages WHERE consumer = $1",
        coaching.inbox,
    )
    assert {row["message_id"] for row in inbox} == {commands[0].dedupe_key, commands[2].dedupe_key}
