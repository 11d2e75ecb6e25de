"""A provider without Python: a command written by kcat from a JSON file is accepted."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
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
            *kcat_login(stack, PROVIDER),
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
        env=os.environ | {"LD_LIBRARY_PATH": str(current_librdkafka(tmp_path))},
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=PATIENCE_S)
    assert process.returncode == 0, stderr.decode()

    reply = (await replies_to(stack, PROVIDER, "intake", {command["id"]}))[command["id"]]
    assert reply["type"] == "command.accepted.v1"
    assert reply["data"]["provider_reference"] == command["data"]["provider_reference"]
    uuid.UUID(reply["data"]["participant_id"])


def kcat_login(stack: Stack, provider: str) -> list[str]:
    """kcat's (librdkafka's) options for the provider's SCRAM login, as docs/providers.md shows."""
    options = stack.access.provider(provider)
    if "sasl_plain_username" not in options:
        return []
    return [
        "-X",
        "security.protocol=SASL_PLAINTEXT",
        "-X",
        "sasl.mechanisms=SCRAM-SHA-512",
        "-X",
        f"sasl.username={options['sasl_plain_username']}",
        "-X",
        f"sasl.password={options['sasl_plain_password']}",
    ]


def current_librdkafka(folder: Path) -> Path:
    """A folder with a current `librdkafka.so.1` for kcat to load; returns the folder.

    Debian 12's kcat links librdkafka 2.0.2, whose SCRAM fails against Kafka 4 brokers
    (kcat issue 462; fixed in librdkafka 2.6.1), and providers are told to use 2.6.1 or
    newer (docs/providers.md). The same kcat binary is run here with the librdkafka that
    the confluent-kafka wheel ships, a current release from the package registry.
    """
    spec = importlib.util.find_spec("confluent_kafka")
    assert spec is not None, "confluent-kafka (a dev dependency) is needed for its librdkafka"
    assert spec.origin is not None
    bundled = sorted(Path(spec.origin).parents[1].glob("confluent_kafka.libs/librdkafka-*.so*"))
    assert bundled, "the confluent-kafka wheel ships no librdkafka"
    lib = folder / "lib"
    lib.mkdir(exist_ok=True)
    (lib / "librdkafka.so.1").symlink_to(bundled[0])
    return lib
