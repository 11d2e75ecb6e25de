"""Cross-service fixtures: the four services as real processes on the session's stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support import FRESH_REPORTS

from durchstarten_deploy.stack import SERVICES, ServiceProcess, Stack


@pytest.fixture(scope="session")
def services(stack: Stack) -> Iterator[dict[str, ServiceProcess]]:
    """intake, coaching, courses and reporting, each its own process."""
    for name in SERVICES:
        # A short hold, so the test of an expiring hold need not wait five minutes.
        extra = {"DURCHSTARTEN_HOLD_UNKNOWN_S": "6"} if name in {"coaching", "courses"} else None
        if name == "reporting":
            extra = FRESH_REPORTS
        stack.start_service(name, extra_env=extra)
    yield stack.services
    for service in list(stack.services.values()):
        service.stop()
