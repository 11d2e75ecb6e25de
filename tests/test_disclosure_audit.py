"""The simulated Kreis Herford history, and the disclosure audit over it, role by role.

The history is replayed into a stack of its own (its own Kafka and four services, on the
session's PostgreSQL) and reaches the reports with the county's figures, equal to the
oracle; then a coordinator freezes a snapshot, and the audit gathers what the
ministry, the coordinator and each provider can fetch now and solves for every hidden
small count. It reports what it finds (printed, and in test-artifacts/): the reports under
the old line-by-line suppression leave cells open, which shows the audit works; the
release the service serves, protected over the union of every role's tables
(`reporting.release`), leaves none for any role.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from tests.support import PATIENCE_S, client, oracle_figures

from durchstarten.auth import Role
from durchstarten.db.pool import create_pool
from durchstarten_deploy.stack import DEMO_COUNTY, Stack
from durchstarten_deploy.testing import PostgresServer, one_county, own_stack
from durchstarten_simulator import scenario as scenario_file
from durchstarten_simulator.check import CheckResult, check
from durchstarten_simulator.generate import generate
from durchstarten_simulator.oracle import expected
from durchstarten_simulator.runner import RunResult, replay
from durchstarten_simulator.wire import KafkaTransport
from reporting.audit import CellKey, ProtectionRule
from reporting.audit_collect import (
    Collection,
    RoleAudit,
    audiences,
    audit_audience,
    collect,
    problems_of,
)
from reporting.audit_model import Publication, source_of
from reporting.release import Release
from reporting.statewide import compute_statewide
from reporting.versions import reading

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
HERFORD = ROOT / "simulator" / "scenarios" / "kreis-herford.toml"
ARTIFACT = ROOT / "test-artifacts" / "disclosure-audit.txt"
PROTECTED_ARTIFACT = ROOT / "test-artifacts" / "disclosure-audit-protected.txt"
HERFORD_ONLY = one_county(DEMO_COUNTY)
"""The Herford history's stack serves Kreis Herford alone, as the first wave did."""
PROVIDERS = HERFORD_ONLY.provider_ids()
RULE = ProtectionRule(threshold=3)
"""The line-by-line rule's audit: its secondary suppression may hide a zero."""
SERVED = ProtectionRule(threshold=3, hidden_minimum=1)
"""The service's rule (`ReportingSettings.protection_rule`): it never withholds a zero."""
LAST_YEAR = datetime.now(UTC).year


@pytest.fixture(scope="module")
def herford_stack(postgres_server: PostgresServer, state_root: Path) -> Iterator[Stack]:
    with own_stack(
        postgres_server.admin_url,
        state_root / "audit-herford",
        extra_env={"DURCHSTARTEN_REPORT_CACHE_S": "0"},
        providers=tuple(PROVIDERS),
        counties=HERFORD_ONLY,
    ) as stack:
        yield stack


@dataclass(frozen=True)
class Replayed:
    """The Herford history replayed: its oracle, the replay's outcome, the reports' check."""

    oracle: dict[str, Any]
    outcome: RunResult
    result: CheckResult


@pytest_asyncio.fixture(scope="module")
async def replayed(herford_stack: Stack) -> Replayed:
    """The Herford history through the providers' topics, until the reports show it."""
    history = generate(scenario_file.load(HERFORD))
    oracle = expected(history)
    outcome = await replay(history, KafkaTransport(herford_stack.access, PROVIDERS))
    reporting_url = herford_stack.services["reporting"].url
    result = await check(
        reporting_url, herford_stack.token(Role.COORDINATOR), oracle, timeout_s=PATIENCE_S
    )
    return Replayed(oracle, outcome, result)


def test_the_herford_history_reaches_the_reports_with_the_county_figures(
    replayed: Replayed,
) -> None:
    oracle, outcome, result = replayed.oracle, replayed.outcome, replayed.result
    diakonie = oracle_figures(oracle, "outcomes", "diakonie-herford")
    assert diakonie["reached"] == 106
    assert 0.45 <= diakonie["placement_rate_reached"] <= 0.55
    assert oracle_figures(oracle, "courses", "awo-owl")["pass_rate"] == 1.0
    # Only the applicant living in a state reception facility is refused outright; the other
    # ineligible ones wait for a coordinator; the two duplicates are recognised for sure.
    assert dict(outcome.rejected) == {"not-eligible": 1}, outcome.summary()
    assert outcome.registrations["pending-exception"] == 3
    assert outcome.registrations["existing-participant"] == 2
    assert outcome.skipped == 0
    failed = [c for c in result.comparisons if not c.ok]
    assert failed == []
    published = {(c.check, c.figure): c.actual for c in result.comparisons}
    assert published[("outcomes diakonie-herford 2022-Q4", "reached")] == 106
    rate = published[("outcomes diakonie-herford 2022-Q4", "placement_rate_reached")]
    assert 0.45 <= rate <= 0.55
    assert published[("courses awo-owl 2023", "pass_rate")] == 1.0


@pytest_asyncio.fixture(scope="module")
async def collection(herford_stack: Stack, replayed: Replayed) -> Collection:
    """The Herford history projected, a snapshot frozen, everything gathered."""
    assert all(c.ok for c in replayed.result.comparisons), "the history is not projected"
    async with client(herford_stack, "reporting", Role.COORDINATOR) as reporting:
        frozen = await reporting.post(
            "/v1/snapshots/quarterly-monitoring",
            params={"year": 2019, "quarter": 4, "stichtag": "2020-01-15"},
        )
    assert frozen.status_code == 201
    pool = await create_pool(herford_stack.service_database_url("reporting"))
    try:
        async with reading(pool, county=DEMO_COUNTY) as connection:
            return await collect(
                connection, providers=PROVIDERS, last_year=LAST_YEAR, min_cell_count=3
            )
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def audits(collection: Collection) -> dict[str, RoleAudit]:
    """Each role's audit, written to test-artifacts/ and printed."""
    found = {
        audience.name: audit_audience(
            collection, audience, providers=PROVIDERS, last_year=LAST_YEAR, rule=RULE
        )
        for audience in audiences(PROVIDERS)
    }
    text = "\n\n".join(result.summary() for result in found.values())
    ARTIFACT.parent.mkdir(exist_ok=True)
    ARTIFACT.write_text(text + "\n", encoding="utf-8")
    print(text)  # the report this test exists to give
    return found


def _county(collection: Collection, year: int, quarter: int) -> Publication:
    return next(
        p
        for p in collection.reports
        if p.report == "quarterly-monitoring"
        and (p.year, p.quarter, p.scope) == (year, quarter, None)
    )


def _totals(publication: Publication) -> list[int | None]:
    return [
        None if c["suppressed"] else c["value"]
        for c in publication.published["by_municipality"]["column_totals"]
    ]


def test_the_audit_recovers_every_exit_count_the_caseload_recursion_gives_away(
    collection: Collection, audits: dict[str, RoleAudit]
) -> None:
    ministry = audits["ministry"]
    unsafe = {f.key: f for f in ministry.report.unsafe}
    unsafe.update({key: f for f in ministry.report.unsafe for key in f.also})
    attacks = []
    quarters = [(y, q) for y in range(2019, LAST_YEAR + 1) for q in (1, 2, 3, 4)]
    for before, (year, quarter) in itertools.pairwise(quarters):
        _, _, caseload_before = _totals(_county(collection, *before))
        now = _county(collection, year, quarter)
        entries, exits, caseload = _totals(now)
        true_exits = now.truth["by_municipality"]["column_totals"][1]["value"] if now.truth else 0
        if None in (caseload_before, entries, caseload) or exits is not None:
            continue
        if not 0 < true_exits < RULE.threshold:
            continue
        assert caseload_before is not None
        assert entries is not None
        assert caseload is not None
        assert caseload_before + entries - caseload == true_exits
        key = CellKey(
            f"quarterly-monitoring {year}-Q{quarter} county", "by_municipality", "total", "exits"
        )
        finding = unsafe.get(key)
        assert finding is not None, f"{key} can be recomputed but the audit missed it"
        assert (finding.interval.lower, finding.interval.upper) in {
            (true_exits, true_exits),
            (None, true_exits),
        }
        attacks.append((year, quarter, caseload_before, entries, caseload, true_exits))
    print("caseload recursion attacks:", attacks)  # part of the report
    # The attack the issue names, when the history shows it as it did then.
    if _totals(_county(collection, 2019, 3))[2] == 15 and _totals(_county(collection, 2019, 4)) == [
        6,
        None,
        19,
    ]:
        assert (2019, 4, 15, 6, 19, 2) in attacks


def test_the_model_holds_the_truth_and_every_interval_contains_it(
    audits: dict[str, RoleAudit],
) -> None:
    # audit() refuses a model the true tables violate; here every role's model was built.
    for result in audits.values():
        assert result.report.findings, result.audience
        for finding in result.report.findings:
            interval = finding.interval
            if finding.truth is not None:
                assert interval.upper >= finding.truth
                assert interval.lower is None or interval.lower <= finding.truth


def test_files_and_rates_show_no_hidden_count(audits: dict[str, RoleAudit]) -> None:
    assert {name: result.problems for name, result in audits.items()} == dict.fromkeys(audits, ())


def test_the_snapshot_is_part_of_what_the_ministry_knows(collection: Collection) -> None:
    (snapshot,) = [p for p in collection.county_pages if p.report == "snapshot"]
    assert snapshot.linked  # nothing has changed since: the same people as the live table
    ministry = next(a for a in audiences(PROVIDERS) if a.name == "ministry")
    provider = next(a for a in audiences(PROVIDERS) if a.name.startswith("provider"))
    assert snapshot in collection.seen_by(ministry.principal, PROVIDERS)
    assert snapshot not in collection.seen_by(provider.principal, PROVIDERS)


@pytest_asyncio.fixture(scope="module")
async def release(herford_stack: Stack, collection: Collection) -> Release:
    """What the service serves now, computed as it does, with its pattern audited."""
    pool = await create_pool(herford_stack.service_database_url("reporting"))
    try:
        statewide = await compute_statewide(
            pool,
            counties=herford_stack.county_files(),
            rule=SERVED,
            today=datetime.now(UTC).date(),
            verify=True,
        )
    finally:
        await pool.close()
    print(f"statewide release computed in {statewide.seconds:.1f} s")  # part of the report
    return statewide.county(DEMO_COUNTY)


async def test_the_api_serves_the_release(herford_stack: Stack, release: Release) -> None:
    async def served(role: Role, as_provider: str | None, **params: Any) -> dict[str, Any]:
        async with client(herford_stack, "reporting", role, as_provider) as reporting:
            response = await reporting.get("/v1/reports/quarterly-monitoring", params=params)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def released(scope: str | None) -> dict[str, Any] | None:
        return release.body(source_of("quarterly-monitoring", 2020, 3, scope))

    assert await served(Role.MINISTRY, None, year=2020, quarter=3) == released(None)
    own = await served(Role.PROVIDER, "in-via", year=2020, quarter=3)
    assert own == released("in-via")
    scoped = await served(Role.COORDINATOR, None, year=2020, quarter=3, provider="awo-owl")
    assert scoped == released("awo-owl")


async def test_the_snapshot_frozen_is_the_table_served(
    herford_stack: Stack, collection: Collection, release: Release
) -> None:
    (snapshot,) = [p for p in release.collection.county_pages if p.report == "snapshot"]
    frozen = {k: v for k, v in snapshot.published.items() if k != "stichtag"}
    assert frozen == release.body(source_of("quarterly-monitoring", 2019, 4))
    assert frozen["disclosure_control"] == "linked-tables"


def test_the_admin_command_finds_what_is_served_safe(herford_stack: Stack) -> None:
    env = os.environ | {
        "DURCHSTARTEN_DATABASE_URL": herford_stack.service_database_url("reporting"),
        "DURCHSTARTEN_PROVIDERS": ",".join(PROVIDERS),
    }
    command = [sys.executable, "-m", "reporting", "audit", "--role", "ministry", "--skip-files"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # HiGHS prints its licence notice first; the report follows, one role per line.
    (line,) = [
        line for line in done.stdout.splitlines() if line.startswith(f"{DEMO_COUNTY} ministry: ")
    ]
    assert " 0 unsafe" in line, done.stdout


@pytest.fixture(scope="module")
def protected_audits(release: Release, audits: dict[str, RoleAudit]) -> dict[str, RoleAudit]:
    """Each role's audit of its tables as the service serves them."""
    found = {
        audience.name: audit_audience(
            release.collection,
            audience,
            providers=PROVIDERS,
            last_year=LAST_YEAR,
            rule=SERVED,
        )
        for audience in audiences(PROVIDERS)
    }
    protection = release.protection
    text = "\n".join(
        [
            f"union: {len(protection.primary)} primary and {len(protection.secondary)} "
            f"secondary positions withheld, {protection.solves} solves, release computed in "
            f"{release.seconds:.1f} s",
            *(
                f"{name}: hidden positions {audits[name].report.hidden_cells} line by line, "
                f"{result.report.hidden_cells} protected"
                for name, result in found.items()
            ),
            *(result.summary() for result in found.values()),
        ]
    )
    PROTECTED_ARTIFACT.parent.mkdir(exist_ok=True)
    PROTECTED_ARTIFACT.write_text(text + "\n", encoding="utf-8")
    print(text)  # the report this test exists to give
    return found


def test_no_role_can_recover_a_small_count(protected_audits: dict[str, RoleAudit]) -> None:
    assert {
        name: [str(f) for f in result.report.unsafe] for name, result in protected_audits.items()
    } == {name: [] for name in protected_audits}


def test_served_files_and_rates_show_no_hidden_count(release: Release) -> None:
    assert problems_of(release.collection.reports) == []


def test_the_known_attack_fails_under_protection(
    collection: Collection, release: Release, protected_audits: dict[str, RoleAudit]
) -> None:
    exits = CellKey("quarterly-monitoring 2019-Q4 county", "by_municipality", "total", "exits")
    ministry = protected_audits["ministry"].report
    found = [f for f in ministry.findings if exits == f.key or exits in f.also]
    # Either the exits are not small, or they are withheld and the attacker cannot pin them.
    truth = _county(collection, 2019, 4).truth
    assert truth is not None
    true_exits = truth["by_municipality"]["column_totals"][1]["value"]
    if 0 < true_exits < RULE.threshold:
        assert exits in release.protection.hidden
        assert found
        assert all(f.safe for f in found)
