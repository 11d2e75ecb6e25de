"""Intake's command side against the real PostgreSQL, without Kafka.

Commands go in as a provider's system (or a coordinator, over HTTP) sends them and run
through `IntakeHandlers.execute`; DTZ results come in through `learn_from` as the consumer
hands them over. Each test checks the outcome, the rows written and the outbox: the events
announced on `intake.events` and the replies on the provider's outbound topic.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import asyncpg
import pytest

from durchstarten.events.courses import ExamResultRecorded
from durchstarten.events.intake import (
    DuplicateConfirmed,
    EligibilityExceptionApproved,
    ProviderAssigned,
)
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.topics import COURSES_EVENTS, INTAKE_EVENTS, outbound
from durchstarten.messaging.commands import parse_command
from durchstarten_deploy.testing import (
    COORDINATOR,
    REGISTER,
    TEST_PROVIDERS,
    OutboxMessage,
    assert_rejected,
    domain_rows,
    event_record,
    example_event,
    fetch_rows,
    new_person,
    outbox_messages,
    provider_inbound,
    registered,
    replies_to,
    send_as_coordinator,
    send_batch,
    send_command,
    send_one_by_one,
)
from intake import identities
from intake.handlers import SERVICE, IntakeHandlers
from intake.keystore import KeyStore

pytestmark = [pytest.mark.integration, pytest.mark.database]  # PostgreSQL only, no broker

ALPHA, BETA = TEST_PROVIDERS
TODAY = date(2022, 6, 1)


def on_intake_events(messages: list[OutboxMessage]) -> list[str]:
    return [m.type for m in messages if m.topic == INTAKE_EVENTS]


async def test_a_registration_is_stored_sealed_announced_and_answered(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    data = new_person()
    inbound, outcome = await send_command(handlers, REGISTER, ALPHA, data)
    assert outcome.status == "accepted"
    assert outcome.decision is not None
    assert outcome.decision.status == "registered"
    pid = str(outcome.decision.participant)
    (row,) = await fetch_rows(fresh_pool, "SELECT status, provider FROM participants")
    assert row == {"status": "registered", "provider": ALPHA}
    (sealed,) = await fetch_rows(fresh_pool, "SELECT ciphertext FROM identities")
    assert data["given_name"].encode() not in sealed["ciphertext"]
    messages = await outbox_messages(fresh_pool)
    (announced,) = [m for m in messages if m.topic == INTAKE_EVENTS]
    assert announced.type == "participant.registered.v3"
    assert announced.data["participant_id"] == pid
    assert data["given_name"] not in str(announced.data)
    (reply,) = await replies_to(handlers, inbound)
    assert reply.type == "command.accepted.v1"
    assert reply.data["status"] == "registered"
    assert reply.data.get("provider_reference") is None  # replies carry no identifier
    actions = [r["action"] for r in await fetch_rows(fresh_pool, "SELECT action FROM audit_trail")]
    assert actions == ["identity.write"]


async def test_a_command_sent_twice_is_carried_out_once_and_answered_alike(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    inbound = provider_inbound(handlers, REGISTER, ALPHA, new_person())
    first = await handlers.execute(inbound)
    again = await handlers.execute(inbound)
    assert again.status == "duplicate"
    assert first.decision is not None
    assert again.decision is not None
    assert again.decision.participant == first.decision.participant
    assert again.decision.status == first.decision.status
    assert len(await fetch_rows(fresh_pool, "SELECT 1 FROM participants")) == 1
    assert on_intake_events(await outbox_messages(fresh_pool)) == ["participant.registered.v3"]
    original, repeated = await replies_to(handlers, inbound)
    # The provider that sent it again gets the first answer again, marked as a repeat.
    assert original.type == repeated.type == "command.accepted.v1"
    assert original.data["repeat"] is False
    assert repeated.data == original.data | {"repeat": True}


async def test_the_same_id_with_other_data_is_refused_and_the_first_command_stands(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    inbound = provider_inbound(handlers, REGISTER, ALPHA, new_person())
    first = await handlers.execute(inbound)
    wire = json.loads(inbound.envelope.to_json())
    other = parse_command(
        json.dumps(wire | {"data": new_person()}).encode(),
        provider=ALPHA,
        accepted=handlers.accepted,
    )
    assert other.envelope.id == inbound.envelope.id
    refused = await handlers.execute(other)
    plain_again = await handlers.execute(inbound)

    assert first.status == "accepted"
    assert refused.status == "rejected"
    assert plain_again.status == "duplicate"
    assert len(await fetch_rows(fresh_pool, "SELECT 1 FROM participants")) == 1
    original, refusal, repeated = await replies_to(handlers, inbound)
    assert refusal.type == "command.rejected.v1"
    assert refusal.data["reason"] == "id-reused-with-different-data"
    assert refusal.data["repeat"] is False
    # The refusal did not replace the first answer: sent again, the command still gets it.
    assert repeated.data == original.data | {"repeat": True}


async def test_a_persons_answers_go_with_their_erasure(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    pid = await registered(handlers, ALPHA)
    kept = (
        "SELECT reply->'data'->>'command_type' AS command FROM command_answers"
        " WHERE participant_id = $1"
    )
    assert await fetch_rows(fresh_pool, kept, uuid.UUID(pid)) == [{"command": REGISTER}]
    erase = {"participant_id": pid, "reason": "participant-request"}
    _, erased = await send_command(handlers, "request-erasure.v1", ALPHA, erase)
    assert erased.status == "accepted"
    # The registration's answer (a hash of who they are) went; the erasure's own, which
    # names only the pseudonym, stays for the inbound topic's period like the command.
    assert await fetch_rows(fresh_pool, kept, uuid.UUID(pid)) == [{"command": "request-erasure.v1"}]


async def test_the_same_person_from_a_second_provider_joins_the_first_registration(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    names = {"given_name": "Testvornameqx", "family_name": "Familientestnamezv"}
    first = await registered(handlers, ALPHA, **names)
    inbound, outcome = await send_command(handlers, REGISTER, BETA, new_person(**names))
    assert outcome.decision is not None
    assert outcome.decision.status == "existing-participant"
    assert str(outcome.decision.participant) == first
    assert len(await fetch_rows(fresh_pool, "SELECT 1 FROM participants")) == 1
    links = await fetch_rows(
        fresh_pool, "SELECT provider, relation FROM provider_links ORDER BY relation DESC"
    )
    assert links == [
        {"provider": ALPHA, "relation": "registered"},
        {"provider": BETA, "relation": "assigned"},
    ]
    messages = await outbox_messages(fresh_pool)
    assert on_intake_events(messages) == ["participant.registered.v3", ProviderAssigned.event_type]
    (reply,) = await replies_to(handlers, inbound)
    assert reply.data["participant_id"] == first
    assert reply.topic == outbound(BETA, SERVICE)


async def test_a_similar_person_is_registered_and_put_to_a_coordinator(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    first = await registered(
        handlers, ALPHA, given_name="Testvornameqx", family_name="Familientestnamezv"
    )
    # Same names, but the birth date's day and month swapped: perhaps the same person.
    _, outcome = await send_command(
        handlers,
        REGISTER,
        BETA,
        new_person(
            given_name="Testvornameqx", family_name="Familientestnamezv", birth_date="2001-04-05"
        ),
    )
    assert outcome.decision is not None
    assert outcome.decision.status == "possible-duplicate"
    second = str(outcome.decision.participant)
    reviews = await fetch_rows(
        fresh_pool, "SELECT participant_id::text, candidate_id::text, status FROM duplicate_reviews"
    )
    assert reviews == [{"participant_id": second, "candidate_id": first, "status": "open"}]
    _, resolved = await send_as_coordinator(
        handlers,
        "resolve-duplicate.v1",
        {
            "participant_id": second,
            "duplicate_of": first,
            "decision": "confirmed",
            "decided_by": COORDINATOR.subject,
        },
    )
    assert resolved.status == "accepted"
    assert on_intake_events(await outbox_messages(fresh_pool))[-1] == DuplicateConfirmed.event_type
    _, again = await send_as_coordinator(
        handlers,
        "resolve-duplicate.v1",
        {
            "participant_id": second,
            "duplicate_of": first,
            "decision": "rejected",
            "decided_by": COORDINATOR.subject,
        },
    )
    assert_rejected(again, ReasonCode.NO_DUPLICATE_REVIEW)


async def test_an_ineligible_person_is_rejected_naming_every_rule_and_nothing_is_kept(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    data = new_person(birth_date="1990-01-01", lives_in_state_reception_facility=True)
    inbound, outcome = await send_command(handlers, REGISTER, ALPHA, data)
    assert_rejected(outcome, ReasonCode.NOT_ELIGIBLE)
    assert await fetch_rows(fresh_pool, "SELECT 1 FROM participants") == []
    assert await fetch_rows(fresh_pool, "SELECT 1 FROM identities") == []
    (reply,) = await replies_to(handlers, inbound)
    assert reply.type == "command.rejected.v1"
    assert {r["reason"] for r in reply.data["failed_rules"]} == {
        "age-above-maximum",
        "lives-in-state-reception-facility",
    }
    assert on_intake_events(await outbox_messages(fresh_pool)) == []


async def test_an_exception_waits_for_the_coordinator_who_alone_may_approve_it(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    _, outcome = await send_command(handlers, REGISTER, ALPHA, new_person(birth_date="1990-01-01"))
    assert outcome.decision is not None
    assert outcome.decision.status == "pending-exception"
    assert [r.reason for r in outcome.decision.failed_rules] == ["age-above-maximum"]
    pid = str(outcome.decision.participant)
    assert on_intake_events(await outbox_messages(fresh_pool)) == []
    approval = {
        "participant_id": pid,
        "rules": ["age"],
        "reason": "Begründung",
        "approver": COORDINATOR.subject,
    }
    _, by_provider = await send_command(
        handlers, "approve-eligibility-exception.v1", ALPHA, approval
    )
    assert_rejected(by_provider, ReasonCode.FORBIDDEN_ROLE)
    _, approved = await send_as_coordinator(handlers, "approve-eligibility-exception.v1", approval)
    assert approved.status == "accepted"
    assert on_intake_events(await outbox_messages(fresh_pool)) == [
        EligibilityExceptionApproved.event_type,
        "participant.registered.v3",
    ]
    (row,) = await fetch_rows(fresh_pool, "SELECT status FROM participants")
    assert row["status"] == "registered"


async def test_a_denied_exception_erases_the_identity_and_answers_the_provider(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool, key_store: KeyStore
) -> None:
    _, outcome = await send_command(handlers, REGISTER, ALPHA, new_person(birth_date="1990-01-01"))
    assert outcome.decision is not None
    pid = str(outcome.decision.participant)
    denial = {"participant_id": pid, "reason": "Begründung", "approver": COORDINATOR.subject}
    _, denied = await send_as_coordinator(handlers, "deny-eligibility-exception.v1", denial)
    assert denied.status == "accepted"
    (row,) = await fetch_rows(fresh_pool, "SELECT status FROM participants")
    assert row["status"] == "denied"
    assert await fetch_rows(fresh_pool, "SELECT 1 FROM identities") == []
    assert await fetch_rows(key_store.pool, "SELECT 1 FROM participant_keys") == []
    told = [
        m
        for m in await outbox_messages(fresh_pool)
        if m.topic == outbound(ALPHA, SERVICE) and m.type == "command.rejected.v1"
    ]
    assert [m.data["reason"] for m in told] == ["eligibility-exception-denied"]
    _, twice = await send_as_coordinator(handlers, "deny-eligibility-exception.v1", denial)
    assert_rejected(twice, ReasonCode.NO_EXCEPTION_PENDING)


async def test_another_provider_can_neither_exit_nor_erase_nor_tell_the_person_exists(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    pid = await registered(handlers, ALPHA)
    exit_data = {"participant_id": pid, "exit_date": "2022-05-31", "reason": "placed"}
    _, foreign = await send_command(handlers, "record-programme-exit.v1", BETA, exit_data)
    _, missing = await send_command(
        handlers,
        "record-programme-exit.v1",
        BETA,
        exit_data | {"participant_id": str(uuid.uuid4())},
    )
    assert_rejected(foreign, ReasonCode.UNKNOWN_PARTICIPANT)
    assert foreign.violation == missing.violation
    erase = {"participant_id": pid, "reason": "participant-request"}
    _, refused = await send_command(handlers, "request-erasure.v1", BETA, erase)
    assert_rejected(refused, ReasonCode.UNKNOWN_PARTICIPANT)
    assert len(await fetch_rows(fresh_pool, "SELECT 1 FROM identities")) == 1
    assert on_intake_events(await outbox_messages(fresh_pool)) == ["participant.registered.v3"]
    _, own = await send_command(handlers, "record-programme-exit.v1", ALPHA, exit_data)
    assert own.status == "accepted"
    _, again = await send_command(handlers, "record-programme-exit.v1", ALPHA, exit_data)
    assert_rejected(again, ReasonCode.ALREADY_EXITED)


async def test_erasure_shreds_the_identity_once_and_is_announced_once(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool, key_store: KeyStore
) -> None:
    pid = await registered(handlers, ALPHA)
    other = await registered(handlers, ALPHA)
    erase = {"participant_id": pid, "reason": "participant-request"}
    _, first = await send_command(handlers, "request-erasure.v1", ALPHA, erase)
    _, second = await send_command(handlers, "request-erasure.v1", ALPHA, erase)
    assert first.status == second.status == "accepted"
    assert set(await key_store.get([uuid.UUID(pid), uuid.UUID(other)])) == {uuid.UUID(other)}
    assert [
        r["participant_id"]
        for r in await fetch_rows(fresh_pool, "SELECT participant_id FROM identities")
    ] == [uuid.UUID(other)]
    await send_command(handlers, "request-erasure.v1", ALPHA, erase | {"participant_id": other})
    assert await fetch_rows(fresh_pool, "SELECT 1 FROM identities") == []
    assert await fetch_rows(fresh_pool, "SELECT 1 FROM identity_index") == []
    assert on_intake_events(await outbox_messages(fresh_pool)) == [
        "participant.registered.v3",
        "participant.registered.v3",
        "participant.erased.v1",
        "participant.erased.v1",
    ]
    _, after = await send_command(
        handlers,
        "record-programme-exit.v1",
        ALPHA,
        {"participant_id": pid, "exit_date": "2022-05-31", "reason": "placed"},
    )
    assert_rejected(after, ReasonCode.PARTICIPANT_ERASED)


async def test_dtz_results_join_the_level_history_of_registered_people_only(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    pid = await registered(handlers, ALPHA)
    sat = example_event(ExamResultRecorded, participant_id=pid)
    absent = example_event(ExamResultRecorded, participant_id=pid, overall="did-not-sit")
    stranger = example_event(ExamResultRecorded, participant_id=str(uuid.uuid4()))
    records = [event_record(COURSES_EVENTS, e, service="courses") for e in (sat, absent, stranger)]
    for record in [records[0], *records]:  # the first delivered twice: learnt once
        await handlers.learn_from(record)
    levels = await fetch_rows(
        fresh_pool, "SELECT source, overall FROM german_level_history ORDER BY recorded_at"
    )
    assert levels == [
        {"source": "registration", "overall": "A2"},
        {"source": "dtz", "overall": "B1"},
    ]


def about(participant_id: str) -> dict[str, dict[str, Any]]:
    """Every id-bearing intake command, about `participant_id`."""
    other = str(uuid.uuid4())
    return {
        "record-residence-status-change.v1": {
            "participant_id": participant_id,
            "status": "ausbildungsduldung",
            "legal_basis": "aufenthg-60c",
            "since": "2022-05-01",
        },
        "record-programme-exit.v1": {
            "participant_id": participant_id,
            "exit_date": "2022-05-31",
            "reason": "placed",
        },
        "request-erasure.v1": {"participant_id": participant_id, "reason": "participant-request"},
        "approve-eligibility-exception.v1": {
            "participant_id": participant_id,
            "rules": ["age"],
            "reason": "Begründung",
            "approver": COORDINATOR.subject,
        },
        "deny-eligibility-exception.v1": {
            "participant_id": participant_id,
            "reason": "Begründung",
            "approver": COORDINATOR.subject,
        },
        "resolve-duplicate.v1": {
            "participant_id": participant_id,
            "duplicate_of": other,
            "decision": "confirmed",
            "decided_by": COORDINATOR.subject,
        },
    }


async def test_every_id_bearing_command_answers_another_providers_person_as_unknown(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    pid = await registered(handlers, ALPHA)
    pending = await send_command(handlers, REGISTER, ALPHA, new_person(birth_date="1990-01-01"))
    assert pending[1].decision is not None
    assert pending[1].decision.status == "pending-exception"
    before_rows, before_outbox = await domain_rows(fresh_pool), await outbox_messages(fresh_pool)
    unknown = str(uuid.uuid4())

    for own in (pid, str(pending[1].decision.participant)):
        for type_, data in about(own).items():
            foreign, foreign_outcome = await send_command(handlers, type_, BETA, data)
            _, missing_outcome = await send_command(handlers, type_, BETA, about(unknown)[type_])
            assert foreign_outcome.status == missing_outcome.status == "rejected", type_
            assert foreign_outcome.violation == missing_outcome.violation, type_
            [reply] = await replies_to(handlers, foreign)
            assert reply.topic == outbound(BETA, SERVICE)

    assert await domain_rows(fresh_pool) == before_rows  # nothing written
    added = (await outbox_messages(fresh_pool))[len(before_outbox) :]
    assert {(m.topic, m.type) for m in added} == {(outbound(BETA, SERVICE), "command.rejected.v1")}
    assert {m.data["reason"] for m in added} == {"unknown-participant", "forbidden-role"}


async def test_an_assigned_provider_works_with_the_person_but_neither_exits_nor_erases(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    names = {"given_name": "Testvornameqx", "family_name": "Familientestnamezv"}
    pid = await registered(handlers, ALPHA, **names)
    _, joined = await send_command(handlers, REGISTER, BETA, new_person(**names))
    assert joined.decision is not None
    assert (joined.decision.status, str(joined.decision.participant)) == (
        "existing-participant",
        pid,
    )
    commands = about(pid)

    _, changed = await send_command(
        handlers,
        "record-residence-status-change.v1",
        BETA,
        commands["record-residence-status-change.v1"],
    )
    assert changed.status == "accepted"
    statuses = await fetch_rows(fresh_pool, "SELECT status FROM residence_status_history")
    assert {"status": "ausbildungsduldung"} in statuses
    before_rows, before_outbox = await domain_rows(fresh_pool), await outbox_messages(fresh_pool)

    for type_ in ("record-programme-exit.v1", "request-erasure.v1"):
        refused, outcome = await send_command(handlers, type_, BETA, commands[type_])
        assert_rejected(outcome, ReasonCode.NOT_REGISTERING_PROVIDER)
        [reply] = await replies_to(handlers, refused)
        assert (reply.data["reason"], reply.data["field"]) == (
            "not-registering-provider",
            "data.participant_id",
        )
    assert await domain_rows(fresh_pool) == before_rows  # no exit, the identity still sealed
    added = (await outbox_messages(fresh_pool))[len(before_outbox) :]
    assert on_intake_events(added) == []

    _, exited = await send_command(
        handlers, "record-programme-exit.v1", ALPHA, commands["record-programme-exit.v1"]
    )
    _, erased = await send_as_coordinator(
        handlers, "request-erasure.v1", commands["request-erasure.v1"]
    )
    assert (exited.status, erased.status) == ("accepted", "accepted")
    assert on_intake_events(await outbox_messages(fresh_pool))[-2:] == [
        "participant.exited.v1",
        "participant.erased.v1",
    ]
    assert await fetch_rows(fresh_pool, "SELECT 1 FROM identities") == []


async def test_one_name_inside_another_is_registered_apart_and_put_to_a_coordinator(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    first = await registered(handlers, ALPHA, given_name="Chinedu", family_name="Sow")
    inbound, outcome = await send_command(
        handlers, REGISTER, BETA, new_person(given_name="Chinedu", family_name="Sow Sabako")
    )
    assert outcome.decision is not None
    assert outcome.decision.status == "possible-duplicate"
    second = str(outcome.decision.participant)
    assert second != first
    assert await fetch_rows(
        fresh_pool,
        "SELECT provider FROM provider_links WHERE participant_id = $1",
        uuid.UUID(first),
    ) == [{"provider": ALPHA}]  # the second provider is not let in to the first person
    assert await fetch_rows(
        fresh_pool, "SELECT participant_id::text, candidate_id::text, status FROM duplicate_reviews"
    ) == [{"participant_id": second, "candidate_id": first, "status": "open"}]
    (reply,) = await replies_to(handlers, inbound)
    assert reply.data["participant_id"] == second


async def test_one_batch_matches_and_decides_exactly_as_one_registration_after_another(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    """A registration and its duplicates in one transaction decide as they do one by one.

    Duplicate matching reads what earlier registrations stored: in a batch, the second
    provider's registration of the same person must still join the first, and the similar
    one must still go to a coordinator. Each run registers other people, so the runs do
    not match each other.
    """

    async def run(*, batch: bool) -> tuple[list[Any], list[str], int]:
        person = new_person()
        names = {key: person[key] for key in ("given_name", "family_name")}
        before = len(await outbox_messages(fresh_pool))
        reviews_before = len(await fetch_rows(fresh_pool, "SELECT 1 FROM duplicate_reviews"))
        first = provider_inbound(handlers, REGISTER, ALPHA, person)
        sent = [
            first,
            provider_inbound(handlers, REGISTER, BETA, new_person(**names)),  # the same person
            first,  # sent again
            # the birth date's day and month swapped: perhaps the same person
            provider_inbound(
                handlers, REGISTER, BETA, new_person(**names, birth_date="2001-04-05")
            ),
            provider_inbound(
                handlers,
                REGISTER,
                ALPHA,
                new_person(birth_date="1990-01-01", lives_in_state_reception_facility=True),
            ),
            provider_inbound(handlers, REGISTER, ALPHA, new_person()),  # someone else
        ]
        outcomes = await (send_batch if batch else send_one_by_one)(handlers, sent)
        registered_as = outcomes[0].decision.participant if outcomes[0].decision else None
        results = [
            (
                o.status,
                o.violation.reason if o.violation else None,
                o.decision.status if o.decision else None,
                o.decision is not None and o.decision.participant == registered_as,
            )
            for o in outcomes
        ]
        events = on_intake_events((await outbox_messages(fresh_pool))[before:])
        reviews = len(await fetch_rows(fresh_pool, "SELECT 1 FROM duplicate_reviews"))
        return results, events, reviews - reviews_before

    one_by_one = await run(batch=False)
    in_one_batch = await run(batch=True)

    statuses = [result[2] for result in one_by_one[0]]
    assert statuses[:2] == ["registered", "existing-participant"]
    assert statuses[3] == "possible-duplicate"
    assert one_by_one[0][1][3] is True  # the second provider's joins the first registration
    assert one_by_one[2] == 1
    assert in_one_batch == one_by_one


async def test_identities_indexed_by_name_only_get_birth_year_tokens_and_still_match(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    """A database from before duplicate matching looked up birth years is indexed again.

    Its identities have name tokens only (generation 1): matching, which now looks up a
    name's code with the birth year, would miss them. Intake indexes them when it starts;
    afterwards the same person from another provider joins the first registration again.
    """
    person = new_person()
    first = await registered(handlers, ALPHA, **person)
    ring = handlers.ring
    async with fresh_pool.acquire() as connection:
        opened = (await ring.open(connection, [uuid.UUID(first)]))[uuid.UUID(first)]
        matching = identities.index_tokens(ring.vault, opened.identity).matching
        # As a database from before: the name-and-year tokens absent, generation 1.
        await connection.execute(
            "DELETE FROM identity_index WHERE token = ANY($1::bytea[])", matching
        )
        await connection.execute("UPDATE identities SET index_generation = 1")

    assert await identities.index_birth_years(fresh_pool, ring, batch_size=1) == 1
    assert await identities.index_birth_years(fresh_pool, ring) == 0  # done once

    rows = await fetch_rows(
        fresh_pool, "SELECT token FROM identity_index WHERE token = ANY($1::bytea[])", matching
    )
    assert {bytes(row["token"]) for row in rows} == set(matching)
    audited = await fetch_rows(
        fresh_pool, "SELECT actor FROM audit_trail WHERE action = 'identity.reindex'"
    )
    assert audited == [{"actor": "intake"}]
    _, again = await send_command(handlers, REGISTER, BETA, new_person(**person))
    assert again.decision is not None
    assert (again.decision.status, str(again.decision.participant)) == (
        "existing-participant",
        first,
    )


async def test_a_batch_reads_the_index_again_after_a_command_that_changes_it(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    """The index read ahead for a batch does not outlive a command that changes it.

    Registrations defer a new person's rows and key to the batch's flush and compare with
    what the batch read ahead. An erasure in the middle of the batch takes a candidate away
    (the same person registered after it is new again), and a correction reads the key and
    identity of a person the same batch registered. Both decide as one at a time; every
    identity stored opens with its key from the key store afterwards.
    """

    async def run(*, batch: bool) -> tuple[list[Any], list[str]]:
        before = len(await outbox_messages(fresh_pool))
        earlier = new_person()
        _, stored = await send_command(handlers, REGISTER, ALPHA, earlier)
        assert stored.decision is not None
        earlier_id = str(stored.decision.participant)
        names = {key: earlier[key] for key in ("given_name", "family_name", "birth_date")}
        fresh = new_person()
        registering = provider_inbound(handlers, REGISTER, ALPHA, fresh)
        sent = [
            registering,
            # the earlier person again, from another provider: joins them
            provider_inbound(handlers, REGISTER, BETA, new_person(**names)),
            provider_inbound(
                handlers,
                "request-erasure.v1",
                ALPHA,
                {"participant_id": earlier_id, "reason": "participant-request"},
            ),
            # after the erasure the same person is nobody intake knows
            provider_inbound(handlers, REGISTER, BETA, new_person(**names)),
        ]
        outcomes = await (send_batch if batch else send_one_by_one)(handlers, sent)
        first = outcomes[0].decision
        assert first is not None
        # A correction of the person the batch registered first, in a second batch: it
        # opens their identity with the key the first batch committed.
        correction = provider_inbound(
            handlers,
            "correct-identity.v1",
            ALPHA,
            {
                "participant_id": str(first.participant),
                "family_name": f"{fresh['family_name']}x",
                "reason": "Tippfehler im Familiennamen",
            },
        )
        outcomes += await (send_batch if batch else send_one_by_one)(handlers, [correction])
        results = [
            (
                o.status,
                o.violation.reason if o.violation else None,
                o.decision.status if o.decision else None,
                o.decision is not None and str(o.decision.participant) == earlier_id,
            )
            for o in outcomes
        ]
        events = on_intake_events((await outbox_messages(fresh_pool))[before:])
        return results, events

    one_by_one = await run(batch=False)
    in_one_batch = await run(batch=True)

    assert [result[2] for result in one_by_one[0][:2]] == ["registered", "existing-participant"]
    assert one_by_one[0][1][3] is True  # joined the earlier registration
    assert one_by_one[0][2][0] == "accepted"  # erased
    assert one_by_one[0][3][2] == "registered"  # new again, not the erased one
    assert one_by_one[0][3][3] is False
    assert one_by_one[0][4][0] == "accepted", one_by_one[0][4]  # corrected
    assert in_one_batch == one_by_one
    async with fresh_pool.acquire() as connection:
        stored = [
            row["participant_id"]
            for row in await connection.fetch("SELECT participant_id FROM identities")
        ]
        opened = await handlers.ring.open(connection, stored)
    assert set(opened) == set(stored)  # every ciphertext has its key in the key store
