"""Rectification (Art. 16) on intake's command side, against the real PostgreSQL.

A correction reseals the identifiers under the person's key, rebuilds the blind index,
runs the duplicate check again, records why, and announces what the reports count.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from pydantic import ValidationError

from durchstarten.events import RegisterParticipant
from durchstarten.events.intake import CorrectIdentity
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.topics import INTAKE_EVENTS
from durchstarten_deploy.testing import (
    COORDINATOR,
    TEST_PROVIDERS,
    assert_rejected,
    fetch_rows,
    new_person,
    outbox_messages,
    registered,
    send_as_coordinator,
    send_command,
)
from intake.handlers import IntakeHandlers

pytestmark = [pytest.mark.integration, pytest.mark.database]

ALPHA, BETA = TEST_PROVIDERS
CORRECT = "correct-identity.v1"
REASON = "Der Reisepass zeigt ein anderes Datum."


async def identity_of(handlers: IntakeHandlers, pool: asyncpg.Pool, pid: str) -> dict[str, Any]:
    async with pool.acquire() as connection:
        opened = await handlers.ring.open(connection, [uuid.UUID(pid)])
    return opened[uuid.UUID(pid)].fields


async def corrected_events(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    return [
        m.data
        for m in await outbox_messages(pool)
        if m.topic == INTAKE_EVENTS and m.type == "participant.corrected.v1"
    ]


def test_a_correction_names_at_least_one_field() -> None:
    with pytest.raises(ValidationError, match="at least one field"):
        CorrectIdentity.model_validate({"participant_id": str(uuid.uuid4()), "reason": REASON})


async def test_a_corrected_birth_date_is_sealed_recorded_and_reaches_the_reports(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    pid = await registered(handlers, ALPHA, birth_date="2001-05-04", entry_date="2022-03-01")
    before = await identity_of(handlers, fresh_pool, pid)
    data = {"participant_id": pid, "birth_date": "2000-01-15", "reason": REASON}
    _, outcome = await send_command(handlers, CORRECT, ALPHA, data)
    assert outcome.status == "accepted", outcome
    after = await identity_of(handlers, fresh_pool, pid)
    assert after == before | {"birth_date": "2000-01-15"}
    (event,) = await corrected_events(fresh_pool)
    assert (event["participant_id"], event["age_at_entry"]) == (pid, 22)  # was 20
    assert (event["sex"], event["country_of_origin"]) == ("female", "SYR")  # as they were
    (row,) = await fetch_rows(
        fresh_pool, "SELECT fields, reason_encrypted, corrected_by FROM rectifications"
    )
    assert row["fields"] == ["birth_date"]
    assert REASON.encode() not in row["reason_encrypted"]  # sealed with the person's key
    actions = await fetch_rows(
        fresh_pool, "SELECT action FROM audit_trail WHERE participant_id = $1", uuid.UUID(pid)
    )
    assert "identity.rectify" in [a["action"] for a in actions]
    # Erased later: the sealed reason goes with the identifiers.
    erase = {"participant_id": pid, "reason": "participant-request"}
    await send_command(handlers, "request-erasure.v1", ALPHA, erase)
    (row,) = await fetch_rows(fresh_pool, "SELECT reason_encrypted FROM rectifications")
    assert row["reason_encrypted"] is None


async def test_a_corrected_name_runs_the_duplicate_check_again_without_merging(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    names = {"given_name": "Testvornameqx", "family_name": "Familientestnamezv"}
    first = await registered(handlers, ALPHA, **names, birth_date="2001-05-04")
    second = await registered(
        handlers, ALPHA, given_name="Testvornamekl", family_name="Familientestnamebr"
    )
    assert await fetch_rows(fresh_pool, "SELECT 1 FROM duplicate_reviews") == []
    data = {"participant_id": second, **names, "birth_date": "2001-05-04", "reason": REASON}
    _, outcome = await send_command(handlers, CORRECT, ALPHA, data)
    assert outcome.status == "accepted", outcome
    reviews = await fetch_rows(
        fresh_pool, "SELECT participant_id, candidate_id, status FROM duplicate_reviews"
    )
    assert reviews == [
        {"participant_id": uuid.UUID(second), "candidate_id": uuid.UUID(first), "status": "open"}
    ]
    states = await fetch_rows(fresh_pool, "SELECT status FROM participants")
    assert {s["status"] for s in states} == {"registered"}  # both still there, unmerged
    # The blind index now finds the second under the corrected names.
    tokens = await fetch_rows(
        fresh_pool,
        "SELECT count(DISTINCT participant_id) AS people FROM identity_index"
        " WHERE token IN (SELECT token FROM identity_index WHERE participant_id = $1)",
        uuid.UUID(first),
    )
    assert tokens == [{"people": 2}]
    assert await corrected_events(fresh_pool) == []  # nothing the reports count changed


async def test_a_correction_of_someone_else_or_of_an_erased_person_is_refused_and_changes_nothing(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    pid = await registered(handlers, ALPHA)
    before = await identity_of(handlers, fresh_pool, pid)
    data = {"participant_id": pid, "given_name": "Andersname", "reason": REASON}
    _, foreign = await send_command(handlers, CORRECT, BETA, data)
    assert_rejected(foreign, ReasonCode.UNKNOWN_PARTICIPANT)
    unknown = data | {"participant_id": str(uuid.uuid4())}
    _, nobody = await send_command(handlers, CORRECT, ALPHA, unknown)
    assert_rejected(nobody, ReasonCode.UNKNOWN_PARTICIPANT)
    too_early = data | {"birth_date": "2023-01-01"}
    _, impossible = await send_command(handlers, CORRECT, ALPHA, too_early)
    assert_rejected(impossible, ReasonCode.ENTRY_BEFORE_BIRTH)
    assert await identity_of(handlers, fresh_pool, pid) == before
    assert await fetch_rows(fresh_pool, "SELECT 1 FROM rectifications") == []
    await send_command(
        handlers, "request-erasure.v1", ALPHA, {"participant_id": pid, "reason": "purpose-ended"}
    )
    _, erased = await send_command(handlers, CORRECT, ALPHA, data)
    assert_rejected(erased, ReasonCode.PARTICIPANT_ERASED)
    assert await fetch_rows(fresh_pool, "SELECT 1 FROM identities") == []


async def test_a_waiting_registration_is_corrected_and_announced_as_corrected_when_approved(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    # Too old by the birth date as typed: the registration waits for a coordinator.
    _, waiting = await send_command(
        handlers, RegisterParticipant.command_type, ALPHA, new_person(birth_date="1990-01-01")
    )
    assert waiting.decision is not None
    assert waiting.decision.status == "pending-exception"
    pid = str(waiting.decision.participant)
    data = {"participant_id": pid, "birth_date": "1991-01-01", "reason": REASON}
    _, corrected = await send_command(handlers, CORRECT, ALPHA, data)
    assert corrected.status == "accepted", corrected
    assert await corrected_events(fresh_pool) == []  # never announced: nothing to correct
    approve = {
        "participant_id": pid,
        "rules": ["age"],
        "reason": "Begründeter Einzelfall, Coaching lief schon.",
        "approver": COORDINATOR.subject,
    }
    _, approved = await send_as_coordinator(handlers, "approve-eligibility-exception.v1", approve)
    assert approved.status == "accepted"
    (announced,) = [
        m.data
        for m in await outbox_messages(fresh_pool)
        if m.topic == INTAKE_EVENTS and m.type == "participant.registered.v3"
    ]
    assert announced["age_at_entry"] == 31  # entry 2022-03-01, born 1991-01-01 (not 32)
