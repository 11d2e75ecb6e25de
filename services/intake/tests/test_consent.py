"""Consent on intake's command side, against the real PostgreSQL.

Another provider is linked to a person only with the person's consent to data sharing (in
force, not expired) or a coordinator's time-limited override; withdrawing or the end of
either unlinks it, and the change is announced for coaching and courses.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest

from durchstarten.clock import Clock
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.topics import INTAKE_EVENTS
from durchstarten_deploy.testing import (
    COORDINATOR,
    REGISTER,
    TEST_PROVIDERS,
    assert_rejected,
    fetch_rows,
    new_person,
    outbox_messages,
    registered,
    send_as_coordinator,
    send_command,
)
from intake.deletion import consent_ends
from intake.handlers import IntakeHandlers

pytestmark = [pytest.mark.integration, pytest.mark.database]

ALPHA, BETA = TEST_PROVIDERS
TODAY = date(2022, 6, 1)
NAMES = {"given_name": "Testvornameqx", "family_name": "Familientestnamezv"}
SHARING = {"scopes": ["data-sharing-between-providers"], "given_on": "2022-03-01"}


async def links(pool: asyncpg.Pool) -> dict[str, str]:
    rows = await fetch_rows(pool, "SELECT provider, relation FROM provider_links")
    return {r["provider"]: r["relation"] for r in rows}


async def announced(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    return [
        m.data
        for m in await outbox_messages(pool)
        if m.topic == INTAKE_EVENTS and m.type == "participant.consent-changed.v1"
    ]


async def test_another_provider_joins_a_person_only_with_consent_to_sharing(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    first = await registered(handlers, ALPHA, **NAMES, consent=None)
    _, refused = await send_command(handlers, REGISTER, BETA, new_person(**NAMES, consent=None))
    assert_rejected(refused, ReasonCode.CONSENT_REQUIRED)
    assert await links(fresh_pool) == {ALPHA: "registered"}  # nothing kept of the attempt
    assert len(await fetch_rows(fresh_pool, "SELECT 1 FROM participants")) == 1
    expired = SHARING | {"expires_on": "2022-05-31"}  # ran out the day before today
    _, late = await send_command(handlers, REGISTER, BETA, new_person(**NAMES, consent=expired))
    assert_rejected(late, ReasonCode.CONSENT_REQUIRED)
    # The person consents at the second provider: it joins, and the consent is announced.
    _, joined = await send_command(handlers, REGISTER, BETA, new_person(**NAMES, consent=SHARING))
    assert joined.decision is not None
    assert str(joined.decision.participant) == first
    assert await links(fresh_pool) == {ALPHA: "registered", BETA: "assigned"}
    (change,) = await announced(fresh_pool)
    assert change["registered_by"] == ALPHA
    assert change["consent"]["scopes"] == ["data-sharing-between-providers"]


async def test_withdrawing_consent_unlinks_the_other_provider_and_is_announced(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    pid = await registered(handlers, ALPHA, **NAMES, consent=SHARING)
    await send_command(handlers, REGISTER, BETA, new_person(**NAMES, consent=SHARING))
    assert await links(fresh_pool) == {ALPHA: "registered", BETA: "assigned"}
    withdraw = {
        "participant_id": pid,
        "scopes": ["data-sharing-between-providers"],
        "withdrawn_on": "2022-06-01",
    }
    _, outcome = await send_command(handlers, "withdraw-consent.v1", BETA, withdraw)
    assert outcome.status == "accepted", outcome
    assert await links(fresh_pool) == {ALPHA: "registered"}
    (change,) = await announced(fresh_pool)
    assert change["consent"]["scopes"] == []
    # BETA knows the person no more: its next command is answered as for a stranger.
    status = {"participant_id": pid, "exit_date": "2022-05-31", "reason": "placed"}
    _, gone = await send_command(handlers, "record-programme-exit.v1", BETA, status)
    assert_rejected(gone, ReasonCode.UNKNOWN_PARTICIPANT)
    trail = await fetch_rows(
        fresh_pool, "SELECT action FROM audit_trail WHERE participant_id = $1", uuid.UUID(pid)
    )
    assert "consent.write" in [t["action"] for t in trail]


async def test_a_consent_that_expires_unlinks_by_itself_once(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    until = SHARING | {"expires_on": "2022-12-31"}
    await registered(handlers, ALPHA, **NAMES, consent=until)
    await send_command(handlers, REGISTER, BETA, new_person(**NAMES, consent=until))
    ends = consent_ends(handlers, interval_s=60)
    assert await ends.run_once() == 0  # still in force
    handlers.clock = Clock(date(2023, 1, 1))
    assert await ends.run_once() == 1
    assert await links(fresh_pool) == {ALPHA: "registered"}
    assert len(await announced(fresh_pool)) == 1
    assert await ends.run_once() == 0  # announced once


async def test_a_coordinators_override_is_limited_reasoned_audited_and_ends(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    pid = await registered(handlers, ALPHA, consent=None)
    override = {
        "participant_id": pid,
        "provider": BETA,
        "until": (TODAY + timedelta(days=14)).isoformat(),
        "reason": "Ausbildungsplatz beginnt Montag, Person nicht erreichbar.",
        "decided_by": COORDINATOR.subject,
    }
    _, by_provider = await send_command(handlers, "override-consent.v1", ALPHA, override)
    assert_rejected(by_provider, ReasonCode.FORBIDDEN_ROLE)
    too_long = override | {"until": (TODAY + timedelta(days=31)).isoformat()}
    assert_rejected(
        (await send_as_coordinator(handlers, "override-consent.v1", too_long))[1],
        ReasonCode.INVALID_FIELD,
    )
    own = override | {"provider": ALPHA}
    assert_rejected(
        (await send_as_coordinator(handlers, "override-consent.v1", own))[1],
        ReasonCode.UNKNOWN_PROVIDER_TARGET,
    )
    outcome = (await send_as_coordinator(handlers, "override-consent.v1", override))[1]
    assert outcome.status == "accepted", outcome
    assert await links(fresh_pool) == {ALPHA: "registered", BETA: "override"}
    (change,) = await announced(fresh_pool)
    assert change["overrides"] == [{"provider": BETA, "until": override["until"]}]
    (row,) = await fetch_rows(fresh_pool, "SELECT reason_encrypted FROM consent_overrides")
    assert override["reason"].encode() not in row["reason_encrypted"]  # sealed
    handlers.clock = Clock(TODAY + timedelta(days=15))
    assert await consent_ends(handlers, interval_s=60).run_once() == 1
    assert await links(fresh_pool) == {ALPHA: "registered"}
    last = (await announced(fresh_pool))[-1]
    assert last["overrides"] == []
    # Erased: the override's sealed reason goes with the identifiers; the record stays.
    await send_command(
        handlers, "request-erasure.v1", ALPHA, {"participant_id": pid, "reason": "purpose-ended"}
    )
    (row,) = await fetch_rows(fresh_pool, "SELECT reason_encrypted FROM consent_overrides")
    assert row["reason_encrypted"] is None
