"""Coaching end to end: case life cycle, referral loop, due lists, held commands, access,
erasure; through real processes, Kafka and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from tests.support import (
    client,
    command,
    encoded,
    event,
    eventually,
    post,
    produce,
    read_topic,
    replies_to,
    v2_registration,
    values_of,
)

from durchstarten.auth import Role
from durchstarten.events.topics import COACHING_EVENTS, INTAKE_EVENTS, inbound
from durchstarten_deploy.stack import ServiceProcess, Stack
from durchstarten_deploy.testing import TEST_PROVIDERS

pytestmark = pytest.mark.integration

ALPHA, BETA = TEST_PROVIDERS
ENTRY = date(2022, 3, 1)


async def registered(stack: Stack, provider: str = ALPHA) -> str:
    """A participant registered through intake and known to coaching."""
    response = await post(stack, v2_registration(provider), Role.PROVIDER, provider)
    participant_id: str = response.json()["participant_id"]
    await known_to_coaching(stack, participant_id)
    return participant_id


async def known_to_coaching(stack: Stack, participant_id: str) -> None:
    """Wait until coaching has learnt of the participant from intake's events."""

    async def known() -> bool:
        connection = await asyncpg.connect(stack.service_database_url("coaching"))
        try:
            return bool(
                await connection.fetchval(
                    "SELECT count(*) FROM participants WHERE participant_id = $1",
                    uuid.UUID(participant_id),
                )
            )
        finally:
            await connection.close()

    await eventually(known, what="coaching learnt of the participant")


async def coach(stack: Stack, type_: str, provider: str, data: dict[str, Any]) -> httpx.Response:
    return await post(
        stack, command(type_, provider, data), Role.PROVIDER, provider, service="coaching"
    )


async def get(stack: Stack, path: str, role: Role, provider: str | None = None) -> httpx.Response:
    async with client(stack, "coaching", role, provider) as coaching:
        return await coaching.get(path)


def opening(participant_id: str, module: str = "F1", site: str = "buende") -> dict[str, Any]:
    """The data of an `open-case.v1` command for a new case."""
    return {
        "case_id": str(uuid.uuid4()),
        "participant_id": participant_id,
        "module": module,
        "site": site,
        "opened_on": "2022-03-02",
    }


async def open_case(
    stack: Stack, participant_id: str, provider: str = ALPHA, module: str = "F1"
) -> str:
    await known_to_coaching(stack, participant_id)  # else the command waits (held)
    data = opening(participant_id, module)
    response = await coach(stack, "open-case.v1", provider, data)
    assert response.status_code == 201, response.text
    return str(data["case_id"])


def session(case_id: str, day: str = "2022-03-09") -> dict[str, Any]:
    return {
        "session_id": str(uuid.uuid4()),
        "case_id": case_id,
        "date": day,
        "minutes": 60,
        "languages": ["de", "ti"],
        "topics": ["training-search"],
        "coach_id": "coach-7",
    }


async def test_a_case_from_opening_to_follow_up_and_closing(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    pid = await registered(stack)
    case_id = await open_case(stack, pid)

    again = await coach(stack, "open-case.v1", ALPHA, opening(pid, site="herford"))
    assert again.json()["reason"] == "case-already-open"
    elsewhere = await coach(stack, "open-case.v1", ALPHA, opening(pid, "F6", site="bielefeld"))
    assert elsewhere.json()["reason"] == "unknown-site"

    assert (await coach(stack, "record-session.v1", ALPHA, session(case_id))).status_code == 201
    early = await coach(stack, "record-session.v1", ALPHA, session(case_id, "2022-03-01"))
    assert (early.status_code, early.json()["reason"], early.json()["field"]) == (
        422,
        "date-before-case",
        "data.date",
    )
    future = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    assert (await coach(stack, "record-session.v1", ALPHA, session(case_id, future))).json()[
        "reason"
    ] == "date-in-future"

    for category, start, employment in (
        ("language-course", "2022-05-02", None),
        ("employment", "2022-09-01", {"kind": "marginal"}),
    ):
        placement: dict[str, Any] = {
            "placement_id": str(uuid.uuid4()),
            "case_id": case_id,
            "category": category,
            "start_date": start,
        }
        if employment:
            placement["employment"] = employment
        assert (await coach(stack, "record-placement.v1", ALPHA, placement)).status_code == 201
    unfit = {
        "placement_id": str(uuid.uuid4()),
        "case_id": case_id,
        "category": "employment",
        "start_date": "2022-10-01",
    }
    assert (await coach(stack, "record-placement.v1", ALPHA, unfit)).json()[
        "reason"
    ] == "invalid-field"

    too_soon = {
        "case_id": case_id,
        "window": "4-weeks",
        "observed_on": "2022-12-20",
        "category": "employment",
        "employment": {"kind": "marginal"},
    }
    assert (await coach(stack, "record-follow-up.v1", ALPHA, too_soon)).json()[
        "reason"
    ] == "no-exit-yet"

    exit_ = command(
        "record-programme-exit.v1",
        ALPHA,
        {"participant_id": pid, "exit_date": "2022-12-31", "reason": "placed"},
    )
    assert (await post(stack, exit_, Role.PROVIDER, ALPHA)).status_code == 201

    async def follow_ups_due() -> list[Any]:
        response = await get(stack, "/v1/due/follow-ups?on=2023-01-28", Role.PROVIDER, ALPHA)
        return [row for row in response.json()["due"] if row["participant_id"] == pid]

    due = await eventually(follow_ups_due, what="follow-ups scheduled at exit")
    assert [row["time_window"] for row in due] == ["4-weeks"]  # the 6-month one is not due yet
    later = await get(stack, "/v1/due/follow-ups?on=2023-07-01", Role.PROVIDER, ALPHA)
    assert {r["time_window"] for r in later.json()["due"] if r["participant_id"] == pid} == {
        "4-weeks",
        "6-months",
    }

    outside = {
        "case_id": case_id,
        "window": "4-weeks",
        "observed_on": "2023-03-01",
        "category": "unknown",
    }
    assert (await coach(stack, "record-follow-up.v1", ALPHA, outside)).json()[
        "reason"
    ] == "outside-follow-up-window"
    for observed, category in (("2023-01-10", "unknown"), ("2023-01-20", "ausbildung-company")):
        follow_up = {
            "case_id": case_id,
            "window": "4-weeks",
            "observed_on": observed,
            "category": category,
        }
        assert (await coach(stack, "record-follow-up.v1", ALPHA, follow_up)).status_code == 201
    assert await follow_ups_due() == []

    closing = {"case_id": case_id, "closed_on": "2023-01-31", "reason": "goal-reached"}
    assert (await coach(stack, "close-case.v1", ALPHA, closing)).status_code == 201
    closed = await coach(stack, "record-session.v1", ALPHA, session(case_id, "2023-02-01"))
    assert closed.json()["reason"] == "case-closed"

    view = (await get(stack, f"/v1/cases/{case_id}", Role.PROVIDER, ALPHA)).json()
    assert view["sessions"] == 1
    assert view["closed_on"] == "2023-01-31"
    assert view["current_placement"]["category"] == "employment"
    assert view["current_placement"]["employment_kind"] == "marginal"
    assert {f["time_window"]: f["category"] for f in view["follow_ups"]} == {
        "4-weeks": "ausbildung-company"
    }

    events = await read_topic(
        stack,
        COACHING_EVENTS,
        until=lambda records: any(
            v["type"] == "case.closed.v1" and v["data"]["case_id"] == case_id
            for v in values_of(records)
        ),
    )
    mine = [v["type"] for v in values_of(events) if v["data"].get("case_id") == case_id]
    assert mine == [
        "case.opened.v1",
        "case.session-recorded.v1",
        "case.placement-recorded.v1",
        "case.placement-recorded.v1",
        "case.follow-up-recorded.v1",
        "case.follow-up-recorded.v1",
        "case.closed.v1",
    ]


async def test_a_referral_between_two_providers_and_its_due_list(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    pid = await registered(stack, ALPHA)
    case_id = await open_case(stack, pid, ALPHA)
    # Not BETA's participant (yet): answered exactly like an unknown one, held and then
    # refused. The refusal is awaited, or BETA's acceptance below would let it through.
    early = command("open-case.v1", BETA, opening(pid, "F6", site="herford"))
    held = await post(stack, early, Role.PROVIDER, BETA, service="coaching")
    assert held.status_code == 202, held.text
    refusal = (await replies_to(stack, BETA, "coaching", {early["id"]}))[early["id"]]
    assert refusal["data"]["reason"] == "unknown-participant"

    referral_id = str(uuid.uuid4())
    referral = {
        "referral_id": referral_id,
        "case_id": case_id,
        "made_on": "2022-04-01",
        "target": {"kind": "provider", "provider": BETA},
    }
    assert (await coach(stack, "make-referral.v1", ALPHA, referral)).status_code == 201

    def due_ids(response: httpx.Response) -> set[str]:
        return {row["referral_id"] for row in response.json()["due"]}

    assert referral_id not in due_ids(
        await get(stack, "/v1/due/referrals?on=2022-04-14", Role.PROVIDER, BETA)
    )
    assert referral_id in due_ids(
        await get(stack, "/v1/due/referrals?on=2022-04-15", Role.PROVIDER, BETA)
    )
    assert referral_id in due_ids(
        await get(stack, "/v1/due/referrals?on=2022-04-15", Role.COORDINATOR)
    )

    answer = {"referral_id": referral_id, "answer": "accepted", "answered_on": "2022-04-05"}
    by_sender = await coach(stack, "answer-referral.v1", ALPHA, answer)
    assert by_sender.json()["reason"] == "not-referral-recipient"
    assert (await coach(stack, "answer-referral.v1", BETA, answer)).status_code == 201
    twice = await coach(stack, "answer-referral.v1", BETA, answer)
    assert twice.json()["reason"] == "referral-answered"
    assert referral_id not in due_ids(
        await get(stack, "/v1/due/referrals?on=2022-05-01", Role.PROVIDER, BETA)
    )

    beta_case = await open_case(stack, pid, BETA, module="F6")
    view = (await get(stack, f"/v1/cases/{case_id}", Role.PROVIDER, ALPHA)).json()
    assert view["referrals"][0]["answer"] == "accepted"
    # Each provider sees only its own cases.
    assert (await get(stack, f"/v1/cases/{case_id}", Role.PROVIDER, BETA)).status_code == 404
    assert (await get(stack, f"/v1/cases/{beta_case}", Role.PROVIDER, ALPHA)).status_code == 404
    foreign = command("record-session.v1", BETA, session(case_id, "2022-04-10"))
    held = await post(stack, foreign, Role.PROVIDER, BETA, service="coaching")
    assert held.status_code == 202, held.text  # like a case not known yet
    refusal = (await replies_to(stack, BETA, "coaching", {foreign["id"]}))[foreign["id"]]
    assert (refusal["data"]["reason"], refusal["data"]["field"]) == (
        "unknown-case",
        "data.case_id",
    )


def registered_event(participant_id: str, provider: str) -> dict[str, Any]:
    """Intake's `participant.registered.v2`, the version intake publishes now."""
    return event(
        "participant.registered.v2",
        "/services/intake",
        participant_id,
        {
            "participant_id": participant_id,
            "provider": provider,
            "entry_date": ENTRY.isoformat(),
            "age_at_entry": 21,
            "sex": "male",
            "country_of_origin": "AFG",
            "residence_status": {"status": "gestattung", "legal_basis": "asylg-55"},
            "municipality": "herford",
            "school_education": "none",
            "german_level_at_entry": {"overall": "A1"},
        },
    )


async def test_a_command_before_its_registration_is_held_then_applied_or_expires(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    early, never = str(uuid.uuid4()), str(uuid.uuid4())
    opens = {
        pid: command("open-case.v1", ALPHA, opening(pid, site="loehne")) for pid in (early, never)
    }
    await produce(stack, inbound(ALPHA, "coaching"), encoded(opens.values()))
    session_first = command("record-session.v1", ALPHA, session(opens[early]["data"]["case_id"]))
    await produce(stack, inbound(ALPHA, "coaching"), encoded([session_first]))
    # intake's registration arrives late
    await produce(
        stack, INTAKE_EVENTS, encoded([registered_event(early, ALPHA)]), key=early.encode()
    )

    ids = {opens[early]["id"], opens[never]["id"], session_first["id"]}
    by_id = await replies_to(stack, ALPHA, "coaching", ids)
    assert by_id[opens[early]["id"]]["type"] == "command.accepted.v1"
    assert by_id[session_first["id"]]["type"] == "command.accepted.v1"  # waited for its case
    expired = by_id[opens[never]["id"]]
    assert expired["type"] == "command.rejected.v1"
    assert expired["data"]["reason"] == "unknown-participant"


async def test_erasure_removes_every_person_level_row_from_coaching(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    pid = await registered(stack)
    case_id = await open_case(stack, pid)
    assert (await coach(stack, "record-session.v1", ALPHA, session(case_id))).status_code == 201
    erase = command(
        "request-erasure.v1", ALPHA, {"participant_id": pid, "reason": "participant-request"}
    )
    assert (await post(stack, erase, Role.PROVIDER, ALPHA)).status_code == 201

    async def rows_left() -> int:
        connection = await asyncpg.connect(stack.service_database_url("coaching"))
        try:
            total = 0
            for table in (
                "participants",
                "participant_access",
                "cases",
                "referrals",
                "placements",
                "follow_up_tasks",
                "follow_ups",
            ):
                total += await connection.fetchval(
                    f"SELECT count(*) FROM {table} WHERE participant_id = $1",  # noqa: S608  # fixed names
                    uuid.UUID(pid),
                )
            total += await connection.fetchval(
                "SELECT count(*) FROM sessions WHERE case_id = $1", uuid.UUID(case_id)
            )
            return int(total)
        finally:
            await connection.close()

    async def erased() -> bool:
        return await rows_left() == 0

    await eventually(erased, what="coaching erased the person")
    assert (await get(stack, f"/v1/cases/{case_id}", Role.PROVIDER, ALPHA)).status_code == 404
