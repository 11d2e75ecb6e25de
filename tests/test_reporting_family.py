"""A release protects the period family of its data: the years before are served as zeros.

Reporting runs in process on a database of its own (the session's PostgreSQL, its
projector fed directly, no consumer), so its history is known exactly: it starts in
2023. The release's family then starts in 2023 too, the years from 2019 are answered as
zero tables, and the pattern, chosen knowing those zeros, leaves no small count open to
an attacker who holds every table from 2019 on. A fact dated in an earlier year, and a
snapshot frozen for one, move the family's start back; a period that is no longer empty
is never answered with the zeros of the release before.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from pydantic import SecretStr
from tests.support import encoded, event, participant_registered

from durchstarten.auth import Role
from durchstarten.db.pool import create_pool
from durchstarten.events.topics import COACHING_EVENTS, INTAKE_EVENTS
from durchstarten_deploy.postgres import create_databases, with_database
from durchstarten_deploy.stack import DEMO_COUNTY, Stack
from durchstarten_simulator.wire import consumer_record
from reporting.app import create_app
from reporting.audit import ProtectionRule
from reporting.audit_cli import audit_now
from reporting.disclosure import tables_of
from reporting.projections import Projector
from reporting.settings import ReportingSettings
from reporting.statewide import compute_statewide

pytestmark = pytest.mark.integration

PROVIDER = "family-alpha"
RULE = ProtectionRule(threshold=3, hidden_minimum=1)
"""The service's rule (`ReportingSettings.protection_rule`)."""
PLACES = ["herford", "herford", "herford", "buende", "buende", "loehne", "vlotho"]


@dataclass
class Reporting:
    """The in-process service: its HTTP API, its projector and its pool."""

    http: httpx.AsyncClient
    projector: Projector
    pool: asyncpg.Pool
    settings: ReportingSettings
    offsets: dict[str, int]

    async def apply(self, topic: str, values: Iterable[dict[str, Any]]) -> None:
        """Apply events as the consumer would, at the topic's next offsets."""
        records = []
        for value in encoded(values):
            offset = self.offsets.get(topic, 0)
            self.offsets[topic] = offset + 1
            records.append(consumer_record(topic, offset, value))
        await self.projector.apply_batch(records)

    async def quarterly(self, year: int, quarter: int) -> dict[str, Any]:
        """The county's quarterly table as a coordinator gets it."""
        response = await self.http.get(
            "/v1/reports/quarterly-monitoring", params={"year": year, "quarter": quarter}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def release(self) -> dict[str, Any]:
        """The summary of the release served now."""
        response = await self.http.get("/v1/releases/current")
        assert response.status_code == 200, response.text
        summary: dict[str, Any] = response.json()
        return summary


@pytest_asyncio.fixture(scope="module")
async def reporting(stack: Stack) -> AsyncIterator[Reporting]:
    name = f"{stack.database_prefix}_family"
    await create_databases(stack.admin_url, [name], recreate=True)
    assert stack.issuer is not None
    settings = ReportingSettings(
        database_url=SecretStr(with_database(stack.admin_url, name)),
        **stack.kafka_settings(),
        auth_jwks_path=stack.issuer.jwks_path,
        providers=[PROVIDER],
        report_cache_s=0,
    )
    app = create_app(settings)
    runtime = app.state.runtime
    pool = await create_pool(settings.database_url.get_secret_value())
    # No broker started: nothing but this test's events reaches this database.
    await runtime.attach_database(pool)
    token = stack.token(Role.COORDINATOR)
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://reporting",
        headers={"Authorization": f"Bearer {token}"},
        timeout=600,
    )
    try:
        yield Reporting(http, Projector(runtime), pool, settings, {})
    finally:
        await http.aclose()
        await pool.close()


def _history_of_2023() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """People entering through 2023, many of them in small cells; some placed, some gone."""
    intake, coaching = [], []
    for n in range(40):
        entry = date(2023, 1, 9) + timedelta(days=9 * n)
        registered = participant_registered(PROVIDER, entry.isoformat(), municipality=PLACES[n % 7])
        person = registered["data"]["participant_id"]
        intake.append(registered)
        if n % 4 == 0:
            exit_data = {
                "participant_id": person,
                "provider": PROVIDER,
                "exit_date": (entry + timedelta(days=70)).isoformat(),
                "reason": "placed",
            }
            intake.append(event("participant.exited.v1", "/services/intake", person, exit_data))
        if n % 3 == 0:
            case = {
                "case_id": str(uuid.uuid4()),
                "participant_id": person,
                "provider": PROVIDER,
                "module": "F1",
                "site": "herford-mitte",
                "opened_on": (entry + timedelta(days=3)).isoformat(),
            }
            coaching.append(event("case.opened.v1", "/services/coaching", person, case))
        if n % 8 == 0:
            placement = {
                "placement_id": str(uuid.uuid4()),
                "case_id": str(uuid.uuid4()),
                "participant_id": person,
                "provider": PROVIDER,
                "site": "herford-mitte",
                "category": "employment",
                "start_date": (entry + timedelta(days=50)).isoformat(),
                "employment_kind": "insured",
            }
            coaching.append(
                event("case.placement-recorded.v1", "/services/coaching", person, placement)
            )
    return intake, coaching


def _cells(report: dict[str, Any], name: str = "by_municipality") -> list[dict[str, Any]]:
    """Every cell and column total of one of the report's tables."""
    table = dict(tables_of(report))[name]
    return [*(c for line in table["cells"] for c in line), *table.get("column_totals", [])]


async def test_a_short_history_protects_a_short_family_and_serves_zeros_before_it(
    reporting: Reporting,
) -> None:
    intake, coaching = _history_of_2023()
    await reporting.apply(INTAKE_EVENTS, intake)
    await reporting.apply(COACHING_EVENTS, coaching)

    summary = await reporting.release()
    assert summary["first_year"] == 2023
    early = await reporting.quarterly(2021, 2)
    assert all(not c["suppressed"] and c["value"] == 0 for c in _cells(early))
    assert early["disclosure_control"] == summary["disclosure_control"]
    for path, params in (
        ("outcomes", {"year": 2020, "quarter": 4}),
        ("courses", {"year": 2022}),
        ("esf-indicators", {"year": 2019}),
    ):
        other = await reporting.http.get(f"/v1/reports/{path}", params=params)
        assert other.status_code == 200, (path, other.text)
        tables = dict(tables_of(other.json()))
        assert tables, path
        for name in tables:
            cells = _cells(other.json(), name)
            assert all(not c["suppressed"] and c["value"] == 0 for c in cells), (path, name)
    first = await reporting.quarterly(2023, 1)
    assert (
        first["by_municipality"]["column_totals"][0] != early["by_municipality"]["column_totals"][0]
    )

    # The attacker holds every table from 2019 on; the pattern was chosen over 2023 on.
    today = datetime.now(UTC).date()
    statewide = await compute_statewide(
        reporting.pool, counties=reporting.settings.counties(), rule=RULE, today=today
    )
    release = statewide.county(DEMO_COUNTY)
    assert release.first_year == 2023
    assert statewide.protection.primary, "the history has small counts to protect"
    served = await audit_now(reporting.settings, RULE, today=today, roles=["ministry"])
    whole = await audit_now(
        reporting.settings, RULE, today=today, whole_family=True, roles=["ministry"]
    )
    herford = [r for r in whole if r.audience.startswith(DEMO_COUNTY)]
    assert [r.audience for r in herford] == [f"{DEMO_COUNTY} ministry"]
    for family, every_period in zip(served, whole, strict=True):
        assert every_period.publications > family.publications  # 2019 to 2022 too
        assert every_period.ok, every_period.summary()
        assert family.ok, family.summary()


async def test_an_earlier_fact_or_snapshot_moves_the_family_back(reporting: Reporting) -> None:
    before = await reporting.quarterly(2021, 2)
    assert all(not c["suppressed"] and c["value"] == 0 for c in _cells(before))
    # Someone entering in 2021: the zeros of 2021 are no longer true, and never served again.
    await reporting.apply(
        INTAKE_EVENTS, [participant_registered(PROVIDER, "2021-05-03", municipality="spenge")]
    )
    after = await reporting.quarterly(2021, 2)
    entries = after["by_municipality"]["column_totals"][0]
    assert entries["suppressed"], "one person's entry is withheld, not shown as 0"
    assert (await reporting.release())["first_year"] == 2021

    # A snapshot frozen for 2020 (all zeros) is published for good: the family takes it in.
    frozen = await reporting.http.post(
        "/v1/snapshots/quarterly-monitoring",
        params={"year": 2020, "quarter": 3, "stichtag": "2020-10-15"},
    )
    assert frozen.status_code == 201, frozen.text
    stored = await reporting.http.get(f"/v1/snapshots/{frozen.json()['snapshot_id']}")
    assert stored.status_code == 200
    body = stored.json()
    assert all(not c["suppressed"] and c["value"] == 0 for c in _cells(body))
    assert (await reporting.release())["first_year"] == 2020
