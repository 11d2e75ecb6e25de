"""Seeded faults against a running stack: SIGKILL, SIGSTOP/SIGCONT, restarts, killed backends.

The nemesis (in Jepsen's word) works only through what an operator has: the launch records
the stack leaves (`durchstarten_deploy.components`), process ids and signals, and
PostgreSQL's `pg_terminate_backend`. Every fault is seeded, so a failing run can be run
again exactly; each is logged with the moment it struck and whether commands were in flight.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import asyncpg

from durchstarten_deploy import components
from durchstarten_deploy.processes import StackError, pid_alive
from durchstarten_deploy.stack import Stack

Kind = Literal["kill", "freeze", "kill-backend"]


@dataclass(frozen=True)
class Fault:
    """One fault: what it does to which component, and how long the component stays down."""

    kind: Kind
    target: str
    """A launch record's name (`coaching`, `kafka-2`, `postgres`); for a backend, a database."""
    down_s: float


@dataclass(frozen=True)
class Struck:
    """A fault as it happened."""

    fault: Fault
    at_s: float
    """Seconds since the run started."""
    in_flight: bool
    """Whether the workload was still sending or waiting for answers."""


@dataclass
class Nemesis:
    """Runs a schedule of faults against `stack` while `workload_done` is not set."""

    stack: Stack
    faults: list[Fault]
    gap_s: tuple[float, float]
    seed: int
    say: Callable[[str], None] = print
    """Where each fault is reported as it strikes (the run's timeline)."""
    struck: list[Struck] = field(default_factory=list)
    _started: float = field(default_factory=time.monotonic)

    async def run(self, workload_done: asyncio.Event) -> None:
        """Strike every fault in turn, a seeded pause apart; each component comes back."""
        rng = random.Random(self.seed)
        for fault in self.faults:
            await asyncio.sleep(rng.uniform(*self.gap_s))
            struck = Struck(fault, time.monotonic() - self._started, not workload_done.is_set())
            self.struck.append(struck)
            self.say(_line(struck))
            if fault.kind == "kill":
                await self._kill_and_restart(fault)
            elif fault.kind == "freeze":
                await self._freeze(fault)
            else:
                await self._kill_backend(fault, rng)

    async def _kill_and_restart(self, fault: Fault) -> None:
        state = self.stack.state_dir
        launch = components.load(state, fault.target)
        if not launch.running():
            msg = f"{fault.target} was not running when its fault came"
            raise StackError(msg)
        os.kill(launch.pid, signal.SIGKILL)
        await asyncio.to_thread(_reap, launch.pid)
        await asyncio.sleep(fault.down_s)
        await asyncio.to_thread(_start_again, state, launch)

    async def _freeze(self, fault: Fault) -> None:
        launch = components.load(self.stack.state_dir, fault.target)
        os.kill(launch.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(fault.down_s)
        finally:
            os.kill(launch.pid, signal.SIGCONT)

    async def _kill_backend(self, fault: Fault, rng: random.Random) -> None:
        """End one of a service's database sessions, as a crashed backend would."""
        connection = await asyncpg.connect(self.stack.admin_url)
        try:
            pids = await connection.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1"
                " AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
                self.stack.database_name(fault.target),
            )
            if pids:
                victim = rng.choice(pids)["pid"]
                await connection.execute("SELECT pg_terminate_backend($1)", victim)
        finally:
            await connection.close()

    def summary(self) -> str:
        """One line per fault, for the run's report."""
        return "\n".join(_line(struck) for struck in self.struck)


def _line(struck: Struck) -> str:
    fault = struck.fault
    return (
        f"  {struck.at_s:6.1f} s  {fault.kind:12} {fault.target:12} down {fault.down_s:4.1f} s"
        f"{'' if struck.in_flight else '  (after the workload)'}"
    )


def _reap(pid: int) -> None:
    """Wait until a killed process is gone, collecting it if it is our child.

    Every component is a child of the test process: killed, it stays a zombie until
    collected, and a zombie still holds its process id, which PostgreSQL's lock file names
    (a new postmaster would take it for one still running).
    """
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # not ours: wait for it to go
        deadline = time.monotonic() + 30
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


def _start_again(state: Path, launch: components.Launch) -> None:
    """Start a killed component as it was; PostgreSQL may need its old backends to go first.

    A SIGKILLed postmaster's backends notice its death and exit within moments; until they
    have, a new postmaster refuses the data directory (its shared memory is still in use).
    """
    deadline = time.monotonic() + 60
    while True:
        try:
            components.spawn(state, launch)
            return
        except StackError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def schedule(seed: int, *, kafka_nodes: int, long: bool) -> list[Fault]:
    """The faults of one run, in a seeded order: every component at least once.

    SIGKILL of each service's first instance, of one Kafka broker and of the PostgreSQL
    server; one killed backend; a frozen second coaching instance (SIGSTOP past the group's
    session timeout). The long form strikes every kind several times, and longer.
    """
    rng = random.Random(seed)
    rounds = 3 if long else 1
    faults: list[Fault] = []
    for _ in range(rounds):
        faults += [
            Fault("kill", service, rng.uniform(0.5, 3.0))
            for service in ("intake", "coaching", "courses", "reporting")
        ]
        faults += [
            Fault("kill", f"kafka-{rng.randint(1, kafka_nodes)}", rng.uniform(2.0, 6.0)),
            Fault("kill", "postgres", rng.uniform(1.0, 3.0)),
            Fault("kill-backend", rng.choice(["intake", "coaching", "courses"]), 0.0),
            Fault("freeze", "coaching-2", rng.uniform(12.0, 40.0 if long else 15.0)),
        ]
    rng.shuffle(faults)
    return faults
