"""The demo of `make run`: three counties' histories 2019-2023, replayed by the simulator.

Kreis Herford's recorded history, and illustrative ones of Kreis Gütersloh and Bielefeld
in which people move from Gütersloh to Bielefeld (`simulator/scenarios/owl-statewide.toml`).
The provider simulator sends them the way the providers' own systems would (CloudEvents
JSON with a plain Kafka producer on `inbound.<provider>.<service>`, replies read from the
outbound topics), compressed: each stage goes out as fast as the services take it. The
headline figures are then read back from the reporting API (Herford's as its coordinator
reads them, the state table as the ministry does) and set beside the figures the
simulator's oracles computed from the commands alone.
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
from durchstarten_simulator.statewide import StateHistory, expected_statewide, generate_statewide
from durchstarten_simulator.statewide import load as load_statewide
from durchstarten_simulator.wire import KafkaTransport

SCENARIOS = Path(__file__).resolve().parents[3] / "simulator" / "scenarios"
SCENARIO = SCENARIOS / "kreis-herford.toml"
STATEWIDE = SCENARIOS / "owl-statewide.toml"


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
    """Kreis Herford's checks, as its coordinator reads the reports."""
    state_result: CheckResult
    """The state table's and each county's quarterly checks, as the ministry reads them."""
    headlines: list[Headline]
    moved: int
    """People the history moves from one county to another."""


def herford_history(seed: int | None = None) -> History:
    """The Kreis Herford history (the scenario's own seed unless another is given)."""
    return generate(scenario_file.load(SCENARIO), seed)


def statewide_history(seed: int | None = None) -> StateHistory:
    """The three counties' history (the file's own seed unless another is given)."""
    return generate_statewide(load_statewide(STATEWIDE), seed)


async def publish_demo(
    kafka: KafkaAccess,
    reporting_url: str,
    token: str,
    ministry_token: str,
    *,
    seed: int | None = None,
) -> DemoOutcome:
    """Replay the statewide history through Kafka, then compare the reports with the oracles."""
    statewide = statewide_history(seed)
    herford = next(h for h in statewide.histories if h.scenario.name == "kreis-herford")
    providers = sorted({p.id for s in statewide.statewide.scenarios for p in s.providers})
    run = await replay(statewide.as_history(), KafkaTransport(kafka, providers))
    oracle = expected(herford)
    result = await check(reporting_url, token, oracle, timeout_s=60)
    state_oracle = expected_statewide(statewide)
    state_result = await check(reporting_url, ministry_token, state_oracle, timeout_s=60)

    def figure(check_label: str, name: str, label: str) -> Headline:
        for comparison in result.comparisons + state_result.comparisons:
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
        figure("state county 2021-Q4", "state entries", "state 2021-Q4 entries (a mover once)"),
        figure("state county 2021-Q4", "state exits", "state 2021-Q4 exits"),
        figure("state county 2021-Q4", "state caseload", "state 2021-Q4 caseload"),
        figure("state county 2021-Q4", "05711 entries", "Bielefeld's 2021-Q4 entries (movers in)"),
    ]
    return DemoOutcome(
        run=run,
        result=result,
        state_result=state_result,
        headlines=headlines,
        moved=int(state_oracle["moved"]),
    )
