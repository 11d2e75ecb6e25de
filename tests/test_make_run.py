"""`make run` from a fresh clone: the three counties' demo reaches the reports with the
oracles' figures (Kreis Herford's and the state table's), and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from durchstarten_deploy.processes import pid_alive, port_open

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
PATIENCE_S = 900
"""How long `make run` from a fresh clone may take to start (dependencies, Kafka, PostgreSQL,
four services, the whole demo history) or to stop: a bound on how long a failure takes to
show, not a speed requirement."""


def test_make_run_from_a_fresh_clone_shows_the_demo_and_stops_cleanly(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "--quiet", str(REPO), str(clone)],  # noqa: S607  # git from PATH
        check=True,
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DURCHSTARTEN_STACK", "VIRTUAL_ENV", "UV_PROJECT"))
    }
    process = subprocess.Popen(
        ["make", "run"],  # noqa: S607  # make from PATH, as a person would type it
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    output: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + PATIENCE_S
        for line in process.stdout:
            output.append(line)
            if "Press Ctrl-C to stop." in line or time.monotonic() > deadline:
                break
        text = "".join(output)
        # The Kreis Herford history: the reporting API's figures next to the oracle's.
        coached = re.search(r"persons coached by Diakonie: (\S+) \(oracle: (\d+)\)", text)
        assert coached, text
        assert coached[1] == coached[2] == "106", text
        share = re.search(r"placement share of those coached: (\S+) \(oracle: (\S+)\)", text)
        assert share, text
        assert share[1] == share[2], text
        assert 0.45 <= float(share[1]) <= 0.55, text
        assert "youth integration course pass rate: 1.0 (oracle: 1.0)" in text, text
        # Three counties: Gütersloh's movers are one person each in the state table, whose
        # figures (and every county's quarterly table) the statewide oracle checked too.
        assert "moved from Gütersloh to Bielefeld and registered again: 7" in text, text
        entries = re.search(
            r"state 2021-Q4 entries \(a mover once\): (\S+) \(oracle: (\d+)\)", text
        )
        assert entries, text
        assert entries[1] in (entries[2], "None"), text
        assert "every checked figure equals the oracle" in text, text

        state = json.loads((clone / ".stack" / "stack.json").read_text())
        pids: dict[str, int] = state["pids"]
        ports = [int(url.rsplit(":", 1)[1]) for url in state["services"].values()]
        ports.append(int(state["kafka_bootstrap"].rsplit(":", 1)[1]))
        assert all(pid_alive(pid) for pid in pids.values())

        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        rest, _ = process.communicate(timeout=PATIENCE_S)
        output.append(rest)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        _stop_leftovers(clone / ".stack" / "stack.json")
    assert "Stopped; no process left running." in "".join(output)
    assert _left_running(pids, ports) == ([], [])


def _left_running(pids: dict[str, int], ports: list[int]) -> tuple[list[str], list[int]]:
    """The processes still alive and ports still open, once they had time to go away."""
    deadline = time.monotonic() + PATIENCE_S
    while True:
        alive = [name for name, pid in pids.items() if pid_alive(pid)]
        listening = [port for port in ports if port_open(port)]
        if not (alive or listening) or time.monotonic() > deadline:
            return alive, listening
        time.sleep(0.2)


def _stop_leftovers(state_file: Path) -> None:
    """If the run failed half-way, stop what it started so later tests start clean."""
    if not state_file.exists():
        return
    for pid in json.loads(state_file.read_text())["pids"].values():
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
