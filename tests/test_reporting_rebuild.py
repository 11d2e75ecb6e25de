"""Blue-green rebuild through the API: the rebuilt reports equal the live ones.

The stack has by now projected every other test's events too, so the comparison covers
every report over years of varied history. Events published while the rebuild runs must
appear after the switch (nothing is lost between the versions).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from tests.support import PATIENCE_S, agrees, client, compatible, eventually, produce
from tests.test_reporting_scope_and_esf import YEAR, cell, events, generate, oracle

from durchstarten.auth import Role
from durchstarten.events.topics import COACHING_EVENTS, COURSES_EVENTS, INTAKE_EVENTS
from durchstarten_deploy.stack import ServiceProcess, Stack
from reporting.versions import REBUILD_LOCK

pytestmark = pytest.mark.integration

TOPICS = (COACHING_EVENTS, COURSES_EVENTS, INTAKE_EVENTS)


async def publish(stack: Stack, history: dict[str, Any]) -> None:
    by_topic = events(history)
    for topic in TOPICS:
        await produce(stack, topic, by_topic[topic], by_subject=True)


async def every_report(reporting: httpx.AsyncClient, token: str, scope: str) -> dict[str, Any]:
    """Every report the service offers, over every period with data, as JSON."""
    # Fresh figures, not the cache's (reports may be a second old otherwise).
    headers = {"Authorization": f"Bearer {token}", "Cache-Control": "no-cache"}

    async def get(path: str, **params: Any) -> Any:
        response = await reporting.get(path, params=params, headers=headers)
        assert response.status_code == 200, (path, params, response.text)
        return response.json()

    reports: dict[str, Any] = {
        "participants": {
            k: v for k, v in (await get("/v1/reports/participants")).items() if k != "generated_at"
        },
        "dashboard": await get("/v1/dashboard/data"),
    }
    for year in range(2019, YEAR):  # the years other tests and the demo history use
        reports[f"courses {year}"] = await get("/v1/reports/courses", year=year)
        reports[f"esf {year}"] = await get("/v1/reports/esf-indicators", year=year)
        for quarter in (1, 2, 3, 4):
            reports[f"quarterly {year} {quarter}"] = await get(
                "/v1/reports/quarterly-monitoring", year=year, quarter=quarter
            )
            reports[f"outcomes {year} {quarter}"] = await get(
                "/v1/reports/outcomes", year=year, quarter=quarter
            )
    for quarter in (1, 2, 3, 4):
        reports[f"scoped outcomes {quarter}"] = await get(
            "/v1/reports/outcomes", year=YEAR, quarter=quarter, provider=scope
        )
        reports[f"scoped quarterly {quarter}"] = await get(
            "/v1/reports/quarterly-monitoring", year=YEAR, quarter=quarter, provider=scope
        )
    reports["scoped esf"] = await get("/v1/reports/esf-indicators", year=YEAR, provider=scope)
    reports["scoped courses"] = await get("/v1/reports/courses", year=YEAR, provider=scope)
    return reports


async def test_a_rebuild_gives_the_live_reports_and_loses_nothing_at_the_switch(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    before_provider = f"rebuild-{uuid.uuid4().hex[:8]}"
    during_provider = f"during-{uuid.uuid4().hex[:8]}"
    first = generate(before_provider, f"x-{uuid.uuid4().hex[:8]}", seed=11)
    await publish(stack, first)
    coordinator = stack.token(Role.COORDINATOR)
    admin = {"Authorization": f"Bearer {stack.token(Role.ADMIN)}"}
    expected_first = oracle(first, before_provider)

    async with client(stack, "reporting") as reporting:

        async def reached(provider: str, expected: int) -> bool:
            response = await reporting.get(
                "/v1/reports/outcomes",
                params={"year": YEAR, "quarter": 4, "provider": provider},
                headers={"Authorization": f"Bearer {coordinator}"},
            )
            if response.status_code == 422:  # no data names the provider yet
                return False
            return agrees(
                cell(response.json()["participants"], "reached", "participants"), expected
            )

        await eventually(
            lambda: reached(before_provider, expected_first["reached"]),
            what="the first history projected",
        )
        live = await every_report(reporting, coordinator, before_provider)

        # One rebuild at a time, across instances: the lock decides.
        holder = await asyncpg.connect(stack.service_database_url("reporting"))
        try:
            await holder.execute("SELECT pg_advisory_lock($1)", REBUILD_LOCK)
            refused = await reporting.post("/v1/admin/rebuilds", headers=admin)
            assert refused.status_code == 409
            assert refused.json()["detail"]["reason"] == "rebuild-running"
        finally:
            await holder.close()
        forbidden = await reporting.post(
            "/v1/admin/rebuilds", headers={"Authorization": f"Bearer {coordinator}"}
        )
        assert forbidden.status_code == 403

        started = await reporting.post("/v1/admin/rebuilds", headers=admin)
        assert started.status_code == 202, started.text
        rebuild = started.json()
        assert rebuild["state"] == "building"
        # The live version keeps serving while the new one is filled, and keeps projecting:
        during = generate(during_provider, f"y-{uuid.uuid4().hex[:8]}", seed=12)
        await publish(stack, during)
        still = await reporting.get(
            "/v1/reports/quarterly-monitoring",
            params={"year": 2022, "quarter": 1},
            headers={"Authorization": f"Bearer {coordinator}"},
        )
        assert still.status_code == 200
        # The same counts (the new history is of another year); the pattern may move.
        assert compatible(still.json(), live["quarterly 2022 1"])

        async def switched() -> dict[str, Any] | None:
            response = await reporting.get(
                f"/v1/admin/rebuilds/{rebuild['rebuild_id']}", headers=admin
            )
            status: dict[str, Any] = response.json()
            assert status["state"] != "failed", status
            return status if status["state"] == "live" else None

        status = await eventually(switched, what="the rebuild switched")
        assert status["schema"] != "projection_1"
        assert status["events_applied"] >= sum(len(values) for values in events(first).values())
        assert status["events_per_second"] is not None  # reported; its figure is the bench's

        rebuilt = await every_report(reporting, coordinator, before_provider)
        changed = sorted(name for name in live if not compatible(rebuilt[name], live[name]))
        # Only what the history published during the rebuild touches may differ: its year.
        assert all(name in ("participants", "dashboard") for name in changed), changed
        # ... and that history arrived in full, across the switch.
        expected_during = oracle(during, during_provider)
        await eventually(
            lambda: reached(during_provider, expected_during["reached"]),
            what="events published during the rebuild projected",
        )
        unknown = await reporting.get("/v1/admin/rebuilds/" + str(uuid.uuid4()), headers=admin)
        assert unknown.status_code == 404

    connection = await asyncpg.connect(stack.service_database_url("reporting"))
    try:
        versions = {
            row["schema_name"]: row["state"]
            for row in await connection.fetch("SELECT schema_name, state FROM projection_versions")
        }
        schemas = {
            row["nspname"]
            for row in await connection.fetch(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'projection_%'"
            )
        }
    finally:
        await connection.close()
    assert versions[status["schema"]] == "live"
    assert list(versions.values()).count("live") == 1
    assert schemas == {status["schema"]}  # the retired version is gone

    # The operator's command does the same through the API, and a second rebuild is no
    # different from the first.
    async with client(stack, "reporting") as reporting:
        settled = await every_report(reporting, coordinator, during_provider)
        command = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "reporting.rebuild",
            "--url",
            services["reporting"].url,
            "--poll-s",
            "0.2",
            env={**os.environ, "DURCHSTARTEN_ADMIN_TOKEN": stack.token(Role.ADMIN)},
            stdout=asyncio.subprocess.PIPE,
        )
        output, _ = await asyncio.wait_for(command.communicate(), timeout=PATIENCE_S)
        assert command.returncode == 0, output
        assert json.loads(output[output.index(b"{") :])["state"] == "live"
        assert await every_report(reporting, coordinator, during_provider) == settled
