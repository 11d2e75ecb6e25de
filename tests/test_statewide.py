"""Statewide, end to end: counties from files, county-scoped coordinators, moves, the state table.

Against the session's stack: its counties are the shipped county files (Kreis Herford, Kreis
Gütersloh, Bielefeld) with the test providers; the first works in all three, the second not
in Gütersloh. The people here enter in 2024, which no other test uses, so the tables of
that year are theirs (Herford's rows hold other tests' people in other years).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from tests.support import (
    PATIENCE_S,
    SERVED_THRESHOLD,
    cell_at,
    command,
    encoded,
    eventually,
    first_value,
    post,
    produce,
    projected_ids,
    read_participant,
    reporting_connection,
    unique_person,
    v2_registration,
    wait_projected,
)

from durchstarten.auth import Role
from durchstarten.counties import load_counties
from durchstarten.db.pool import create_pool
from durchstarten.events import RegisterParticipant
from durchstarten.events.topics import INTAKE_EVENTS, inbound
from durchstarten_deploy.stack import ServiceProcess, Stack
from durchstarten_deploy.testing import OUTSIDE_BETA, TEST_PROVIDERS
from reporting.audit import ProtectionRule
from reporting.reports import quarterly_monitoring
from reporting.statewide import audit_statewide, compute_statewide
from reporting.versions import live_schema, reading, through_lens

pytestmark = pytest.mark.integration

ALPHA, BETA = TEST_PROVIDERS
HERFORD, GUETERSLOH, BIELEFELD = "05758", "05754", "05711"
SHIPPED = load_counties()
RULE = ProtectionRule(threshold=SERVED_THRESHOLD, hidden_minimum=1)
"""The served rule (as the service's, `ReportingSettings.protection_rule`)."""


def registration(provider: str, municipality: str, entry: str, **person: str) -> dict[str, Any]:
    """A current-version registration in a municipality (by its key), with consent."""
    data: dict[str, Any] = {
        "provider_reference": f"REF-{uuid.uuid4().hex[:8]}",
        **(person or unique_person()),
        "sex": "male",
        "country_of_origin": "AFG",
        "residence_status": {"status": "gestattung", "legal_basis": "asylg-55"},
        "municipality": municipality,
        "german_level": {"overall": "A1"},
        "consent": {"scopes": ["data-sharing-between-providers"], "given_on": entry},
        "entry_date": entry,
    }
    return command(RegisterParticipant.command_type, provider, data)


async def register(
    stack: Stack, provider: str, municipality: str, entry: str, **person: str
) -> str:
    """Register over HTTP; the participant id of the reply."""
    answer = await post(
        stack, registration(provider, municipality, entry, **person), Role.PROVIDER, provider
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["participant_id"])


def as_role(stack: Stack, service: str, role: Role, county: str = HERFORD) -> httpx.AsyncClient:
    """A client for `service` as `role`; a coordinator of `county`."""
    token = stack.token(role, county=county)
    return httpx.AsyncClient(
        base_url=stack.services[service].url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=PATIENCE_S,
    )


async def quarterly(
    stack: Stack, role: Role, county: str | None, *, token: str | None = None, **period: int
) -> httpx.Response:
    """The quarterly table of `county`, asked with a token of `token`'s county (`county`'s)."""
    params: dict[str, Any] = dict(period)
    if county is not None:
        params["county"] = county
    async with as_role(stack, "reporting", role, token or county or HERFORD) as reporting:
        return await reporting.get("/v1/reports/quarterly-monitoring", params=params)


async def state_table(stack: Stack, year: int, quarter: int) -> dict[str, Any]:
    async with as_role(stack, "reporting", Role.MINISTRY) as reporting:
        answer = await reporting.get(
            "/v1/reports/state-monitoring",
            params={"year": year, "quarter": quarter},
            headers={"Cache-Control": "no-cache"},
        )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def value(table: dict[str, Any], row: str, column: str) -> int | None:
    cell = cell_at(table, row, column)
    return None if cell["suppressed"] else int(cell["value"])


async def test_the_county_files_configure_the_tables_rows(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    for county in (HERFORD, GUETERSLOH, BIELEFELD):
        answer = await quarterly(stack, Role.COORDINATOR, county, year=2024, quarter=1)
        assert answer.status_code == 200, answer.text
        rows = answer.json()["by_municipality"]["rows"]
        assert rows == SHIPPED.municipalities(county)
    assert len(SHIPPED.municipalities(GUETERSLOH)) == 13
    assert SHIPPED.municipalities(BIELEFELD) == ["05711000"]


async def test_a_coordinator_sees_and_decides_only_within_its_county(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    pid = await register(stack, ALPHA, "05754008", "2024-01-15")  # Gütersloh, Stadt
    herford = await read_participant(stack, pid, Role.COORDINATOR)  # a Herford token
    assert herford.status_code == 404
    assert herford.json()["detail"]["reason"] == "unknown-participant"
    async with as_role(stack, "intake", Role.COORDINATOR, GUETERSLOH) as intake:
        own = await intake.get(f"/v1/participants/{pid}", headers={"X-Purpose": "case work"})
    assert own.status_code == 200, own.text
    assert (own.json()["county"], own.json()["municipality"]) == (GUETERSLOH, "05754008")

    # Tables: Herford's coordinator may not have Gütersloh's, nor the state's.
    refused = await quarterly(
        stack, Role.COORDINATOR, GUETERSLOH, token=HERFORD, year=2024, quarter=1
    )
    assert refused.status_code == 403
    assert refused.json()["detail"]["reason"] == "outside-county"
    async with as_role(stack, "reporting", Role.COORDINATOR) as reporting:
        state = await reporting.get(
            "/v1/reports/state-monitoring", params={"year": 2024, "quarter": 1}
        )
        dashboard = await reporting.get("/v1/dashboard/data", params={"county": GUETERSLOH})
    assert state.status_code == 403
    assert dashboard.status_code == 403
    ministry = await quarterly(stack, Role.MINISTRY, GUETERSLOH, year=2024, quarter=1)
    assert ministry.status_code == 200

    # A waiting exception is the county's to decide: Herford's lists and decisions miss it.
    too_old = {**unique_person(), "birth_date": "1980-01-01"}
    waiting = await post(
        stack, registration(ALPHA, "05754028", "2024-02-01", **too_old), Role.PROVIDER, ALPHA
    )
    assert waiting.status_code == 201, waiting.text
    waiting_id = waiting.json()["participant_id"]
    approve = command(
        "approve-eligibility-exception.v1",
        "county",
        {"participant_id": waiting_id, "rules": ["age"], "reason": "Begründet.", "approver": "k-1"},
    )

    async def pending(county: str) -> set[str]:
        async with as_role(stack, "intake", Role.COORDINATOR, county) as intake:
            found = await intake.get("/v1/coordination/pending-exceptions")
        assert found.status_code == 200, found.text
        return {row["participant_id"] for row in found.json()["pending"]}

    if waiting.json()["status"] == "pending-exception":
        assert waiting_id not in await pending(HERFORD)
        assert waiting_id in await pending(GUETERSLOH)
        async with as_role(stack, "intake", Role.COORDINATOR) as intake:
            foreign = await intake.post("/v1/commands", content=json.dumps(approve))
        assert foreign.status_code == 404, foreign.text
        async with as_role(stack, "intake", Role.COORDINATOR, GUETERSLOH) as intake:
            decided = await intake.post("/v1/commands", content=json.dumps(approve))
        assert decided.status_code == 201, decided.text


async def test_registrations_outside_the_providers_counties_are_refused_naming_the_field(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    assert OUTSIDE_BETA == GUETERSLOH
    for provider, municipality, reason in (
        (BETA, "05754008", "provider-not-in-county"),  # Gütersloh: not BETA's
        (ALPHA, "05758099", "unknown-municipality"),  # well-formed, in no county file
        (ALPHA, "09162000", "unknown-municipality"),  # München
    ):
        answer = await post(
            stack, registration(provider, municipality, "2024-03-01"), Role.PROVIDER, provider
        )
        assert answer.status_code == 422, answer.text
        detail = answer.json()
        assert (detail["reason"], detail["field"]) == (reason, "data.municipality")
    named = await post(
        stack,
        registration(ALPHA, "herford", "2024-03-01"),  # a name is no key in the current version
        Role.PROVIDER,
        ALPHA,
    )
    assert named.status_code == 422
    assert named.json()["field"] == "data.municipality"


async def test_the_previous_herford_registration_is_accepted_with_its_key(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    answer = await post(stack, v2_registration(ALPHA), Role.PROVIDER, ALPHA)  # "loehne"
    assert answer.status_code == 201, answer.text
    pid = answer.json()["participant_id"]
    registered = await first_value(
        stack,
        INTAKE_EVENTS,
        lambda v: v.get("subject") == pid and v["type"] == "participant.registered.v3",
    )
    assert (registered["data"]["municipality"], registered["data"]["county"]) == (
        "05758024",
        HERFORD,
    )


Totals = dict[str, dict[str, int]]


async def truths(stack: Stack, year: int, quarter: int) -> Totals:
    """Each county's and the state's unprotected totals of a quarter, read as reporting does.

    The served tables may withhold any cell; the truths say what the counting does.
    """
    pool = await create_pool(stack.service_database_url("reporting"))
    found: Totals = {}
    try:
        async with reading(pool) as connection:
            schema = await live_schema(connection)
            for county in (HERFORD, GUETERSLOH, BIELEFELD, None):
                await through_lens(connection, schema, county)
                table = await quarterly_monitoring(
                    connection, year=year, quarter=quarter, min_cell_count=1
                )
                columns = table["by_municipality"]["columns"]
                totals = table["by_municipality"]["column_totals"]
                found[county or "state"] = {
                    c: int(t["value"]) for c, t in zip(columns, totals, strict=True)
                }
    finally:
        await pool.close()
    return found


def change(after: Totals, before: Totals) -> Totals:
    return {k: {m: after[k][m] - before[k][m] for m in after[k]} for k in after}


async def test_a_person_registered_in_two_counties_is_one_person_counted_once(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    """Six people enter in Gütersloh in 2021-Q2 and move to Bielefeld in Q3, where five
    others enter: Gütersloh counts six exits, Bielefeld eleven entries, the state five."""
    before = {q: await truths(stack, 2021, q) for q in (2, 3)}
    movers = [unique_person() for _ in range(6)]
    first = [await register(stack, ALPHA, "05754008", "2021-04-08", **p) for p in movers]
    stayers = [await register(stack, ALPHA, "05711000", "2021-08-12") for _ in range(5)]
    again = []
    for person in movers:
        answer = await post(
            stack, registration(ALPHA, "05711000", "2021-08-05", **person), Role.PROVIDER, ALPHA
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["status"] == "existing-participant"
        again.append(answer.json()["participant_id"])
    assert again == first  # found statewide: the same pseudonym
    for pid in first:

        def is_move(v: dict[str, Any], pid: str = pid) -> bool:
            return bool(v.get("subject") == pid and v["type"] == "participant.moved.v1")

        moved = await first_value(stack, INTAKE_EVENTS, is_move)
        assert (moved["data"]["from_county"], moved["data"]["to_county"]) == (GUETERSLOH, BIELEFELD)
    await wait_projected(stack, [*first, *stayers], what="movers and stayers projected")
    async with as_role(stack, "intake", Role.COORDINATOR, BIELEFELD) as intake:
        taken_over = await intake.get(f"/v1/participants/{first[0]}", headers={"X-Purpose": "case"})
    assert taken_over.status_code == 200  # the new county's coordinator takes over

    async def moves_counted() -> Totals | None:
        now = change(await truths(stack, 2021, 3), before[3])
        return now if now[BIELEFELD]["entries"] == 11 else None

    q3 = await eventually(moves_counted, what="the moves in the tables")
    assert q3[GUETERSLOH] == {"entries": 0, "exits": 6, "caseload": 0}
    assert q3[BIELEFELD] == {"entries": 11, "exits": 0, "caseload": 11}
    assert q3[HERFORD] == {"entries": 0, "exits": 0, "caseload": 0}
    # The movers entered the state once, in Q2; a move is neither an entry nor an exit.
    assert q3["state"] == {"entries": 5, "exits": 0, "caseload": 11}
    q2 = change(await truths(stack, 2021, 2), before[2])
    assert q2[GUETERSLOH]["entries"] == 6
    assert q2["state"] == {"entries": 6, "exits": 0, "caseload": 6}

    # The state table serves those counts (or withholds them), never others.
    now = await truths(stack, 2021, 3)
    served = await state_table(stack, 2021, 3)
    for county in (HERFORD, GUETERSLOH, BIELEFELD):
        for measure, truth in now[county].items():
            assert value(served["by_county"], county, measure) in (truth, None)
    for measure, truth in now["state"].items():
        assert value(served["state"], "state", measure) in (truth, None)
    assert (
        now[GUETERSLOH]["entries"] + now[BIELEFELD]["entries"] + now[HERFORD]["entries"]
        > (now["state"]["entries"])
    )


async def test_no_cell_is_recoverable_across_county_and_state_tables(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    """One person enters in Bielefeld in 2024-Q4 and five in Gütersloh: the state total
    minus Gütersloh (and Herford) must not give Bielefeld's one away."""
    lone = await register(stack, ALPHA, "05711000", "2024-11-04")
    crowd = [await register(stack, ALPHA, "05754012", "2024-11-04") for _ in range(5)]
    await wait_projected(stack, [lone, *crowd], what="the fourth quarter projected")

    async def counted() -> dict[str, Any] | None:
        table = await state_table(stack, 2024, 4)
        lone_hidden = cell_at(table["by_county"], BIELEFELD, "entries")["suppressed"]
        crowd_seen = value(table["by_county"], GUETERSLOH, "entries") in (5, None)
        return table if lone_hidden and crowd_seen else None

    q4 = await eventually(counted, what="the fourth quarter's state table")
    published = {c: value(q4["by_county"], c, "entries") for c in (HERFORD, GUETERSLOH, BIELEFELD)}
    total = value(q4["state"], "state", "entries")
    others = [v for c, v in published.items() if c != BIELEFELD]
    # Not all of the state total and the other counties may be published at once.
    assert total is None or any(v is None for v in others)
    # And the solver over every published table finds no small count pinned down.
    pool = await create_pool(stack.service_database_url("reporting"))
    try:
        release = await compute_statewide(
            pool, counties=stack.county_files(), rule=RULE, today=datetime.now(UTC).date()
        )
    finally:
        await pool.close()
    found = audit_statewide(release, RULE)
    assert found.ok, found.summary()
    moves = [c for c in release.model.cells if c.key.table == "moves"]
    assert moves  # the moves of each quarter are counts the audit keeps wide
    assert all(c.published is None for c in moves)


async def test_an_erased_mover_is_gone_from_every_county_and_the_moves(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    person = unique_person()
    pid = await register(stack, ALPHA, "05754012", "2022-02-07", **person)
    again = await post(
        stack, registration(ALPHA, "05711000", "2022-06-13", **person), Role.PROVIDER, ALPHA
    )
    assert again.json()["participant_id"] == pid  # the same person, moved
    await wait_projected(stack, [pid], what="the mover projected")

    async def moved() -> bool:
        return pid in await projected_ids(stack, BIELEFELD)

    await eventually(moved, what="the move projected")
    assert pid in await projected_ids(stack, GUETERSLOH)

    erase = command(
        "request-erasure.v1", ALPHA, {"participant_id": pid, "reason": "participant-request"}
    )
    await produce(stack, inbound(ALPHA, "intake"), encoded([erase]))

    async def gone() -> bool:
        return pid not in await projected_ids(stack)

    await eventually(gone, what="reporting erased the mover")
    # No stay is left in either county, nor the move itself.
    assert pid not in await projected_ids(stack, GUETERSLOH)
    assert pid not in await projected_ids(stack, BIELEFELD)
    connection = await reporting_connection(stack)
    try:
        left = await connection.fetchval(
            "SELECT count(*) FROM moves WHERE participant_id = $1", uuid.UUID(pid)
        )
    finally:
        await connection.close()
    assert left == 0
