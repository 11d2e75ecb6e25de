"""A provider without Python: a command written by kcat from a JSON file is accepted.

Over the broker's SASL_PLAINTEXT listener and over its SASL_SSL one (SCRAM inside TLS,
checked against the stack's CA), as a provider's system reaches production.
"""

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
from tests.support import PATIENCE_S, read_to_end, replies_to, unique_person

from durchstarten.events import RegisterParticipant
from durchstarten.events.topics import inbound, outbound
from durchstarten.messaging.access import KafkaAccess
from durchstarten_deploy.stack import ServiceProcess, Stack
from durchstarten_deploy.testing import TEST_PROVIDERS

pytestmark = pytest.mark.integration

PROVIDER = TEST_PROVIDERS[0]


def kcat_binary() -> str:
    """The kcat on PATH."""
    kcat = shutil.which("kcat")
    assert kcat, "kcat is required (Debian package kcat; .ci/run installs it)"
    return kcat


def registration_file(folder: Path) -> tuple[dict[str, Any], Path]:
    """A register-participant command as a provider's system writes it, and its JSON file."""
    command: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"/providers/{PROVIDER}",
        "type": RegisterParticipant.command_type,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        # A person of its own: intake would answer a second Amina Haddad as a duplicate.
        "data": RegisterParticipant.example
        | unique_person()
        | {"provider_reference": f"KCAT-{uuid.uuid4().hex[:6]}"},
    }
    file = folder / "register.json"
    file.write_text(json.dumps(command, indent=2))  # a pretty file: kcat sends it as one message
    return command, file


async def run_kcat(folder: Path, *arguments: str) -> tuple[int, str, str]:
    """kcat with a current librdkafka; its exit code, standard output and standard error."""
    lib = current_librdkafka(folder)
    process = await asyncio.create_subprocess_exec(
        kcat_binary(),
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ | {"LD_LIBRARY_PATH": str(lib)},
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=PATIENCE_S)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def produce_file(access: KafkaAccess, command: dict[str, Any], file: Path) -> list[str]:
    """kcat's arguments that write `file` to the provider's inbound topic of intake."""
    return [
        "-b",
        access.bootstrap,
        *kcat_login(access, PROVIDER),
        "-P",
        "-t",
        inbound(PROVIDER, "intake"),
        "-k",
        command["data"]["provider_reference"],
        "-H",
        "content-type=application/cloudevents+json",
        str(file),
    ]


async def test_a_register_participant_command_sent_by_kcat_is_accepted(
    stack: Stack, services: dict[str, ServiceProcess], tmp_path: Path
) -> None:
    command, file = registration_file(tmp_path)
    code, _, stderr = await run_kcat(tmp_path, *produce_file(stack.access, command, file))
    assert code == 0, stderr

    reply = (await replies_to(stack, PROVIDER, "intake", {command["id"]}))[command["id"]]
    assert reply["type"] == "command.accepted.v1"
    assert reply["data"].get("provider_reference") is None  # matched by command_id alone
    uuid.UUID(reply["data"]["participant_id"])


async def test_kcat_over_tls_with_scram_sends_a_command_and_reads_its_reply(
    stack: Stack, services: dict[str, ServiceProcess], tmp_path: Path
) -> None:
    tls = stack.tls_access
    assert tls is not None, "the stack's own broker (with its TLS listener) is needed"
    assert "security.protocol=SASL_SSL" in kcat_login(tls, PROVIDER)
    command, file = registration_file(tmp_path)
    code, _, stderr = await run_kcat(tmp_path, *produce_file(tls, command, file))
    assert code == 0, stderr

    # Wait (as the admin) until intake has answered; then read the answer back with kcat,
    # through TLS, as the provider: `-e` stops at the end of every partition.
    await replies_to(stack, PROVIDER, "intake", {command["id"]})
    code, stdout, stderr = await run_kcat(
        tmp_path,
        "-b",
        tls.bootstrap,
        *kcat_login(tls, PROVIDER),
        "-C",
        "-t",
        outbound(PROVIDER, "intake"),
        "-o",
        "beginning",
        "-e",
        "-J",  # one JSON object per message, the value as its "payload" string
    )
    assert code == 0, stderr
    payloads = [json.loads(line)["payload"] for line in stdout.splitlines() if line.strip()]
    replies = [json.loads(payload) for payload in payloads if payload]
    (reply,) = [r for r in replies if r["data"].get("command_id") == command["id"]]
    assert reply["type"] == "command.accepted.v1"
    assert reply["data"].get("provider_reference") is None  # matched by command_id alone


async def test_kcat_over_tls_with_a_wrong_password_writes_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    tls = stack.tls_access
    assert tls is not None, "the stack's own broker (with its TLS listener) is needed"
    command, file = registration_file(tmp_path)
    arguments = produce_file(tls, command, file)
    wrong = [
        "sasl.password=not-the-password" if a.startswith("sasl.password=") else a for a in arguments
    ]
    assert wrong != arguments
    code, _, stderr = await run_kcat(tmp_path, *wrong)
    assert code != 0
    assert "Authentication failed" in stderr  # TLS held; the broker refused the login
    written = await read_to_end(stack, inbound(PROVIDER, "intake"))
    assert not [r for r in written if command["id"].encode() in (r.value or b"")]


def kcat_login(access: KafkaAccess, provider: str) -> list[str]:
    """kcat's (librdkafka's) options for the provider's SCRAM login, as docs/providers.md shows.

    Through TLS, librdkafka checks the broker's certificate against the stack's CA and,
    by its default `ssl.endpoint.identification.algorithm=https`, the host name too.
    """
    options = access.provider(provider)
    if "sasl_plain_username" not in options:
        return []
    login = [
        "-X",
        f"security.protocol={access.security_protocol}",
        "-X",
        "sasl.mechanisms=SCRAM-SHA-512",
        "-X",
        f"sasl.username={options['sasl_plain_username']}",
        "-X",
        f"sasl.password={options['sasl_plain_password']}",
    ]
    if access.cafile is not None:
        login += ["-X", f"ssl.ca.location={access.cafile}"]
    return login


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
    link = lib / "librdkafka.so.1"
    if not link.is_symlink():  # a test runs kcat more than once
        link.symlink_to(bundled[0])
    return lib
