"""Reporting's read API apart from its projector: two API instances and one projector.

The API instances answer reports and consume nothing; the projector consumes and answers no
report. Reports keep being served while the projector is down, and what it projects once
back reaches every API instance. Two API instances of one data state serve the same
protected tables: the pattern depends on the data alone (`reporting.protection`), so a
caller who asks both learns nothing that one would not tell.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.support import (
    FRESH_REPORTS,
    PATIENCE_S,
    eventually,
    projected_ids,
    register_accepted,
    wait_projected,
)

from durchstarten.auth import Role
from durchstarten_deploy.stack import ServiceProcess, Stack
from durchstarten_deploy.testing import TEST_PROVIDERS

pytestmark = pytest.mark.integration

ALPHA, _ = TEST_PROVIDERS
ROLE = "DURCHSTARTEN_REPORTING_ROLE"
API_INSTANCES = ("reporting-api-1", "reporting-api-2")


@pytest.fixture
def split_reporting(
    stack: Stack, services: dict[str, ServiceProcess]
) -> Iterator[dict[str, ServiceProcess]]:
    """The session's reporting as a projector, beside two API instances; put back after."""
    services["reporting"].stop()
    started = {"projector": stack.start_service("reporting", extra_env={ROLE: "projector"})}
    try:
        for instance in API_INSTANCES:
            started[instance] = stack.start_service(
                "reporting", instance=instance, extra_env={ROLE: "api", **FRESH_REPORTS}
            )
        yield started
    finally:
        for instance in API_INSTANCES:
            if instance in stack.services:
                stack.services[instance].stop()
        stack.services["reporting"].stop()
        services["reporting"] = stack.start_service("reporting", extra_env={ROLE: "all"})


def _client(stack: Stack, service: ServiceProcess, role: Role = Role.COORDINATOR) -> Any:
    return httpx.AsyncClient(
        base_url=service.url,
        headers={"Authorization": f"Bearer {stack.token(role)}"},
        timeout=PATIENCE_S,
    )


async def _count(stack: Stack, service: ServiceProcess) -> dict[str, Any]:
    async with _client(stack, service) as api:
        response = await api.get("/v1/reports/participants")
    response.raise_for_status()
    cell: dict[str, Any] = response.json()["participants"]
    return cell


async def _tables(stack: Stack, service: ServiceProcess) -> list[dict[str, Any]]:
    """The quarter the test's registrations enter in, and the dashboard's numbers."""
    bodies = []
    async with _client(stack, service) as api:
        for path, params in [
            ("/v1/reports/quarterly-monitoring", {"year": 2022, "quarter": 1}),
            ("/v1/dashboard/data", {}),
        ]:
            response = await api.get(path, params=params)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            body.pop("generated_at", None)  # when each instance read its snapshot
            bodies.append(body)
    return bodies


async def _release(stack: Stack, service: ServiceProcess) -> dict[str, Any]:
    """What an admin is told of the release the instance serves (`GET /v1/releases/current`)."""
    async with _client(stack, service, Role.ADMIN) as client:
        response = await client.get("/v1/releases/current")
        response.raise_for_status()
        found: dict[str, Any] = response.json()
        return found


async def _lag_series(service: ServiceProcess) -> list[str]:
    """The consumer-lag gauges a process exports: one per partition it consumes."""
    async with httpx.AsyncClient(base_url=service.metrics_url, timeout=PATIENCE_S) as metrics:
        response = await metrics.get("/metrics")
    response.raise_for_status()
    return [
        line for line in response.text.splitlines() if line.startswith("durchstarten_consumer_lag{")
    ]


async def test_each_role_serves_only_its_side(
    stack: Stack, split_reporting: dict[str, ServiceProcess]
) -> None:
    projector = split_reporting["projector"]
    api = split_reporting[API_INSTANCES[0]]
    async with _client(stack, projector) as on_projector:
        assert (await on_projector.get("/v1/reports/participants")).status_code == 404
        assert (await on_projector.get("/dashboard")).status_code == 404
        # The rebuilds are the projector's: a coordinator is refused there, not "not found".
        assert (await on_projector.post("/v1/admin/rebuilds")).status_code == 403
        assert (await on_projector.get("/health/ready")).status_code == 200
    async with _client(stack, api) as on_api:
        assert (await on_api.post("/v1/admin/rebuilds")).status_code == 404
        assert (await on_api.get("/v1/reports/participants")).status_code == 200
        assert (await on_api.get("/health/ready")).status_code == 200

    # The projector consumes every domain topic (its gauges appear once the group is
    # described); an API instance consumes nothing.
    async def projector_lag() -> bool:
        return any('topic="intake.events"' in line for line in await _lag_series(projector))

    await eventually(projector_lag, what="the projector's consumer-lag gauges")
    assert await _lag_series(api) == []


async def test_the_api_instances_serve_what_the_projector_projects_and_nothing_else(
    stack: Stack, split_reporting: dict[str, ServiceProcess]
) -> None:
    apis = [split_reporting[instance] for instance in API_INSTANCES]
    first = await register_accepted(stack, ALPHA, 3)
    await wait_projected(stack, first, what="the first participants projected")
    projected = len(await projected_ids(stack))

    split_reporting["projector"].stop()
    later = await register_accepted(stack, ALPHA, 4)
    # Intake has answered and published; with the projector down nobody projects them:
    # the API instances consume nothing.
    assert len(await projected_ids(stack)) == projected
    counts = [await _count(stack, api) for api in apis]
    assert counts[0] == counts[1]
    # One data state, one pattern: every table is the same from either instance.
    assert await _tables(stack, apis[0]) == await _tables(stack, apis[1])
    # And the pattern was chosen once: the instance asked second applied the first's.
    releases = [await _release(stack, api) for api in apis]
    assert releases[0]["applied_offsets"] == releases[1]["applied_offsets"]
    assert [r["pattern_shared"] for r in releases] == [False, True]
    # An admin's recomputation chooses afresh (the whole cost), and gives the same tables.
    async with _client(stack, apis[1], Role.ADMIN) as admin:
        made = await admin.post("/v1/releases")
    assert made.status_code == 201
    assert made.json()["pattern_shared"] is False
    assert await _tables(stack, apis[0]) == await _tables(stack, apis[1])

    stack.start_service("reporting", extra_env={ROLE: "projector"})
    await wait_projected(stack, later, what="the later participants projected")
    grown = len(await projected_ids(stack))
    assert grown == projected + len(later)

    async def both_moved() -> list[dict[str, Any]] | None:
        moved = [await _count(stack, api) for api in apis]
        return moved if all(count != counts[0] for count in moved) else None

    # At least 7 people are counted now: a count that large is published as it is.
    moved = await eventually(both_moved, what="both API instances serving the new data")
    assert moved[0] == moved[1]
    assert moved[0]["value"] >= len(first) + len(later)
    assert await _tables(stack, apis[0]) == await _tables(stack, apis[1])

    apis[0].kill()  # an instance lost: the other keeps answering, as it did
    assert await _count(stack, apis[1]) == moved[1]
