"""The provider simulator against the real stack: another seed of the Kreis Herford
scenario gives another history that is just as consistent, over Kafka or HTTP; load mode
sends every command it schedules, and each one is answered (how fast is the benchmark's
business: `make bench`). The Herford history itself, seed 0, is replayed and checked
against its oracle in `test_disclosure_audit.py`, which audits it too.

The simulator's providers are not the session's test providers, and the reports must
count these histories alone: the module runs its own Kafka broker and its own four
services (on the session's PostgreSQL, in databases of their own).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.support import PATIENCE_S, oracle_figures

from durchstarten.auth import Role
from durchstarten_deploy.stack import SERVICES, Stack, unique_prefix
from durchstarten_deploy.testing import drop_databases
from durchstarten_simulator import scenario as scenario_file
from durchstarten_simulator.check import CheckResult, check
from durchstarten_simulator.generate import generate
from durchstarten_simulator.load import prepare_load, send_load
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
def herford_stack(stack: Stack, state_root: Path) -> Iterator[Stack]:
    own = Stack(
        state_dir=state_root / "herford",
        database_url=stack.admin_url,
        providers=(*ALIASES.values(), *HTTP_ALIASES.values(), LOAD_PROVIDER),
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


async def reports_against(stack: Stack, oracle: dict[str, Any]) -> CheckResult:
    """The reporting API's figures against the oracle's (eventually consistent: waits)."""
    reporting = stack.services["reporting"].url
    return await check(reporting, stack.token(Role.COORDINATOR), oracle, timeout_s=PATIENCE_S)


def failures(result: Any) -> list[Any]:
    return [c for c in result.comparisons if not c.ok]


async def test_another_seed_gives_another_history_just_as_consistent(
    herford_stack: Stack,
) -> None:
    scenario = scenario_file.load(HERFORD).with_provider_ids(ALIASES)
    seed = secrets.randbelow(2**31)
    history = generate(scenario, seed)
    assert history.digest != generate(scenario).digest, seed
    oracle = expected(history)  # the first history here: the county's figures are its own

    outcome = await replay(history, KafkaTransport(herford_stack.access, list(ALIASES.values())))
    assert dict(outcome.rejected) == {"not-eligible": 1}, (seed, outcome.summary())

    result = await reports_against(herford_stack, oracle)
    assert failures(result) == [], (seed, failures(result))
    assert oracle_figures(oracle, "outcomes", "sim-diakonie")["reached"] == 106


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
    assert oracle_figures(oracle, "outcomes", "http-diakonie")["reached"] == 24

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


async def test_load_mode_sends_what_it_schedules_and_every_command_is_answered(
    herford_stack: Stack,
) -> None:
    kafka = herford_stack.access
    prepared = await prepare_load(
        kafka, participants=150, seed=11, providers=[LOAD_PROVIDER], timeout_s=PATIENCE_S
    )
    replies = KafkaTransport(kafka, [LOAD_PROVIDER])
    await replies.start()  # reads from the outbound topics' current ends: this phase only
    try:
        sent: dict[str, float] = {}
        result = await send_load(kafka, prepared, rate=200, duration_s=10, send_times=sent)
        answers = await replies.wait(set(sent), timeout_s=PATIENCE_S)
    finally:
        await replies.stop()

    assert (result.participants, result.prepared) == (150, 151)  # one course scheduled
    assert result.sent == len(sent) == 2000  # rate x duration, each command once
    # Every tenth command registers someone new; the others walk the 150 scripts round robin,
    # twelve steps each: a case with five sessions and a placement, a course place with four
    # attendances.
    assert result.by_service == {"intake": 200, "coaching": 150 * 7, "courses": 150 * 5}
    refused = Counter(answer.reason for answer in answers.values() if not answer.accepted)
    assert refused == Counter(), refused
