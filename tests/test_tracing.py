"""One trace follows a command: through Kafka headers, intake, its outbox, coaching, SQL.

The session's services write their spans as JSON lines (DURCHSTARTEN_TRACING=console): a
registration sent with a W3C `traceparent` is found under that trace id in intake (the
command's span and its queries) and in coaching, which read intake's event written in
that trace. No span carries a payload.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from tests.support import (
    encoded,
    eventually,
    produce,
    registration,
    replies_to,
)

from durchstarten.events.topics import INTAKE_EVENTS, inbound
from durchstarten_deploy.stack import ServiceProcess, Stack
from durchstarten_deploy.testing import TEST_PROVIDERS

pytestmark = pytest.mark.integration

ALPHA, _ = TEST_PROVIDERS


def spans(stack: Stack, service: str, trace_id: str) -> list[dict[str, Any]]:
    path = Path(stack.state_dir) / "traces" / f"{service}.jsonl"
    if not path.exists():
        return []
    found = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [s for s in found if s["context"]["trace_id"] == f"0x{trace_id}"]


async def test_a_command_s_trace_runs_through_kafka_into_the_next_service(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    trace_id = secrets.token_hex(16)
    parent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    command = registration(ALPHA)
    await produce(
        stack,
        inbound(ALPHA, "intake"),
        encoded([command]),
        headers=[("traceparent", parent.encode())],
    )
    await replies_to(stack, ALPHA, "intake", {command["id"]})

    async def traced_in_coaching() -> bool:
        return any(
            s["attributes"].get("messaging.destination.name") == INTAKE_EVENTS
            for s in spans(stack, "coaching", trace_id)
        )

    await eventually(traced_in_coaching, what="coaching's span in the command's trace")
    in_intake = spans(stack, "intake", trace_id)
    consumed = [s for s in in_intake if s["kind"] == "SpanKind.CONSUMER"]
    assert [s["attributes"]["messaging.destination.name"] for s in consumed] == [
        inbound(ALPHA, "intake")
    ]
    assert any(s["attributes"].get("db.system") == "postgresql" for s in in_intake)
    text = json.dumps(in_intake)
    assert command["data"]["family_name"] not in text  # spans hold no payload
    assert command["data"]["birth_date"] not in text
