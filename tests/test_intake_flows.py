"""Intake's flows end to end: eligibility and exceptions, duplicates, scoping, erasure."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest
from tests.support import (
    IDENTIFIER_MARKERS,
    client,
    command,
    encoded,
    eventually,
    first_value,
    post,
    produce,
    projected_ids,
    read_participant,
    read_to_end,
    read_topic,
    registration,
    replies_to,
    reporting_connection,
    unique_person,
    v2_registration,
    values_of,
    wait_projected,
)

from durchstarten.auth import Role
from durchstarten.events.topics import INTAKE_EVENTS, dead_letters, inbound, outbound
from durchstarten_deploy.stack import KEY_STORE, ServiceProcess, Stack
from durchstarten_deploy.testing import TEST_PROVIDERS

pytestmark = pytest.mark.integration

ALPHA, BETA = TEST_PROVIDERS


async def in_report(stack: Stack, participant_id: str) -> bool:
    return participant_id in await projected_ids(stack)


async def test_a_waivable_failure_waits_for_a_coordinator_who_approves_it(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    too_old = v2_registration(ALPHA, birth_date="1990-01-01")
    response = await post(stack, too_old, Role.PROVIDER, ALPHA)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending-exception"
    assert [r["reason"] for r in body["failed_rules"]] == ["age-above-maximum"]
    pid = body["participant_id"]

    async with client(stack, "intake", Role.COORDINATOR) as intake:
        pending = await intake.get("/v1/coordination/pending-exceptions")
    assert pid in {row["participant_id"] for row in pending.json()["pending"]}
    assert not await in_report(stack, pid)

    approve = command(
        "approve-eligibility-exception.v1",
        "county",
        {
            "participant_id": pid,
            "rules": ["age"],
            "reason": "Turned 28 shortly before entry; coaching had started.",
            "approver": "ki-koordination-01",
        },
    )
    assert (await post(stack, approve, Role.PROVIDER, ALPHA)).status_code == 403
    approved = await post(stack, approve, Role.COORDINATOR)
    assert approved.status_code == 201, approved.text
    await wait_projected(stack, [pid], what="approved participant projected")
    registered = await first_value(
        stack,
        INTAKE_EVENTS,
        lambda v: v.get("subject") == pid and v["type"] == "participant.registered.v3",
    )
    assert registered["data"]["eligibility_exception"] is True


async def test_a_refused_exception_tells_the_provider_and_erases_the_identity(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    status = {"status": "aufenthaltserlaubnis", "legal_basis": "aufenthg-25"}
    pid = (
        await post(stack, v2_registration(BETA, residence_status=status), Role.PROVIDER, BETA)
    ).json()["participant_id"]
    deny = command(
        "deny-eligibility-exception.v1",
        "county",
        {
            "participant_id": pid,
            "reason": "Regular services are open to this person.",
            "approver": "ki-1",
        },
    )
    assert (await post(stack, deny, Role.COORDINATOR)).status_code == 201
    refusal = await first_value(
        stack,
        outbound(BETA, "intake"),
        lambda v: v.get("subject") == pid and v["type"] == "command.rejected.v1",
    )
    assert refusal["data"]["reason"] == "eligibility-exception-denied"
    found = await read_participant(stack, pid, Role.COORDINATOR)
    assert found.json()["identity"] is None
    assert found.json()["status"] == "denied"


async def test_a_rule_no_one_may_waive_rejects_and_names_every_failed_rule(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    body = v2_registration(ALPHA, lives_in_state_reception_facility=True, birth_date="1990-01-01")
    response = await post(stack, body, Role.PROVIDER, ALPHA)
    assert response.status_code == 422
    assert response.json()["reason"] == "not-eligible"
    assert {r["reason"] for r in response.json()["failed_rules"]} == {
        "age-above-maximum",
        "lives-in-state-reception-facility",
    }


async def test_a_provider_sees_only_its_own_participants(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    pid = (await post(stack, v2_registration(ALPHA), Role.PROVIDER, ALPHA)).json()["participant_id"]
    own = await read_participant(stack, pid, Role.PROVIDER, ALPHA)
    assert own.status_code == 200
    assert own.json()["identity"]["family_name"].startswith("Familientestname")
    assert own.json()["history"]["residence_status"][0]["status"] == "gestattung"
    foreign = await read_participant(stack, pid, Role.PROVIDER, BETA)
    missing = await read_participant(stack, str(uuid.uuid4()), Role.PROVIDER, BETA)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()  # nothing tells the two apart
    exit_foreign = command(
        "record-programme-exit.v1",
        BETA,
        {"participant_id": pid, "exit_date": "2022-12-31", "reason": "placed"},
    )
    refused = await post(stack, exit_foreign, Role.PROVIDER, BETA)
    assert refused.status_code == 404
    assert refused.json()["reason"] == "unknown-participant"
    assert (await read_participant(stack, pid, Role.COORDINATOR)).status_code == 200


async def test_status_change_and_exit_keep_a_history_and_emit_events(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    pid = (await post(stack, v2_registration(ALPHA), Role.PROVIDER, ALPHA)).json()["participant_id"]
    change = command(
        "record-residence-status-change.v1",
        ALPHA,
        {
            "participant_id": pid,
            "status": "aufenthaltserlaubnis",
            "legal_basis": "aufenthg-25",
            "since": "2022-09-01",
        },
    )
    assert (await post(stack, change, Role.PROVIDER, ALPHA)).status_code == 201
    leave = command(
        "record-programme-exit.v1",
        ALPHA,
        {"participant_id": pid, "exit_date": "2022-02-01", "reason": "placed"},
    )
    early = await post(stack, leave, Role.PROVIDER, ALPHA)
    assert early.json()["reason"] == "exit-before-entry"
    leave["data"]["exit_date"] = "2022-12-31"
    leave["id"] = str(uuid.uuid4())
    assert (await post(stack, leave, Role.PROVIDER, ALPHA)).status_code == 201
    history = (await read_participant(stack, pid, Role.PROVIDER, ALPHA)).json()["history"]
    assert [h["status"] for h in history["residence_status"]] == [
        "gestattung",
        "aufenthaltserlaubnis",
    ]
    events = await read_topic(
        stack,
        INTAKE_EVENTS,
        until=lambda records: sum(1 for v in values_of(records) if v.get("subject") == pid) >= 3,
    )
    mine = [v for v in values_of(events) if v.get("subject") == pid]
    changed = next(v for v in mine if v["type"] == "participant.residence-status-changed.v1")
    assert changed["data"]["programme_eligible"] is False  # no longer in the target group
    assert any(v["type"] == "participant.exited.v1" for v in mine)


async def test_the_same_person_from_another_provider_is_recognised(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    person = unique_person()
    first = await post(stack, v2_registration(ALPHA, **person), Role.PROVIDER, ALPHA)
    pid = first.json()["participant_id"]
    # The other provider writes the names the other way round.
    swapped = person | {"given_name": person["family_name"], "family_name": person["given_name"]}
    second = await post(stack, v2_registration(BETA, **swapped), Role.PROVIDER, BETA)
    assert second.json()["status"] == "existing-participant"
    assert second.json()["participant_id"] == pid
    assert (await read_participant(stack, pid, Role.PROVIDER, BETA)).status_code == 200

    # Only the year known to the third registration: a possible match, for a coordinator.
    vague = person | {"birth_date": person["birth_date"][:4] + "-01-01"}
    third = await post(stack, v2_registration(BETA, **vague), Role.PROVIDER, BETA)
    assert third.json()["status"] == "possible-duplicate"
    duplicate = third.json()["participant_id"]
    await wait_projected(stack, [duplicate], what="flagged registration projected")
    resolve = command(
        "resolve-duplicate.v1",
        "county",
        {
            "participant_id": duplicate,
            "duplicate_of": pid,
            "decision": "confirmed",
            "decided_by": "ki-1",
        },
    )
    assert (await post(stack, resolve, Role.COORDINATOR)).status_code == 201

    async def merged() -> bool:
        return duplicate not in await projected_ids(stack)

    await eventually(merged, what="confirmed duplicate no longer counted")
    assert pid in await projected_ids(stack)


async def test_erasure_reaches_every_service_and_leaves_no_identifier_anywhere(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    register = registration(ALPHA)  # v1 over Kafka, as an older provider system sends it
    await produce(stack, inbound(ALPHA, "intake"), encoded([register]))
    replies = await replies_to(stack, ALPHA, "intake", {register["id"]})
    pid = replies[register["id"]]["data"]["participant_id"]
    await wait_projected(stack, [pid], what="registration projected")

    erase = command(
        "request-erasure.v1", ALPHA, {"participant_id": pid, "reason": "participant-request"}
    )
    await produce(stack, inbound(ALPHA, "intake"), encoded([erase]))

    async def gone_from_report() -> bool:
        return not await in_report(stack, pid)

    await eventually(gone_from_report, what="reporting removed the person")
    store = await asyncpg.connect(stack.service_database_url(KEY_STORE))
    try:
        keys = await store.fetchval(
            "SELECT count(*) FROM participant_keys WHERE participant_id = $1", uuid.UUID(pid)
        )
    finally:
        await store.close()
    connection = await asyncpg.connect(stack.service_database_url("intake"))
    try:
        ciphertexts = await connection.fetchval(
            "SELECT count(*) FROM identities WHERE participant_id = $1", uuid.UUID(pid)
        )
        index = await connection.fetchval(
            "SELECT count(*) FROM identity_index WHERE participant_id = $1", uuid.UUID(pid)
        )
        status = await connection.fetchval(
            "SELECT status FROM participants WHERE participant_id = $1", uuid.UUID(pid)
        )
    finally:
        await connection.close()
    assert (keys, ciphertexts, index, status) == (0, 0, 0, "erased")
    after = await read_participant(stack, pid, Role.COORDINATOR)
    assert after.json()["identity"] is None
    again = command(
        "record-programme-exit.v1",
        ALPHA,
        {"participant_id": pid, "exit_date": "2022-12-31", "reason": "placed"},
    )
    assert (await post(stack, again, Role.PROVIDER, ALPHA)).json()["reason"] == "participant-erased"

    # No identifier in any topic, dead letter, log or metric of the whole run.
    topics = [INTAKE_EVENTS, dead_letters(INTAKE_EVENTS)]
    for provider in TEST_PROVIDERS:
        topics += [outbound(provider, "intake"), dead_letters(inbound(provider, "intake"))]
    for topic in topics:
        for record in await read_to_end(stack, topic):
            for marker in IDENTIFIER_MARKERS:
                assert marker.encode() not in (record.value or b""), topic
                assert all(marker.encode() not in value for _, value in record.headers), topic
    for log_file in (stack.state_dir / "logs").glob("*.log"):
        for marker in IDENTIFIER_MARKERS:
            assert marker not in log_file.read_text(), log_file.name
    for process in services.values():
        async with httpx.AsyncClient(base_url=process.metrics_url) as service:
            metrics = (await service.get("/metrics")).text
        for marker in IDENTIFIER_MARKERS:
            assert marker not in metrics


async def test_coordinators_search_by_name_and_every_access_is_audited(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    person = unique_person()
    pid = (await post(stack, v2_registration(ALPHA, **person), Role.PROVIDER, ALPHA)).json()[
        "participant_id"
    ]
    async with client(stack, "intake") as intake:
        params = {"name": f"{person['family_name']} {person['given_name']}"}
        purpose = {"X-Purpose": "duplicate enquiry by phone"}
        as_provider = await intake.get(
            "/v1/participants",
            params=params,
            headers={"Authorization": f"Bearer {stack.token(Role.PROVIDER, ALPHA)}"} | purpose,
        )
        assert as_provider.status_code == 403
        coordinator = {"Authorization": f"Bearer {stack.token(Role.COORDINATOR)}"}
        without_purpose = await intake.get("/v1/participants", params=params, headers=coordinator)
        assert without_purpose.status_code == 422
        found = await intake.get("/v1/participants", params=params, headers=coordinator | purpose)
        assert [r["participant_id"] for r in found.json()["results"]] == [pid]
        await read_participant(stack, pid, Role.COORDINATOR)
        verification = await intake.get("/v1/audit/verification", headers=coordinator)
    assert verification.json()["intact"] is True
    connection = await asyncpg.connect(stack.service_database_url("intake"))
    try:
        entries = await connection.fetch(
            "SELECT actor, action, purpose FROM audit_trail WHERE participant_id = $1 ORDER BY seq",
            uuid.UUID(pid),
        )
        searches = await connection.fetchval(
            "SELECT count(*) FROM audit_trail WHERE action = 'identity.search'"
            " AND purpose LIKE 'duplicate enquiry by phone%'"
        )
    finally:
        await connection.close()
    actions = [(row["action"], row["purpose"]) for row in entries]
    assert ("identity.write", "registration") in actions
    assert ("identity.read", "test case work") in actions
    assert searches >= 1


async def test_a_coordinator_sets_lists_and_releases_a_legal_hold_and_no_one_else_may(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    response = await post(stack, v2_registration(ALPHA), Role.PROVIDER, ALPHA)
    assert response.status_code == 201, response.text
    pid = response.json()["participant_id"]
    hold = f"/v1/participants/{pid}/legal-hold"
    reason = {"reason": "Klage vor dem Sozialgericht anhängig (Az. S 12 AS 345/26)"}
    async with client(stack, "intake", Role.PROVIDER, ALPHA) as provider:
        assert (await provider.put(hold, json=reason)).status_code == 403
        assert (await provider.get("/v1/coordination/legal-holds")).status_code == 403
    async with client(stack, "intake", Role.COORDINATOR) as intake:
        too_short = await intake.put(hold, json={"reason": "weil"})
        assert too_short.status_code == 422
        assert "reason" in too_short.text
        unknown = await intake.put(f"/v1/participants/{uuid.uuid4()}/legal-hold", json=reason)
        assert unknown.status_code == 404
        assert (await intake.put(hold, json=reason)).status_code == 201
        twice = await intake.put(hold, json=reason)
        assert (twice.status_code, twice.json()["detail"]["reason"]) == (
            409,
            "legal-hold-in-force",
        )
        listed = (await intake.get("/v1/coordination/legal-holds")).json()["in_force"]
        assert pid in {row["participant_id"] for row in listed}
        assert all("reason" not in row for row in listed)  # the reason stays sealed
    record = (await read_participant(stack, pid, Role.COORDINATOR)).json()
    assert record["deletion"]["legal_hold"]["set_by"]
    seen_by_provider = (await read_participant(stack, pid, Role.PROVIDER, ALPHA)).json()
    assert seen_by_provider["deletion"]["legal_hold"] is None  # county staff's to know
    assert record["deletion"]["deletion_date"]  # entry + the plan's period without an exit
    assert record["deletion"]["erased"] is None
    async with client(stack, "intake", Role.COORDINATOR) as intake:
        assert (await intake.delete(hold)).status_code == 200
        again = await intake.delete(hold)
        assert (again.status_code, again.json()["detail"]["reason"]) == (404, "no-legal-hold")
        listed = (await intake.get("/v1/coordination/legal-holds")).json()["in_force"]
        assert pid not in {row["participant_id"] for row in listed}
    record = (await read_participant(stack, pid, Role.COORDINATOR)).json()
    assert record["deletion"]["legal_hold"] is None
    connection = await asyncpg.connect(stack.service_database_url("intake"))
    try:
        actions = await connection.fetch(
            "SELECT action FROM audit_trail WHERE participant_id = $1 ORDER BY seq", uuid.UUID(pid)
        )
    finally:
        await connection.close()
    assert [a["action"] for a in actions].count("legal-hold.set") == 1
    assert [a["action"] for a in actions].count("legal-hold.release") == 1


async def test_a_rectified_birth_date_reaches_the_reports_and_the_record(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    registered = await post(
        stack, v2_registration(ALPHA, birth_date="2001-05-04"), Role.PROVIDER, ALPHA
    )
    pid = registered.json()["participant_id"]
    await wait_projected(stack, [pid], what="registration projected")
    correct = command(
        "correct-identity.v1",
        ALPHA,
        {"participant_id": pid, "birth_date": "1999-12-01", "reason": "Laut Reisepass."},
    )
    assert (await post(stack, correct, Role.PROVIDER, BETA)).status_code == 404  # not BETA's
    corrected = await post(stack, correct, Role.PROVIDER, ALPHA)
    assert corrected.status_code == 201, corrected.text

    async def age_in_report() -> int | None:
        connection = await reporting_connection(stack)
        try:
            age: int | None = await connection.fetchval(
                "SELECT age_at_entry FROM participants WHERE participant_id = $1", uuid.UUID(pid)
            )
        finally:
            await connection.close()
        return age if age == 22 else None  # entry 2022-03-01: 20 before, 22 now

    await eventually(age_in_report, what="the corrected age in reporting")
    record = (await read_participant(stack, pid, Role.COORDINATOR)).json()
    assert record["identity"]["birth_date"] == "1999-12-01"
