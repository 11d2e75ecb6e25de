"""The fault suite: the Herford history replayed while every component is killed mid-stream.

A stack of its own, as production runs: a three-node KRaft cluster (replication factor 3,
min.insync.replicas 2) on 127.0.0.1, PostgreSQL with synchronous commit, two instances of
each write service in their consumer groups and two reporting instances. While a provider
simulator replays a seeded history over Kafka, the nemesis SIGKILLs each service, one
broker and the PostgreSQL server, kills a database backend and freezes the second coaching
instance. Then the checker judges every acknowledged command (`history.judge`) and the
reports are compared with the oracle: the run prints `acked N, lost 0, double 0, ...`
and fails on anything else.

`make test` runs the short form (every fault once); `make faults` the long form
(DURCHSTARTEN_FAULTS=long: every fault three times, longer freezes, a random seed unless
DURCHSTARTEN_FAULTS_SEED names one).
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.faults.history import (
    DOMAIN_TOPICS,
    RecordingTransport,
    judge,
    read_everything,
    reply_topics,
)
from tests.faults.nemesis import Nemesis, schedule
from tests.support import FRESH_REPORTS, PATIENCE_S

from durchstarten.auth import Role
from durchstarten_deploy import components
from durchstarten_deploy.stack import SERVICES, Stack
from durchstarten_simulator import scenario as scenario_file
from durchstarten_simulator.check import check
from durchstarten_simulator.generate import generate
from durchstarten_simulator.oracle import expected
from durchstarten_simulator.runner import replay
from durchstarten_simulator.wire import KafkaTransport

# A stack of its own to start (three JVMs, eight service processes), a history to replay
# under faults and a check to wait for: more than the suite's 300 s per test.
pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(1800)]

HERFORD = Path(__file__).resolve().parents[2] / "simulator" / "scenarios" / "kreis-herford.toml"
ALIASES = {"diakonie": "fault-diakonie", "in-via": "fault-in-via", "awo": "fault-awo"}
LONG = os.environ.get("DURCHSTARTEN_FAULTS", "short") == "long"
SEED = int(os.environ.get("DURCHSTARTEN_FAULTS_SEED") or (secrets.randbelow(2**31) if LONG else 17))
KAFKA_NODES = 3
SECOND_INSTANCES = ("intake", "coaching", "courses", "reporting")


@pytest.fixture(scope="module")
def fault_stack(state_root: Path) -> Iterator[Stack]:
    """The production-shaped stack the nemesis may break (its own PostgreSQL and Kafka)."""
    stack = Stack(
        state_dir=state_root / "faults",
        database_url=None,  # a server of our own: the nemesis kills it
        kafka_nodes=KAFKA_NODES,
        providers=tuple(ALIASES.values()),
    )
    try:
        stack.start_infrastructure()
        for name in SERVICES:
            stack.start_service(name, extra_env=FRESH_REPORTS if name == "reporting" else None)
        for name in SECOND_INSTANCES:
            extra = FRESH_REPORTS if name == "reporting" else None
            stack.start_service(name, instance=f"{name}-2", extra_env=extra)
        yield stack
    finally:
        # What the nemesis started again is not known to `stack`: stop everything still
        # running from its launch record, the services before Kafka and PostgreSQL.
        names = components.components(stack.state_dir)
        last = [n for n in names if n == "postgres" or n.startswith("kafka")]
        for name in [*(n for n in names if n not in last), *sorted(last, key="postgres".__eq__)]:
            launch = components.load(stack.state_dir, name)
            if launch.running():
                components.stop(launch)
        stack.stop()


async def test_nothing_acknowledged_is_lost_or_applied_twice_while_everything_is_killed(
    fault_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = scenario_file.load(HERFORD).with_provider_ids(ALIASES)
    history = generate(scenario, SEED)
    oracle = expected(history)
    faults = schedule(SEED, kafka_nodes=KAFKA_NODES, long=LONG)

    def say(text: str) -> None:
        with capsys.disabled():  # the run's own report, shown whatever pytest captures
            print(text, flush=True)

    say(f"\nfault run, seed {SEED}, {len(history.commands)} commands planned")
    nemesis = Nemesis(fault_stack, faults, gap_s=(0.5, 2.0), seed=SEED, say=say)
    transport = RecordingTransport(KafkaTransport(fault_stack.access, list(ALIASES.values())))

    done = asyncio.Event()
    striking = asyncio.create_task(nemesis.run(done))
    # Paced (history days per second) so that the faults strike while commands flow.
    replaying = asyncio.create_task(
        replay(history, transport, speed=30.0, stage_timeout_s=PATIENCE_S)
    )
    await asyncio.wait({striking, replaying}, return_when=asyncio.FIRST_EXCEPTION)
    done.set()
    if striking.done() and striking.exception() is not None:
        replaying.cancel()  # a component did not come back: no point waiting for answers
        await asyncio.gather(replaying, return_exceptions=True)
        await striking  # raises the nemesis's error
    outcome = await replaying
    await striking  # every component is back before the system is judged

    # Providers that do not know whether a command arrived send it again, same id.
    again = random.Random(SEED).sample(sorted(transport.sent.values(), key=lambda o: o.id), 25)
    resend = KafkaTransport(fault_stack.access, list(ALIASES.values()))
    await resend.start()
    try:
        await resend.send(again)
        await resend.wait({o.id for o in again}, PATIENCE_S)
    finally:
        await resend.stop()

    replies = await read_everything(fault_stack.access, reply_topics(ALIASES.values()))
    events = await read_everything(fault_stack.access, DOMAIN_TOPICS)
    verdict = judge(transport.sent, replies, events)
    reporting = fault_stack.services["reporting-2"].url  # the instance never killed
    result = await check(
        reporting, fault_stack.token(Role.COORDINATOR), oracle, timeout_s=PATIENCE_S
    )
    verdict.report_failures = [c for c in result.comparisons if not c.ok]
    with capsys.disabled():
        print(verdict.line())

    struck_in_flight = {s.fault.target for s in nemesis.struck if s.in_flight}
    assert {"intake", "coaching", "courses", "reporting", "postgres"} <= struck_in_flight, (
        "the workload ended before every fault struck: pace it slower",
        nemesis.summary(),
    )
    assert any(t.startswith("kafka-") for t in struck_in_flight), nemesis.summary()
    assert verdict.acked > 1000, verdict.line()
    # Each copy is answered as before. A command redelivered to a service killed before its
    # offset commit is answered as a repeat too, so there may be more.
    assert {o.id for o in again} <= verdict.repeated, verdict.line()
    assert verdict.ok, (
        verdict.line(),
        verdict.lost[:5],
        verdict.double[:5],
        verdict.replies_missing[:5],
        verdict.report_failures[:5],
    )
    assert dict(outcome.rejected) == {"not-eligible": 1}, outcome.summary()
