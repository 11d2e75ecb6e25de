"""Cross-service fixtures: the four services as real processes on the session's stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from durchstarten_deploy.stack import SERVICES, ServiceProcess, Stack


@pytest.fixture(scope="session")
def services(stack: Stack) -> Iterator[dict[str, ServiceProcess]]:
    """intake, coaching, courses and reporting, each its own process."""
    for name in SERVICES:
        stack.start_service(name)
    yield stack.services
    for service in list(stack.services.values()):
        service.stop()
