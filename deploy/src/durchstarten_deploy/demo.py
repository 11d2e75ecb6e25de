"""The demo of `make run`: the Kreis Herford history 2019-2023, replayed by the simulator.

The provider simulator sends the history the way the providers' own systems would
(CloudEvents JSON with a plain Kafka producer on `inbound.<provider>.<service>`, replies read
from the outbound topics), compressed: each stage goes out as fast as the services take it.
The headline figures are then read back from the reporting API and set beside the figures
the simulator's oracle computed from the commands alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from durchstarten.messaging.access import KafkaAccess
from durchstarten_simulator import scenario as scenario_file
from durchstarten_simulator.check import CheckResult, check
from durchstarten_simulator.generate import History, generate
from durchstarten_simulator.oracle import expected
from durchstarten_simulator.runner import RunResult, replay
from durchstarten_simulator.wire import KafkaTransport

SCENARIO = Path(__file__).resolve().parents[3] / "simulator" / "scenarios" / "kreis-herford.toml"


@dataclass(frozen=True)
class Headline:
    """One headline figure: what the reporting API shows and what the oracle expects."""

    label: str
    published: object
    expected: object


@dataclass(frozen=True)
class DemoOutcome:
    """What the demo sent and what the reports show."""

    run: RunResult
    result: CheckResult
    headlines: list[Headline]


def herford_history(seed: int | None = None) -> History:
    """The Kreis Herford history (the scenario's own seed unless another is given)."""
    return generate(scenario_file.load(SCENARIO), seed)


async def publish_demo(
    kafka: KafkaAccess, reporting_url: str, token: str, *, seed: int | None = None
) -> DemoOutcome:
    """Replay the history through Kafka, then compare the reports with the oracle."""
    history = herford_history(seed)
    providers = sorted({p.id for p in history.scenario.providers})
    run = await replay(history, KafkaTransport(kafka, providers))
    oracle = expected(history)
    result = await check(reporting_url, token, oracle, timeout_s=60)

    def figure(check_label: str, name: str, label: str) -> Headline:
        for comparison in result.comparisons:
            if comparison.check == check_label and comparison.figure == name:
                return Headline(label, comparison.actual, comparison.expected)
        return Headline(label, None, None)

    headlines = [
        figure("outcomes diakonie-herford 2022-Q4", "reached", "persons coached by Diakonie"),
        figure(
            "outcomes diakonie-herford 2022-Q4",
            "placement_rate_reached",
            "placement share of those coached",
        ),
        figure("courses awo-owl 2023", "pass_rate", "youth integration course pass rate"),
    ]
    return DemoOutcome(run=run, result=result, headlines=headlines)
