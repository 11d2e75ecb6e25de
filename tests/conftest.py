"""Cross-service fixtures: the four services as real processes on the session's stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support import FRESH_REPORTS

from durchstarten_deploy.stack import SERVICES, ServiceProcess, Stack


@pytest.fixture(scope="session")
def services(stack: Stack) -> Iterator[dict[str, ServiceProcess]]:
    """intake, coaching, courses and reporting, each its own process."""
    traces = stack.state_dir / "traces"
    traces.mkdir(parents=True, exist_ok=True)
    for name in SERVICES:
        # A short hold, so the test of an expiring hold need not wait five minutes.
        extra = {"DURCHSTARTEN_HOLD_UNKNOWN_S": "6"} if name in {"coaching", "courses"} else {}
        if name == "reporting":
            extra = dict(FRESH_REPORTS)
        # Spans as JSON lines, one file per service (test_tracing.py reads them).
        extra |= {
            "DURCHSTARTEN_TRACING": "console",
            "DURCHSTARTEN_TRACING_FILE": str(traces / f"{name}.jsonl"),
        }
        stack.start_service(name, extra_env=extra)
    yield stack.services
    for service in list(stack.services.values()):
        service.stop()
