"""Two counties' histories with people moving between them, through the real stack.

Kreis Gütersloh's and Bielefeld's illustrative histories (simulator/scenarios/) are replayed
through Kafka as the providers' systems would send them; seven people of Gütersloh move to
Bielefeld and register there again with AWO. The ministry's state table and every county's
quarterly table must show the state oracle's figures (a mover once in the state, an exit of
Gütersloh and an entry of Bielefeld), and the solver over everything published statewide
must pin no small count down.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from tests.support import PATIENCE_S, SERVED_THRESHOLD

from durchstarten.auth import Role
from durchstarten.db.pool import create_pool
from durchstarten_deploy.demo import STATEWIDE
from durchstarten_deploy.stack import Stack
from durchstarten_deploy.testing import PostgresServer, own_stack
from durchstarten_simulator.check import CheckResult, check
from durchstarten_simulator.runner import RunResult, replay
from durchstarten_simulator.statewide import StateHistory, expected_statewide, generate_statewide
from durchstarten_simulator.statewide import load as load_statewide
from durchstarten_simulator.wire import KafkaTransport
from reporting.audit import ProtectionRule
from reporting.statewide import audit_statewide, compute_statewide

pytestmark = pytest.mark.integration

RULE = ProtectionRule(threshold=SERVED_THRESHOLD, hidden_minimum=1)


@pytest.fixture(scope="module")
def owl_stack(postgres_server: PostgresServer, state_root: Path) -> Iterator[Stack]:
    """A stack of the shipped counties with their own providers (as `make run`'s)."""
    with own_stack(
        postgres_server.admin_url,
        state_root / "owl-statewide",
        extra_env={"DURCHSTARTEN_REPORT_CACHE_S": "0"},
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def history() -> StateHistory:
    return generate_statewide(load_statewide(STATEWIDE).only("kreis-guetersloh", "bielefeld"))


@pytest_asyncio.fixture(scope="module")
async def replayed(owl_stack: Stack, history: StateHistory) -> tuple[RunResult, CheckResult]:
    providers = sorted({p.id for s in history.statewide.scenarios for p in s.providers})
    outcome = await replay(history.as_history(), KafkaTransport(owl_stack.access, providers))
    result = await check(
        owl_stack.services["reporting"].url,
        owl_stack.token(Role.MINISTRY),
        expected_statewide(history),
        timeout_s=PATIENCE_S,
    )
    return outcome, result


def test_every_mover_is_recognised_and_nothing_is_refused(
    replayed: tuple[RunResult, CheckResult],
) -> None:
    outcome, _ = replayed
    # Of Gütersloh's two ineligible applicants, the one in a state reception facility is
    # refused, the other waits for an exception; each mover is found statewide as the
    # person registered before.
    assert dict(outcome.rejected) == {"not-eligible": 1}, outcome.summary()
    assert outcome.registrations["pending-exception"] == 1, outcome.summary()
    assert outcome.registrations["existing-participant"] == 7, outcome.summary()
    assert outcome.skipped == 0


def test_the_state_and_county_tables_show_the_oracles_figures(
    replayed: tuple[RunResult, CheckResult], history: StateHistory
) -> None:
    _, result = replayed
    failed = [c for c in result.comparisons if not c.ok]
    assert failed == []
    oracle = expected_statewide(history)
    assert len(result.comparisons) > 0
    labels = {c.check for c in result.comparisons}
    assert {f"state county {c['year']}-Q{c['quarter']}" for c in oracle["checks"]} <= labels
    # The checks test the moves: in some checked quarter the counties' entries exceed the
    # state's (people who moved are an entry of Bielefeld, not of the state), and each
    # county's and the state's cells were compared.
    states = [c for c in oracle["checks"] if c["report"] == "state"]
    assert any(
        sum(t["entries"] for t in c["figures"]["by_county"].values())
        > c["figures"]["state"]["entries"]
        for c in states
    )
    figures = {c.figure for c in result.comparisons if c.check.startswith("state")}
    assert {"state entries", "state exits", "state caseload", "05711 entries"} <= figures


async def test_no_small_count_is_recoverable_from_everything_published(
    owl_stack: Stack, replayed: tuple[RunResult, CheckResult]
) -> None:
    pool = await create_pool(owl_stack.service_database_url("reporting"))
    try:
        release = await compute_statewide(
            pool, counties=owl_stack.county_files(), rule=RULE, today=datetime.now(UTC).date()
        )
    finally:
        await pool.close()
    assert set(release.counties) == {"05711", "05754", "05758"}
    assert release.state_reports
    found = audit_statewide(release, RULE)
    assert found.ok, found.summary()
    assert found.report.published_cells > 0
