"""The provider simulator against the real stack: the Kreis Herford history reaches the
reports with the county's figures, equal to the oracle; another seed gives another history
that is just as consistent, over Kafka or HTTP; load mode keeps its arrival rate.

The simulator's providers (diakonie-herford, in-via, awo-owl) are not the session's test
providers, and the reports must count this history alone: the module runs its own Kafka
broker and its own four services (on the session's PostgreSQL, in databases of their own).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from durchstarten.auth import Role
from durchstarten_deploy.stack import DEFAULT_PROVIDERS, SERVICES, Stack, unique_prefix
from durchstarten_deploy.testing import drop_databases
from durchstarten_simulator import scenario as scenario_file
from durchstarten_simulator.check import CheckResult, check
from durchstarten_simulator.generate import generate
from durchstarten_simulator.load import run_load
from durchstarten_simulator.oracle import expected
from durchstarten_simulator.runner import replay
from durchstarten_simulator.wire import HttpTransport, KafkaTransport

pytestmark = pytest.mark.integration

HERFORD = Path(__file__).resolve().parents[1] / "simulator" / "scenarios" / "kreis-herford.toml"
# A second history lives side by side under providers of its own.
ALIASES = {"diakonie": "sim-diakonie", "in-via": "sim-in-via", "awo": "sim-awo"}
HTTP_ALIASES = {"diakonie": "http-diakonie", "in-via": "http-in-via", "awo": "http-awo"}
LOAD_PROVIDER = "sim-load"


@pytest.fixture(scope="module")
def herford_stack(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    own = Stack(
        state_dir=tmp_path_factory.mktemp("herford"),
        database_url=stack.admin_url,
        providers=(*DEFAULT_PROVIDERS, *ALIASES.values(), *HTTP_ALIASES.values(), LOAD_PROVIDER),
        database_prefix=unique_prefix(),
    )
    try:
        own.start_infrastructure()
        for name in SERVICES:
            own.start_service(name)
        yield own
    finally:
        own.stop()
        asyncio.run(drop_databases(stack.admin_url, own.database_prefix))


def figures(oracle: dict[str, Any], report: str, provider: str) -> dict[str, Any]:
    return next(
        c["figures"]
        for c in oracle["checks"]
        if c["report"] == report and c["provider"] == provider
    )


async def reports_against(stack: Stack, oracle: dict[str, Any]) -> CheckResult:
    """The reporting API's figures against the oracle's (eventually consistent: waits)."""
    reporting = stack.services["reporting"].url
    return await check(reporting, stack.token(Role.COORDINATOR), oracle, timeout_s=90)


def failures(result: Any) -> list[Any]:
    return [c for c in result.comparisons if not c.ok]


async def test_the_herford_history_reaches_the_reports_with_the_county_figures(
    herford_stack: Stack,
) -> None:
    history = generate(scenario_file.load(HERFORD))
    oracle = expected(history)
    diakonie = figures(oracle, "outcomes", "diakonie-herford")
    assert diakonie["reached"] == 106
    assert 0.45 <= diakonie["placement_rate_reached"] <= 0.55
    assert figures(oracle, "courses", "awo-owl")["pass_rate"] == 1.0

    outcome = await replay(
        history, KafkaTransport(herford_stack.bootstrap, list(DEFAULT_PROVIDERS))
    )
    # Only the applicant living in a state reception facility is refused outright; the other
    # ineligible ones wait for a coordinator; the two duplicates are recognised for sure.
    assert dict(outcome.rejected) == {"not-eligible": 1}, outcome.summary()
    assert outcome.registrations["pending-exception"] == 3
    assert outcome.registrations["existing-participant"] == 2
    assert outcome.skipped == 0

    result = await reports_against(herford_stack, oracle)
    assert failures(result) == [], failures(result)
    published = {(c.check, c.figure): c.actual for c in result.comparisons}
    assert published[("outcomes diakonie-herford 2022-Q4", "reached")] == 106
    rate = published[("outcomes diakonie-herford 2022-Q4", "placement_rate_reached")]
    assert 0.45 <= rate <= 0.55
    assert published[("courses awo-owl 2023", "pass_rate")] == 1.0


async def test_another_seed_gives_another_history_just_as_consistent(
    herford_stack: Stack,
) -> None:
    scenario = scenario_file.load(HERFORD).with_provider_ids(ALIASES)
    seed = secrets.randbelow(2**31)
    history = generate(scenario, seed)
    assert history.digest != generate(scenario).digest, seed
    oracle = expected(history)
    # The county-wide figures hold both histories now: compare each provider's own.
    oracle["checks"] = [c for c in oracle["checks"] if c["provider"] is not None]

    outcome = await replay(history, KafkaTransport(herford_stack.bootstrap, list(ALIASES.values())))
    assert dict(outcome.rejected) == {"not-eligible": 1}, (seed, outcome.summary())

    result = await reports_against(herford_stack, oracle)
    assert failures(result) == [], (seed, failures(result))
    assert figures(oracle, "outcomes", "sim-diakonie")["reached"] == 106


async def test_a_smaller_history_over_http_is_just_as_consistent(herford_stack: Stack) -> None:
    full = scenario_file.load(HERFORD).with_provider_ids(HTTP_ALIASES)
    coaching, participation = full.coaching
    tutoring, youth_course = full.courses
    small = replace(
        full,
        coaching=[replace(coaching, persons=24), participation],
        courses=[
            replace(tutoring, referred=2),
            replace(youth_course, new_participants=4, referred=2, duplicates=1),
        ],
        applicants=[replace(full.applicants[0], ineligible=2)],
    )
    history = generate(small, 5)
    oracle = expected(history)
    oracle["checks"] = [c for c in oracle["checks"] if c["provider"] is not None]
    assert figures(oracle, "outcomes", "http-diakonie")["reached"] == 24

    services = {name: service.url for name, service in herford_stack.services.items()}
    transport = HttpTransport(
        services,
        lambda provider: herford_stack.token(Role.PROVIDER, provider),
    )
    outcome = await replay(history, transport)
    assert dict(outcome.rejected) == {"not-eligible": 1}, outcome.summary()
    assert outcome.registrations["existing-participant"] == 1

    result = await reports_against(herford_stack, oracle)
    assert failures(result) == [], failures(result)


async def test_load_mode_sustains_its_rate_for_ten_seconds(herford_stack: Stack) -> None:
    result = await run_load(
        herford_stack.bootstrap,
        rate=200,
        duration_s=10,
        participants=150,
        seed=11,
        providers=[LOAD_PROVIDER],
    )
    assert result.participants == 150
    assert result.sent == 2000
    assert result.achieved_rate >= 0.97 * 200, result
    assert len(result.per_second) == 10
    # Open loop: a send that slips past a second's boundary (a busy machine) is made up in
    # the next second, so every two seconds carry their share, and no second falls far.
    pairs = [a + b for a, b in zip(result.per_second, result.per_second[1:], strict=False)]
    assert min(pairs) >= 0.95 * 400, result.per_second
    assert min(result.per_second) >= 0.8 * 200, result.per_second
    assert result.ended - result.started <= 10.5
