"""Command line: `python -m durchstarten_simulator scenario|statewide|load|oracle|check`.

- scenario: replay a scenario file through Kafka (or HTTP) as the providers' systems would
- statewide: replay a statewide file (several counties' scenarios, people moving between
            them) through Kafka; `--check` compares the state and county tables as the
            ministry reads them, `--oracle` only prints what they must show
- load:     synthetic participants at a fixed arrival rate (open loop), for benchmarks
- oracle:   print the figures a scenario's reports must show, as JSON
- check:    compare the oracle with the reporting API

Where the stack runs is read from the local stack's stack.json (`--stack-dir`, default
`DURCHSTARTEN_STACK_DIR` or `.stack`), unless `--bootstrap` and `--reporting-url` name it;
tokens come from the local stack's development issuer, or `--token`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from durchstarten.auth import DevIssuer, Role
from durchstarten.messaging.access import KafkaAccess
from durchstarten.settings import ServiceSettings
from durchstarten_simulator import scenario as scenario_file
from durchstarten_simulator.check import check
from durchstarten_simulator.generate import History, generate
from durchstarten_simulator.load import DEFAULT_PROVIDERS, run_load, statewide_counties
from durchstarten_simulator.oracle import expected
from durchstarten_simulator.runner import RunResult, Transport, replay
from durchstarten_simulator.statewide import expected_statewide, generate_statewide
from durchstarten_simulator.statewide import load as load_statewide
from durchstarten_simulator.wire import HttpTransport, KafkaTransport


def _say(text: str) -> None:
    print(text, flush=True)  # the command line talks to a person


def dev_issuer(stack_dir: Path) -> DevIssuer:
    """The local stack's development token issuer (its keys live in the stack's state)."""
    fields = ServiceSettings.model_fields
    return DevIssuer(
        stack_dir / "auth",
        issuer=str(fields["auth_issuer"].default),
        audience=str(fields["auth_audience"].default),
    )


def _stack_state(stack_dir: Path) -> dict[str, Any]:
    state_file = stack_dir / "stack.json"
    if not state_file.exists():
        return {}
    state: dict[str, Any] = json.loads(state_file.read_text())
    return state


def _kafka_access(args: argparse.Namespace, state: dict[str, Any]) -> KafkaAccess:
    """The broker and the providers' credentials of the local stack (its secrets folder)."""
    bootstrap = args.bootstrap or state.get("kafka_bootstrap", "127.0.0.1:9092")
    return KafkaAccess.from_directory(bootstrap, args.stack_dir / "secrets")


def history_of(path: Path, seed: int | None, renames: list[str]) -> History:
    """The history a scenario file and seed give, with providers renamed (`old=new`)."""
    loaded = scenario_file.load(path)
    if renames:
        loaded = loaded.with_provider_ids(dict(r.split("=", 1) for r in renames))
    return generate(loaded, seed)


async def run_scenario(
    history: History,
    *,
    kafka: KafkaAccess,
    via: str = "kafka",
    speed: float = 0.0,
    service_urls: dict[str, str] | None = None,
    issuer: DevIssuer | None = None,
) -> RunResult:
    """Replay `history` through Kafka, or through the services' HTTP APIs."""
    providers = sorted({p.id for p in history.scenario.providers})
    transport: Transport
    if via == "http":
        if service_urls is None or issuer is None:
            msg = "--via http needs the services' URLs and a token issuer (a running stack)"
            raise SystemExit(msg)
        known = issuer

        def token(provider: str) -> str:
            return known.token(subject=f"sim-{provider}", roles=[Role.PROVIDER], provider=provider)

        transport = HttpTransport(service_urls, token)
    else:
        transport = KafkaTransport(kafka, providers)
    return await replay(history, transport, speed=speed)


def main(argv: list[str] | None = None) -> int:  # one branch per sub-command
    """Entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m durchstarten_simulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    default_dir = Path(os.environ.get("DURCHSTARTEN_STACK_DIR", ".stack"))
    parser.add_argument("--stack-dir", type=Path, default=default_dir)
    sub = parser.add_subparsers(dest="command", required=True)

    def scenario_args(command: argparse.ArgumentParser) -> None:
        command.add_argument("file", type=Path, help="scenario file (TOML, docs/scenario.md)")
        command.add_argument("--seed", type=int, help="default: the scenario's own seed")
        command.add_argument(
            "--provider",
            action="append",
            default=[],
            metavar="OLD=NEW",
            help="send as another provider id (key or id of the scenario = new id)",
        )

    run = sub.add_parser("scenario", help="replay a scenario through the stack")
    scenario_args(run)
    run.add_argument("--bootstrap", help="Kafka bootstrap servers")
    run.add_argument("--via", choices=["kafka", "http"], default="kafka")
    run.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="simulated days per second within a stage; 0 = as fast as possible",
    )
    run.add_argument("--check", action="store_true", help="then compare with the reports")

    _load_parser(sub)

    oracle = sub.add_parser("oracle", help="print the expected figures as JSON")
    scenario_args(oracle)

    compare = sub.add_parser("check", help="compare the oracle with the reporting API")
    scenario_args(compare)
    compare.add_argument("--reporting-url")
    compare.add_argument("--token", help="bearer token (default: the local stack's dev issuer)")
    compare.add_argument("--timeout", type=float, default=60.0)

    _statewide_parser(sub)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    state = _stack_state(args.stack_dir)

    if args.command == "oracle":
        _say(json.dumps(expected(history_of(args.file, args.seed, args.provider)), indent=2))
        return 0
    if args.command == "load":
        result = asyncio.run(
            run_load(
                _kafka_access(args, state),
                rate=args.rate,
                duration_s=args.duration,
                participants=args.participants,
                seed=args.seed,
                providers=args.providers.split(","),
                counties=statewide_counties() if args.statewide else None,
            )
        )
        _say(json.dumps(asdict(result), indent=2))
        return 0
    if args.command == "statewide":
        return _statewide(args, state)
    history = history_of(args.file, args.seed, args.provider)
    if args.command == "scenario":
        issuer = dev_issuer(args.stack_dir) if args.via == "http" else None
        outcome = asyncio.run(
            run_scenario(
                history,
                kafka=_kafka_access(args, state),
                via=args.via,
                speed=args.speed,
                service_urls=state.get("services"),
                issuer=issuer,
            )
        )
        _say(json.dumps(outcome.summary(), indent=2))
        if not args.check:
            return 0
    url = getattr(args, "reporting_url", None) or state.get("services", {}).get("reporting")
    if not url:
        _say("error: no reporting URL (--reporting-url, or a running local stack)")
        return 2
    token = getattr(args, "token", None) or dev_issuer(args.stack_dir).token(
        subject="simulator-check", roles=[Role.COORDINATOR], county=history.scenario.county
    )
    compared = asyncio.run(
        check(url, token, expected(history), timeout_s=getattr(args, "timeout", 60.0))
    )
    _say(json.dumps(compared.as_json(), indent=2))
    return 0 if compared.ok else 1


def _load_parser(sub: Any) -> None:
    """The `load` sub-command's arguments."""
    load = sub.add_parser("load", help="open-loop load at a fixed rate")
    load.add_argument("--bootstrap")
    load.add_argument("--rate", type=float, default=200.0, help="commands per second")
    load.add_argument("--duration", type=float, default=10.0, help="seconds")
    load.add_argument("--participants", type=int, default=200)
    load.add_argument("--seed", type=int, default=0)
    load.add_argument("--providers", default=",".join(DEFAULT_PROVIDERS))
    load.add_argument(
        "--statewide",
        action="store_true",
        help="the 53 synthetic counties' providers and municipalities (the stack must run "
        "with them: their county files from durchstarten_simulator.load.statewide_counties)",
    )


def _statewide_parser(sub: Any) -> None:
    """The `statewide` sub-command's arguments."""
    state_run = sub.add_parser(
        "statewide", help="replay a statewide file (several counties, people moving between)"
    )
    state_run.add_argument("file", type=Path, help="statewide file (TOML, docs/scenario.md)")
    state_run.add_argument("--seed", type=int, help="default: the file's own seed")
    state_run.add_argument("--bootstrap", help="Kafka bootstrap servers")
    state_run.add_argument("--oracle", action="store_true", help="only print the oracle")
    state_run.add_argument("--check", action="store_true", help="then compare, as the ministry")
    state_run.add_argument("--reporting-url")
    state_run.add_argument("--timeout", type=float, default=60.0)


def _statewide(args: argparse.Namespace, state: dict[str, Any]) -> int:
    """`statewide FILE`: replay every county's history and the moves; check as the ministry."""
    history = generate_statewide(load_statewide(args.file), args.seed)
    oracle = expected_statewide(history)
    if args.oracle:
        _say(json.dumps(oracle, indent=2))
        return 0
    providers = sorted({p.id for s in history.statewide.scenarios for p in s.providers})
    transport = KafkaTransport(_kafka_access(args, state), providers)
    outcome = asyncio.run(replay(history.as_history(), transport))
    _say(json.dumps({**outcome.summary(), "moved": oracle["moved"]}, indent=2))
    if not args.check:
        return 0
    url = args.reporting_url or state.get("services", {}).get("reporting")
    if not url:
        _say("error: no reporting URL (--reporting-url, or a running local stack)")
        return 2
    token = dev_issuer(args.stack_dir).token(subject="simulator-check", roles=[Role.MINISTRY])
    compared = asyncio.run(check(url, token, oracle, timeout_s=args.timeout))
    _say(json.dumps(compared.as_json(), indent=2))
    return 0 if compared.ok else 1


if __name__ == "__main__":
    sys.exit(main())
