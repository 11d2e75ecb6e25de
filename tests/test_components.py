"""One component of a running stack stops, starts and restarts as `up` started it.

Asking for something that cannot be done (an unknown component, a restart of one not
running) says so and changes nothing.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from durchstarten_deploy import components
from durchstarten_deploy.stack import ServiceProcess, Stack

pytestmark = pytest.mark.integration


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "durchstarten_deploy", "--state-dir", str(stack.state_dir)]
    return subprocess.run(  # our own CLI
        [*command, *args], capture_output=True, text=True, timeout=180, check=False
    )


def test_an_unknown_component_is_named_and_nothing_changes(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    before = {name: components.load(stack.state_dir, name) for name in ("kafka", "courses")}
    result = cli(stack, "restart", "no-such-part")
    assert result.returncode == 2
    assert "unknown component 'no-such-part'" in result.stdout
    assert "courses" in result.stdout  # the known ones are listed
    for name, launch in before.items():
        assert components.load(stack.state_dir, name) == launch
        assert launch.running()


def test_a_service_restarts_as_it_was_started_and_a_stopped_one_is_not_restarted(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    first = services["courses"]
    try:
        restarted = cli(stack, "restart", "courses")
        assert restarted.returncode == 0, restarted.stdout
        launch = components.load(stack.state_dir, "courses")
        assert first.process.wait(timeout=30) is not None  # the old process is gone
        assert launch.pid != first.process.pid
        assert launch.running()
        assert launch.is_ready()  # answers as the instance it was started as
        assert launch.env is not None
        assert launch.env["DURCHSTARTEN_HOLD_UNKNOWN_S"] == "6"  # its settings came along

        stopped = cli(stack, "stop", "courses")
        assert stopped.returncode == 0, stopped.stdout
        assert not launch.running()
        again = cli(stack, "restart", "courses")
        assert again.returncode == 1
        assert "not running; nothing changed" in again.stdout
        assert not components.load(stack.state_dir, "courses").running()
    finally:
        leftover = components.load(stack.state_dir, "courses")
        if leftover.running():
            components.stop(leftover)
        # Back under the test session's control, with the settings the session gave it.
        stack.services.pop("courses", None)
        stack.start_service("courses", extra_env={"DURCHSTARTEN_HOLD_UNKNOWN_S": "6"})
