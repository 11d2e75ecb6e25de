"""One component of the local stack at a time: how it was started, to stop and start it again.

Every process the stack starts (Kafka, PostgreSQL, each service instance) leaves a launch
record under `<state dir>/launch/<component>.json`: its command line, the environment it got
(services: settings and secrets, so the file is the owner's only, like `secrets/`), its log,
how to tell it is ready, and the process id it has now. `python -m durchstarten_deploy
stop|start|restart <component>` works from these records alone, so an operator (or the
fault suite) can stop one part of a running stack and bring it back as it was.
"""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from durchstarten_deploy.processes import (
    StackError,
    command_line,
    pid_alive,
    port_open,
    stop_pid,
    wait_until,
    write_private,
)

LAUNCH_DIR = "launch"


@dataclass(frozen=True)
class Launch:
    """How one component was started, and the process that runs it now (`pid`)."""

    name: str
    argv: list[str]
    env: dict[str, str] | None
    """The environment it was given; None: the environment of whoever starts it."""
    log: str
    ready: dict[str, Any]
    """`{"http": base URL, "instance": id}` (a service) or `{"port": n}` (Kafka, PostgreSQL)."""
    stop_signal: str = "SIGTERM"
    pid: int = 0
    command: str = ""
    """The process's command line when started: a pid reused by another process is not ours."""

    def running(self) -> bool:
        """Whether the recorded process still runs this component."""
        return bool(self.pid) and pid_alive(self.pid) and command_line(self.pid) == self.command

    def is_ready(self) -> bool:
        """Ready as its kind defines it; a service must also name the instance we started."""
        if "port" in self.ready:
            return port_open(int(self.ready["port"]))
        try:
            with urllib.request.urlopen(f"{self.ready['http']}/health/ready", timeout=2) as answer:  # noqa: S310  # our own http URL
                body = json.loads(answer.read())
        except (urllib.error.URLError, OSError, ValueError):
            return False
        # Another stack's process on a port we took over would answer too: not ours.
        return bool(body.get("instance") == self.ready.get("instance"))


def launch_path(state_dir: Path, name: str) -> Path:
    """Where the launch record of `name` lives."""
    return state_dir / LAUNCH_DIR / f"{name}.json"


def save(state_dir: Path, launch: Launch) -> None:
    """Write the launch record (owner-only: a service's environment holds its secrets)."""
    path = launch_path(state_dir, launch.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, json.dumps(asdict(launch), indent=2))


def recorded(state_dir: Path, process: subprocess.Popen[bytes], launch: Launch) -> Launch:
    """`launch` with the process that now runs it, saved.

    Call it once the process is ready: until its exec has happened, a new process still
    shows its parent's command line (and a wrapper such as setpriv shows its own).
    """
    args = process.args
    argv = [str(a) for a in args] if isinstance(args, list | tuple) else [str(args)]
    current = replace(launch, argv=argv, pid=process.pid, command=command_line(process.pid))
    save(state_dir, current)
    return current


def components(state_dir: Path) -> list[str]:
    """The components the stack in `state_dir` has started, by name."""
    return sorted(p.stem for p in (state_dir / LAUNCH_DIR).glob("*.json"))


def load(state_dir: Path, name: str) -> Launch:
    """The launch record of `name`; StackError naming the known ones when there is none."""
    path = launch_path(state_dir, name)
    if not path.exists():
        known = ", ".join(components(state_dir)) or "none (is the stack up?)"
        msg = f"unknown component {name!r}; this stack has: {known}"
        raise StackError(msg)
    return Launch(**json.loads(path.read_text()))


def spawn(state_dir: Path, launch: Launch, *, timeout_s: float = 90.0) -> Launch:
    """Start the component as recorded and wait until it is ready; the updated record."""
    log = Path(launch.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen(  # a command line the stack itself recorded
            launch.argv,
            env=launch.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def ready() -> bool:
        if process.poll() is not None:
            msg = f"{launch.name} exited with code {process.returncode}; see {log}"
            raise StackError(msg)
        return launch.is_ready()

    wait_until(ready, timeout_s=timeout_s, what=launch.name, log=log)
    return recorded(state_dir, process, launch)


def stop(launch: Launch, *, timeout_s: float = 30.0) -> None:
    """Stop the component's process (its own stop signal, SIGKILL after `timeout_s`)."""
    stop_pid(launch.pid, timeout_s=timeout_s, sig=signal.Signals[launch.stop_signal])
