"""Command line of the local stack: `python -m durchstarten_deploy up|down|status|run|token`.

- up:     start Kafka, PostgreSQL and the four services in the background
- down:   stop everything `up` started, by process id
- status: show what runs and whether it is ready
- run:    up, replay three counties' histories (the demo: Kreis Herford's, and Gütersloh's
          and Bielefeld's with people moving between), print the headline figures the
          reporting API shows and where everything is, wait for Ctrl-C, then down
- stop, start, restart <component>: one part of a running stack (kafka, postgres, a
          service), started again exactly as `up` started it
- token:  print a development bearer token for calling the HTTP APIs
- topics: create the project's topics on the broker named by DURCHSTARTEN_* settings
          (the topic-creation step of docker-compose.yml and of cluster deployments)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from durchstarten.auth import DevIssuer, Role
from durchstarten.events.topics import project_topics
from durchstarten.messaging.access import apply_acls, declared_acls
from durchstarten.messaging.admin import ensure_topics
from durchstarten.messaging.broker import admin_client_options
from durchstarten.processing_register import load_register, register_markdown
from durchstarten.retention import load_plan, plan_markdown
from durchstarten.settings import KafkaSettings
from durchstarten_deploy import components, kubernetes
from durchstarten_deploy.demo import publish_demo
from durchstarten_deploy.kafka import KafkaNode
from durchstarten_deploy.processes import (
    StackError,
    command_line,
    pid_alive,
    port_open,
    stop_pid,
)
from durchstarten_deploy.stack import (
    DEFAULT_PORTS,
    DEFAULT_PROVIDERS,
    DEMO_COUNTY,
    DEV_AUDIENCE,
    DEV_ISSUER,
    REPO,
    SERVICES,
    Stack,
    default_state_dir,
)

STATE_FILE = "stack.json"


def _say(text: str) -> None:
    print(text, flush=True)  # the CLI talks to a person


def _port(preferred: int) -> int | None:
    """The preferred port when free, else None (the stack picks a free one)."""
    return None if port_open(preferred) else preferred


def up(stack: Stack) -> None:
    """Start the infrastructure and the services; record what runs in stack.json."""
    _say(f"Starting Kafka and PostgreSQL (state in {stack.state_dir}) ...")
    stack.start_infrastructure()
    for name in SERVICES:
        _say(f"Starting {name} ...")
        stack.start_service(name, port=_port(DEFAULT_PORTS[name]))
    pids = {name: s.process.pid for name, s in stack.services.items()}
    if isinstance(stack.kafka, KafkaNode) and stack.kafka.process is not None:
        pids["kafka"] = stack.kafka.process.pid
    if stack.postgres is not None and stack.postgres.process is not None:
        pids["postgres"] = stack.postgres.process.pid
    tls = stack.tls_access
    state: dict[str, Any] = {
        "kafka_bootstrap": stack.bootstrap,
        # Where a provider's own client connects as its principal: SCRAM inside TLS, the
        # broker checked against this CA; passwords are the files in secrets/.
        "kafka_tls_bootstrap": tls.bootstrap if tls is not None else None,
        "kafka_ca_file": str(tls.cafile) if tls is not None and tls.cafile else None,
        "kafka_secrets": str(stack.state_dir / "secrets"),
        "services": {name: s.url for name, s in stack.services.items()},
        "pids": pids,
        # `down` signals a pid only while it still runs the same command line: after a
        # reboot the number may belong to another process.
        "commands": {name: command_line(pid) for name, pid in pids.items()},
    }
    (stack.state_dir / STATE_FILE).write_text(json.dumps(state, indent=2))


def down(state_dir: Path) -> None:
    """Stop what `up` started, services first, by the recorded process ids."""
    state_file = state_dir / STATE_FILE
    if not state_file.exists():
        _say("Nothing to stop.")
        return
    state = json.loads(state_file.read_text())
    pids: dict[str, int] = state["pids"]
    commands: dict[str, str] = state.get("commands", {})
    for name in [*SERVICES, "kafka", "postgres"]:
        if name not in pids or not pid_alive(pids[name]):
            continue
        if commands.get(name) and command_line(pids[name]) != commands[name]:
            _say(f"Not stopping pid {pids[name]}: it no longer runs {name}.")
            continue
        _say(f"Stopping {name} (pid {pids[name]}) ...")
        sig = signal.SIGINT if name == "postgres" else signal.SIGTERM  # fast shutdown
        stop_pid(pids[name], timeout_s=30, sig=sig)
    state_file.unlink()


def status(state_dir: Path) -> int:
    """Print each process and its readiness; exit code 0 only when all are up."""
    state_file = state_dir / STATE_FILE
    if not state_file.exists():
        _say("The stack is not running.")
        return 1
    state = json.loads(state_file.read_text())
    healthy = True
    for name, pid in state["pids"].items():
        alive = pid_alive(pid)
        line = f"{name:10} pid {pid:>7} {'running' if alive else 'STOPPED'}"
        if name in state["services"]:
            ready = alive and _ready(state["services"][name])
            line += f"  {'ready' if ready else 'NOT READY'}  {state['services'][name]}"
            healthy = healthy and ready
        healthy = healthy and alive
        _say(line)
    return 0 if healthy else 1


def one_component(state_dir: Path, action: str, name: str) -> int:
    """Stop, start or restart one component; say so and change nothing when it cannot be.

    0 when done; 1 when the component is not in the state the action needs (restart or stop
    of one not running, start of one running); unknown names raise StackError (exit 2).
    """
    launch = components.load(state_dir, name)
    running = launch.running()
    if action in {"stop", "restart"} and not running:
        _say(f"{name} is not running; nothing changed (start it with `start {name}`).")
        return 1
    if action == "start" and running:
        _say(f"{name} runs already (pid {launch.pid}); nothing changed.")
        return 1
    if running:
        _say(f"Stopping {name} (pid {launch.pid}) ...")
        components.stop(launch)
    if action in {"start", "restart"}:
        _say(f"Starting {name} ...")
        launch = components.spawn(state_dir, launch)
        _say(f"{name} is ready (pid {launch.pid}).")
    _note_pid(state_dir, launch)
    return 0


def _note_pid(state_dir: Path, launch: components.Launch) -> None:
    """Keep stack.json's process ids current, so that `down` and `status` see the new one."""
    state_file = state_dir / STATE_FILE
    if not state_file.exists():
        return
    state = json.loads(state_file.read_text())
    if launch.name in state["pids"]:
        state["pids"][launch.name] = launch.pid
        state.setdefault("commands", {})[launch.name] = launch.command
        state_file.write_text(json.dumps(state, indent=2))


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health/ready", timeout=2) as response:  # noqa: S310  # local http
            return bool(response.status == 200)
    except OSError:
        return False


def run(stack: Stack, *, seed: int | None = None) -> None:
    """`make run`: the whole system with a demo, until Ctrl-C; then everything stops."""
    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            return  # uv forwards the terminal's SIGINT again: one stop is enough
        stopping = True
        raise KeyboardInterrupt

    # Installed explicitly: a shell starts background jobs with SIGINT ignored, and Python
    # then never raises KeyboardInterrupt; the stack must stop on Ctrl-C or SIGINT regardless.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        up(stack)
        _say(
            "Replaying 2019-2023 in Kreis Herford (its recorded history), Kreis Gütersloh and "
            f"Bielefeld (illustrative) through Kafka ({stack.bootstrap}) as the providers' "
            "systems would ..."
        )
        demo = asyncio.run(
            publish_demo(
                stack.access,
                stack.services["reporting"].url,
                stack.token(Role.COORDINATOR),
                stack.token(Role.MINISTRY),
                seed=seed,
            )
        )
        _say(f"  replies on the outbound topics: {demo.run.summary()}")
        _say(f"  people who moved from Gütersloh to Bielefeld and registered again: {demo.moved}")
        _say("Headline figures read back from the reporting API (the oracle's in brackets):")
        for headline in demo.headlines:
            _say(f"  {headline.label}: {headline.published} (oracle: {headline.expected})")
        differing = [c for c in demo.result.comparisons + demo.state_result.comparisons if not c.ok]
        _say(
            "  every checked figure equals the oracle"
            if not differing
            else f"  {len(differing)} checked figures differ from the oracle: "
            + ", ".join(f"{c.check} {c.figure}" for c in differing)
        )
        _say("")
        _say("The system is running.")
        for name, service in stack.services.items():
            _say(f"  {name:10} {service.url}/docs   (health: {service.url}/health/ready)")
        _say(
            f"  Kafka      {stack.bootstrap}   "
            f"(SASL/SCRAM-SHA-512; logins in {stack.state_dir}/secrets)"
        )
        tls = stack.tls_access
        if tls is not None:
            _say(f"  Kafka TLS  {tls.bootstrap}   (SASL_SSL; CA {tls.cafile})")
        reporting = stack.services["reporting"].url
        _say(f"  report     {reporting}/v1/reports/outcomes?year=2022&quarter=4")
        _say(f"  state      {reporting}/v1/reports/state-monitoring?year=2021&quarter=4")
        _say(
            "  a token for the APIs: uv run python -m durchstarten_deploy token --role coordinator"
        )
        _say("Press Ctrl-C to stop.")
        while not stopping:
            time.sleep(1)
    except KeyboardInterrupt:
        _say("\nStopping ...")
    finally:
        stopping = True  # from here on, further signals must not interrupt the clean-up
        stack.stop()
        (stack.state_dir / STATE_FILE).unlink(missing_ok=True)
        _say("Stopped; no process left running.")


def create_topics(settings: KafkaSettings) -> None:
    """Create every topic the project uses, with the configured partitions and replicas."""
    created = asyncio.run(
        ensure_topics(
            settings.kafka_bootstrap_servers,
            project_topics(settings.providers),
            partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication_factor,
            plan=load_plan(settings.deletion_plan),
            client_options=admin_client_options(settings),
        )
    )
    _say(f"{len(created)} topics created; {len(project_topics(settings.providers))} in all.")
    if settings.kafka_security_protocol != "PLAINTEXT":
        # The same declaration as the local stack's: idempotent, so every run may apply it.
        acls = declared_acls(settings.providers)
        asyncio.run(
            apply_acls(
                settings.kafka_bootstrap_servers,
                acls,
                client_options=admin_client_options(settings),
            )
        )
        _say(f"{len(acls)} ACLs applied for {len(settings.providers)} providers.")


def _document(name: str, register: Path | None) -> str:
    """The deletion plan's tables or the processing register, as the docs have them."""
    plan = load_plan(KafkaSettings().deletion_plan)
    if name == "deletion-plan":
        return plan_markdown(plan)
    return register_markdown(load_register(register), plan)


def _parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per action."""
    parser = argparse.ArgumentParser(
        prog="python -m durchstarten_deploy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--state-dir", type=Path, default=default_state_dir())
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start everything in the background")
    sub.add_parser("down", help="stop everything up started")
    sub.add_parser("status", help="show what runs")
    run_parser = sub.add_parser("run", help="up + demo, until Ctrl-C")
    run_parser.add_argument(
        "--seed", type=int, help="another history of the demo scenario (default: its own seed)"
    )
    run_parser.add_argument(
        "--keep", action="store_true", help="keep the data of the previous run instead"
    )
    for action, what in (
        ("stop", "stop one component"),
        ("start", "start one stopped component as up started it"),
        ("restart", "stop and start one running component"),
    ):
        one = sub.add_parser(action, help=f"{what} (kafka, postgres, intake, ...)")
        one.add_argument("component")
    sub.add_parser("topics", help="create the topics (DURCHSTARTEN_KAFKA_* settings)")
    manifests = sub.add_parser(
        "kubernetes", help="write the Kubernetes manifests (Strimzi, CloudNativePG) for providers"
    )
    manifests.add_argument("--out", type=Path, default=REPO / "deploy" / "kubernetes")
    manifests.add_argument(
        "--provider", action="append", help="a provider id (repeat; default: Kreis Herford's)"
    )
    sub.add_parser(
        "deletion-plan", help="print the deletion plan's tables (DURCHSTARTEN_DELETION_PLAN)"
    )
    register = sub.add_parser(
        "processing-register", help="print the processing register (Art. 30) as Markdown"
    )
    register.add_argument("--file", type=Path, help="a county's own register (TOML)")
    token = sub.add_parser("token", help="print a development bearer token")
    token.add_argument("--role", choices=[r.value for r in Role], required=True)
    token.add_argument("--provider")
    token.add_argument(
        "--county",
        default=DEMO_COUNTY,
        help="a coordinator's county, its 5-digit key (default: Kreis Herford, 05758)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # readiness polls are noisy
    try:
        return _dispatch(args)
    except StackError as error:
        _say(f"error: {error}")
        return 2


def _dispatch(args: argparse.Namespace) -> int:  # noqa: PLR0911  # one return per command
    """Carry out the parsed command; its exit code."""
    command, state_dir = args.command, args.state_dir
    if command == "down":
        down(state_dir)
        return 0
    if command == "status":
        return status(state_dir)
    if command in {"stop", "start", "restart"}:
        return one_component(state_dir, command, args.component)
    if command == "topics":
        create_topics(KafkaSettings())
        return 0
    if command == "kubernetes":
        for path in kubernetes.write(args.out, args.provider or list(DEFAULT_PROVIDERS)):
            _say(f"wrote {path}")
        return 0
    if command in {"deletion-plan", "processing-register"}:
        _say(_document(command, getattr(args, "file", None)).rstrip("\n"))
        return 0
    if command == "token":
        issuer = DevIssuer(state_dir / "auth", issuer=DEV_ISSUER, audience=DEV_AUDIENCE)
        role = Role(args.role)
        county = args.county if role is Role.COORDINATOR else None
        _say(issuer.token(subject="cli", roles=[role], provider=args.provider, county=county))
        return 0
    if (state_dir / STATE_FILE).exists():
        _say("A stack seems to run already (stack.json); `down` it first.")
        return 1
    stack = Stack(state_dir=state_dir, kafka_port=_port(9092))
    if command == "run":
        if not args.keep:
            stack.remove_state()  # the demo starts from an empty system every time
        run(stack, seed=args.seed)
        return 0
    try:
        up(stack)
    except BaseException:
        stack.stop()  # leave nothing half-started behind
        raise
    _say(json.dumps(json.loads((state_dir / STATE_FILE).read_text()), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
