"""A provider without Python: a command written by kcat from a JSON file is accepted."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.support import PATIENCE_S, replies_to

from durchstarten.events import RegisterParticipant
from durchstarten.events.topics import inbound
from durchstarten_deploy.stack import ServiceProcess, Stack
from durchstarten_deploy.testing import TEST_PROVIDERS

pytestmark = pytest.mark.integration

PROVIDER = TEST_PROVIDERS[0]


async def test_a_register_participant_command_sent_by_kcat_is_accepted(
    stack: Stack, services: dict[str, ServiceProcess], tmp_path: Path
) -> None:
    kcat = shutil.which("kcat")
    assert kcat, "kcat is required (Debian package kcat; .ci/run installs it)"
    command: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"/providers/{PROVIDER}",
        "type": RegisterParticipant.command_type,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": RegisterParticipant.example
        | {"provider_reference": f"KCAT-{uuid.uuid4().hex[:6]}"},
    }
    file = tmp_path / "register.json"
    file.write_text(json.dumps(command, indent=2))  # a pretty file: kcat sends it as one message
    process = await asyncio.create_subprocess_exec(
        *[
            kcat,
            "-b",
            stack.bootstrap,
            "-P",
            "-t",
            inbound(PROVIDER, "intake"),
            "-k",
            command["data"]["provider_reference"],
            "-H",
            "content-type=application/cloudevents+json",
            str(file),
        ],
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=PATIENCE_S)
    assert process.returncode == 0, stderr.decode()

    reply = (await replies_to(stack, PROVIDER, "intake", {command["id"]}))[command["id"]]
    assert reply["type"] == "command.accepted.v1"
    assert reply["data"]["provider_reference"] == command["data"]["provider_reference"]
    uuid.UUID(reply["data"]["participant_id"])
