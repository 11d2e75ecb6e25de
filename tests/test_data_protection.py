"""Data protection on the running stack: what the services' own database roles may not do."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import asyncpg
import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]  # openpyxl ships no types
from tests.support import (
    client,
    command,
    eventually,
    post,
    unique_person,
    v2_registration,
    wait_projected,
)
from tests.test_coaching_flows import coach, known_to_coaching, open_case, opening, registered
from tests.test_courses_flows import course_cmd, participants, scheduling

from durchstarten.auth import Role
from durchstarten_deploy.stack import SPLIT_ROLES, ServiceProcess, Stack
from durchstarten_deploy.testing import TEST_PROVIDERS

pytestmark = pytest.mark.integration

ALPHA, BETA = TEST_PROVIDERS


async def trail_about(stack: Stack, service: str, participant: str) -> list[dict[str, Any]]:
    """The service's audit entries about a participant, oldest first."""
    connection = await asyncpg.connect(stack.service_database_url(service))
    try:
        rows = await connection.fetch(
            "SELECT actor, action, purpose FROM audit_trail WHERE participant_id = $1 ORDER BY seq",
            uuid.UUID(participant),
        )
    finally:
        await connection.close()
    return [dict(row) for row in rows]


@pytest.mark.parametrize("service", SPLIT_ROLES)
async def test_the_service_role_cannot_update_delete_or_truncate_its_audit_trail(
    stack: Stack, services: dict[str, ServiceProcess], service: str
) -> None:
    assert services[service].ready()  # the service runs with these very credentials
    env = stack.service_env(service, 0)
    connection = await asyncpg.connect(env["DURCHSTARTEN_DATABASE_URL"])
    try:
        assert (
            await connection.fetchval("SELECT current_user")
            == f"{stack.database_name(service)}_app"
        )
        for attack in (
            "UPDATE audit_trail SET purpose = 'nothing to see'",
            "DELETE FROM audit_trail",
            "TRUNCATE audit_trail",
            "SELECT key FROM audit_key",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(attack)
        checked = await connection.fetchrow("SELECT * FROM audit_verify()")
        assert checked["first_broken_seq"] is None
    finally:
        await connection.close()


async def test_reads_of_person_level_rows_in_coaching_and_courses_are_audited(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    person = await registered(stack, ALPHA)
    case = opening(person)
    assert (await coach(stack, "open-case.v1", ALPHA, case)).status_code == 201
    async with client(stack, "coaching", Role.PROVIDER, ALPHA) as coaching:
        own = await coaching.get(f"/v1/cases/{case['case_id']}", headers={"X-Purpose": "Beratung"})
        assert own.status_code == 200
        due = await coaching.get("/v1/due/follow-ups", params={"on": "2030-01-01"})
        assert due.status_code == 200
    async with client(stack, "coaching", Role.PROVIDER, BETA) as other:
        # Another provider's attempt shows nothing, so it reads nothing to audit.
        assert (await other.get(f"/v1/cases/{case['case_id']}")).status_code == 404
    entries = await trail_about(stack, "coaching", person)
    assert [(e["action"], e["purpose"]) for e in entries] == [("case.read", "Beratung")]
    assert entries[0]["actor"]  # the token's subject

    (learner,) = await participants(stack, BETA, 1)
    schedule = scheduling(
        "preparatory-course",
        "F4",
        ("2022-03-01", "2022-12-31"),
        [{"name": "main", "planned_ue": 50}],
        capacity=10,
    )
    assert (await course_cmd(stack, "schedule-course.v1", BETA, schedule)).status_code == 201
    enrol = {
        "course_id": schedule["course_id"],
        "participant_id": learner,
        "requested_on": "2022-03-01",
    }
    assert (await course_cmd(stack, "enrol.v1", BETA, enrol)).status_code == 201
    async with client(stack, "courses", Role.COORDINATOR) as courses:
        roster = await courses.get(f"/v1/courses/{schedule['course_id']}")
        assert [p["participant_id"] for p in roster.json()["participants"]] == [learner]
    read = await trail_about(stack, "courses", learner)
    assert [(e["action"], e["purpose"]) for e in read] == [
        ("course-roster.read", "course administration")
    ]


async def test_the_access_export_of_one_of_a_duplicate_pair_holds_nothing_of_the_other(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    person = unique_person()
    first_registration = v2_registration(ALPHA, **person)
    first = await post(stack, first_registration, Role.PROVIDER, ALPHA)
    earlier = first.json()["participant_id"]
    # Another provider registers someone much alike: flagged as a possible duplicate.
    alike = person | {"birth_date": person["birth_date"][:4] + "-01-01"}
    second = await post(stack, v2_registration(BETA, **alike), Role.PROVIDER, BETA)
    assert second.json()["status"] == "possible-duplicate", second.text
    pid = second.json()["participant_id"]  # the person who asks
    case_id = await open_case(stack, pid, BETA)
    await wait_projected(stack, [earlier, pid], what="both registrations projected")
    resolve = command(
        "resolve-duplicate.v1",
        "county",
        {
            "participant_id": pid,
            "duplicate_of": earlier,
            "decision": "confirmed",
            "decided_by": "ki-1",
        },
    )
    assert (await post(stack, resolve, Role.COORDINATOR)).status_code == 201

    async with client(stack, "intake", Role.PROVIDER, BETA) as provider:
        path = f"/v1/participants/{pid}/access-export"
        refused = await provider.get(path, headers={"X-Purpose": "Auskunft"})
        assert refused.status_code == 403
    async with client(stack, "intake", Role.COORDINATOR) as intake:
        missing = await intake.get(
            f"/v1/participants/{uuid.uuid4()}/access-export", headers={"X-Purpose": "Auskunft"}
        )
        assert missing.status_code == 404
        purpose = {"X-Purpose": "Auskunftsersuchen Art. 15 vom 2026-12-01"}

        async def complete() -> dict[str, Any] | None:
            response = await intake.get(path, headers=purpose)
            assert response.status_code == 200, response.text
            found: dict[str, Any] = response.json()
            types = {e["type"] for e in found["events"]}
            wanted = {"case.opened.v1", "participant.duplicate-confirmed.v1"}
            return found if wanted <= types else None

        document = await eventually(complete, what="the case and the merge in the export")
        workbook = await intake.get(path, headers=purpose, params={"format": "xlsx"})
    assert workbook.status_code == 200
    assert document["record"]["identity"]["birth_date"] == alike["birth_date"]
    assert document["record"]["deletion"]["deletion_date"]
    assert any(e["data"].get("case_id") == case_id for e in document["events"])
    (merged,) = [e for e in document["events"] if e["type"] == "participant.duplicate-confirmed.v1"]
    assert merged["data"]["duplicate_of"] == "withheld: another registration"
    assert {r["provider"] for r in document["recipients"]} == {BETA}
    assert ("identity.export", purpose["X-Purpose"]) in {
        (e["action"], e["purpose"]) for e in document["audit"]
    }
    # Nothing of the other registration: its pseudonym, reference, birth date, provider.
    sheets = load_workbook(io.BytesIO(workbook.content))
    cells = " ".join(
        str(cell)
        for sheet in sheets.worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        if cell is not None
    )
    for text in (json.dumps(document), cells):
        assert alike["birth_date"] in text  # the person's own identifiers are there
        assert earlier not in text
        assert first_registration["data"]["provider_reference"] not in text
        assert person["birth_date"] not in text
        assert ALPHA not in text
    # Coaching's trail answers the same request from its own database.
    async with client(stack, "coaching", Role.COORDINATOR) as coaching:
        trail = await coaching.get(f"/v1/audit/participants/{pid}")
        assert trail.status_code == 200
        assert trail.json()["participant_id"] == pid
    async with client(stack, "coaching", Role.PROVIDER, BETA) as provider:
        assert (await provider.get(f"/v1/audit/participants/{pid}")).status_code == 403


async def withdraw_sharing(stack: Stack, provider: str, participant: str) -> None:
    withdraw = command(
        "withdraw-consent.v1",
        provider,
        {
            "participant_id": participant,
            "scopes": ["data-sharing-between-providers"],
            "withdrawn_on": "2022-06-01",
        },
    )
    response = await post(stack, withdraw, Role.PROVIDER, provider)
    assert response.status_code == 201, response.text


async def providers_with_access(stack: Stack, participant: str) -> dict[str, set[str]]:
    """Who may work with the person: in coaching (access) and courses (may enrol)."""
    found: dict[str, set[str]] = {}
    for service, query in (
        ("coaching", "SELECT provider FROM participant_access WHERE participant_id = $1"),
        ("courses", "SELECT provider FROM participant_providers WHERE participant_id = $1"),
    ):
        connection = await asyncpg.connect(stack.service_database_url(service))
        try:
            rows = await connection.fetch(query, uuid.UUID(participant))
        finally:
            await connection.close()
        found[service] = {row["provider"] for row in rows}
    return found


async def test_a_referral_needs_consent_and_withdrawing_it_revokes_the_other_providers_access(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    unconsented = await post(stack, v2_registration(ALPHA, consent=None), Role.PROVIDER, ALPHA)
    stranger = unconsented.json()["participant_id"]
    await known_to_coaching(stack, stranger)
    person = await registered(stack, ALPHA)  # consents to sharing, as the form asks
    for participant, expected in ((stranger, 422), (person, 201)):
        case = opening(participant)
        assert (await coach(stack, "open-case.v1", ALPHA, case)).status_code == 201
        referral = {
            "referral_id": str(uuid.uuid4()),
            "case_id": case["case_id"],
            "made_on": "2022-04-01",
            "target": {"kind": "provider", "provider": BETA},
        }
        made = await coach(stack, "make-referral.v1", ALPHA, referral)
        assert made.status_code == expected, made.text
    assert made.status_code == 201
    answer = {
        "referral_id": referral["referral_id"],
        "answer": "accepted",
        "answered_on": "2022-04-05",
    }
    assert (await coach(stack, "answer-referral.v1", BETA, answer)).status_code == 201

    async def both_may(participant: str) -> bool:
        access = await providers_with_access(stack, participant)
        return access == {"coaching": {ALPHA, BETA}, "courses": {ALPHA, BETA}}

    await eventually(lambda: both_may(person), what="BETA's access after the referral")
    await withdraw_sharing(stack, ALPHA, person)

    async def only_alpha() -> bool:
        access = await providers_with_access(stack, person)
        return access == {"coaching": {ALPHA}, "courses": {ALPHA}}

    await eventually(only_alpha, what="BETA's access revoked in coaching and courses")
    later = opening(person, "F6", site="herford")
    refused = await coach(stack, "open-case.v1", BETA, later)
    assert refused.status_code in (202, 404), refused.text  # held as for a stranger, never opened
