"""The trust boundary on the real broker: SASL/SCRAM for everyone, ACLs for everything.

Identity comes from the topic (DESIGN.md), so these tests try what an adversary would: a
provider writing another provider's inbound topic, reading another's replies, forging
domain events, using a service's consumer group; a client with a wrong password; a client
without any authentication. Each attempt must fail and leave nothing on the topic.

The same boundary holds on the broker's SASL_SSL listener, which adds what TLS is for: a
client that does not trust the stack's CA never completes the handshake, and a client that
speaks no TLS to it gets nowhere.
"""

from __future__ import annotations

import asyncio
import ssl
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)
from tests.support import eventually

from durchstarten.events.topics import INTAKE_EVENTS, inbound, outbound
from durchstarten.messaging.access import (
    ADMIN,
    Acl,
    KafkaAccess,
    Operation,
    PatternType,
    ResourceType,
    declared_acls,
    provider_principal,
    service_principal,
)
from durchstarten_deploy.kafka import KafkaNode
from durchstarten_deploy.stack import Stack
from durchstarten_deploy.testing import TEST_PROVIDERS
from durchstarten_deploy.tls import make_broker_tls

pytestmark = pytest.mark.integration

ALPHA, BETA = TEST_PROVIDERS


@pytest.fixture
def tls(stack: Stack) -> KafkaAccess:
    """Every principal's access through the broker's SASL_SSL listener."""
    access = stack.tls_access
    assert access is not None, "the stack's own broker (with its TLS listener) is needed"
    return access


async def end_offsets(stack: Stack, topic: str) -> dict[TopicPartition, int]:
    """Every partition's end offset, read as the admin."""
    consumer = AIOKafkaConsumer(**stack.access.options())
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        if not partitions:
            await consumer._client.force_metadata_update()  # no public refresh
            found = consumer.partitions_for_topic(topic) or set()
            partitions = [TopicPartition(topic, p) for p in found]
        offsets: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return offsets
    finally:
        await consumer.stop()


async def produce_as(options: dict[str, Any], topic: str) -> None:
    """One message with the project's producer settings, waiting for the broker's answer."""
    producer = AIOKafkaProducer(
        acks="all", enable_idempotence=True, request_timeout_ms=15000, **options
    )
    try:
        await producer.start()
        await producer.send_and_wait(topic, b'{"forged": true}', key=b"k")
    finally:
        await producer.stop()  # also after a refused start: it closes what start opened


async def read_as(options: dict[str, Any], topic: str, group: str | None) -> int:
    """How many records a consumer of `topic` in `group` gets within one poll."""
    consumer = AIOKafkaConsumer(
        topic, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False, **options
    )
    try:
        await consumer.start()
        batch = await consumer.getmany(timeout_ms=3000)
        return sum(len(records) for records in batch.values())
    finally:
        await consumer.stop()


async def test_the_local_stack_runs_with_authentication_and_acls_by_default(stack: Stack) -> None:
    assert stack.access.secured
    assert set(stack.access.passwords) >= {provider_principal(ALPHA), service_principal("intake")}


async def test_a_provider_writes_its_own_inbound_topic_but_not_another_providers(
    stack: Stack,
) -> None:
    theirs = inbound(BETA, "intake")
    before = await end_offsets(stack, theirs)
    with pytest.raises(TopicAuthorizationFailedError):
        await produce_as(stack.access.provider(ALPHA), theirs)
    assert await end_offsets(stack, theirs) == before
    mine = inbound(ALPHA, "coaching")
    before_mine = await end_offsets(stack, mine)
    await produce_as(stack.access.provider(ALPHA), mine)  # a bad command: coaching parks it
    after_mine = await end_offsets(stack, mine)
    assert sum(after_mine.values()) == sum(before_mine.values()) + 1


async def test_the_broker_logs_a_refusal_with_who_and_what_but_not_the_payload(
    stack: Stack,
) -> None:
    """The county's IT security officer reads refusals in the broker log, not the data."""
    assert stack.kafka is not None, "the stack's own broker (whose log this reads) is needed"
    marker = f"payload-{uuid.uuid4().hex}"
    theirs = inbound(BETA, "coaching")
    producer = AIOKafkaProducer(
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=15000,
        **stack.access.provider(ALPHA),
    )
    try:
        await producer.start()
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(theirs, marker.encode(), key=b"k")
    finally:
        await producer.stop()
    # StandardAuthorizer's audit line (logger kafka.authorizer.logger, denials at INFO):
    # "Principal = User:<p> is Denied operation = <OP> from host = ... on resource =
    # Topic:LITERAL:<topic> ..."; the producer is refused at the metadata step (DESCRIBE)
    # or at the write (WRITE).
    denied = f"Principal = User:{provider_principal(ALPHA)} is Denied operation = "
    assert isinstance(stack.kafka, KafkaNode)  # the session's stack runs one node
    log = stack.kafka.log_file

    async def refusal_logged() -> bool:
        return any(
            denied in line and f"Topic:LITERAL:{theirs}" in line
            for line in log.read_text(errors="replace").splitlines()
        )

    await eventually(refusal_logged, what="the broker's log of the refused write")
    assert marker not in log.read_text(errors="replace")


async def test_a_provider_cannot_forge_domain_events(stack: Stack) -> None:
    before = await end_offsets(stack, INTAKE_EVENTS)
    with pytest.raises(TopicAuthorizationFailedError):
        await produce_as(stack.access.provider(ALPHA), INTAKE_EVENTS)
    with pytest.raises(TopicAuthorizationFailedError):
        # Nor may another service: only intake announces intake's facts.
        await produce_as(stack.access.options(service_principal("coaching")), INTAKE_EVENTS)
    assert await end_offsets(stack, INTAKE_EVENTS) == before


async def test_a_provider_reads_its_own_replies_but_not_another_providers(stack: Stack) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await read_as(stack.access.provider(ALPHA), outbound(BETA, "intake"), None)
    own = await read_as(stack.access.provider(ALPHA), outbound(ALPHA, "intake"), f"{ALPHA}.t")
    assert own >= 0  # allowed: it may be empty this early in the session


async def test_a_provider_may_not_join_a_services_consumer_group(stack: Stack) -> None:
    with pytest.raises(GroupAuthorizationFailedError):
        await read_as(stack.access.provider(ALPHA), outbound(ALPHA, "intake"), "intake")


async def test_a_wrong_password_and_no_authentication_are_refused_and_write_nothing(
    stack: Stack,
) -> None:
    topic = inbound(ALPHA, "intake")
    before = await end_offsets(stack, topic)
    wrong = stack.access.provider(ALPHA) | {"sasl_plain_password": "not-the-password"}
    with pytest.raises(KafkaConnectionError):
        await produce_as(wrong, topic)
    with pytest.raises(KafkaConnectionError):
        await produce_as({"bootstrap_servers": stack.bootstrap}, topic)  # PLAINTEXT
    assert await end_offsets(stack, topic) == before


async def test_over_tls_a_provider_writes_its_own_inbound_topic_but_not_another_providers(
    stack: Stack, tls: KafkaAccess
) -> None:
    options = tls.provider(ALPHA)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["bootstrap_servers"] != stack.bootstrap  # the TLS listener, not the other
    theirs = inbound(BETA, "intake")
    before = await end_offsets(stack, theirs)
    with pytest.raises(TopicAuthorizationFailedError):
        await produce_as(options, theirs)
    assert await end_offsets(stack, theirs) == before
    mine = inbound(ALPHA, "coaching")
    before_mine = await end_offsets(stack, mine)
    await produce_as(tls.provider(ALPHA), mine)  # a bad command: coaching parks it
    after_mine = await end_offsets(stack, mine)
    assert sum(after_mine.values()) == sum(before_mine.values()) + 1


async def handshake(bootstrap: str, context: ssl.SSLContext, server_hostname: str | None) -> None:
    """A bare TLS handshake with the listener at `bootstrap` (no Kafka request on top)."""
    host, port = bootstrap.rsplit(":", 1)
    _, writer = await asyncio.open_connection(
        host, int(port), ssl=context, server_hostname=server_hostname or host
    )
    writer.close()
    await writer.wait_closed()


async def test_a_client_that_does_not_trust_the_stacks_ca_fails_the_tls_handshake(
    stack: Stack, tls: KafkaAccess
) -> None:
    # The system's CAs never signed the broker's certificate.
    with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
        await handshake(tls.bootstrap, ssl.create_default_context(), None)
    # Trusting the CA is not enough: the certificate must name the host the client asked for.
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        await handshake(tls.bootstrap, tls.ssl_context(), "kafka.example.org")
    await handshake(tls.bootstrap, tls.ssl_context(), None)  # the stack's CA, the right host

    topic = inbound(ALPHA, "intake")
    before = await end_offsets(stack, topic)
    untrusting = tls.provider(ALPHA) | {"ssl_context": ssl.create_default_context()}
    with pytest.raises(KafkaConnectionError):  # aiokafka's word for "no broker would talk"
        await produce_as(untrusting, topic)
    assert await end_offsets(stack, topic) == before


async def test_a_client_without_tls_on_the_tls_port_writes_nothing(
    stack: Stack, tls: KafkaAccess
) -> None:
    topic = inbound(ALPHA, "intake")
    before = await end_offsets(stack, topic)
    with pytest.raises(KafkaConnectionError):
        await produce_as({"bootstrap_servers": tls.bootstrap}, topic)  # PLAINTEXT
    in_the_clear = stack.access.provider(ALPHA) | {"bootstrap_servers": tls.bootstrap}
    assert in_the_clear["security_protocol"] == "SASL_PLAINTEXT"
    with pytest.raises(KafkaConnectionError):  # the right login, but not inside TLS
        await produce_as(in_the_clear, topic)
    assert await end_offsets(stack, topic) == before


def test_the_declaration_gives_providers_only_their_own_prefixes() -> None:
    acls = declared_acls(["alpha", "beta"])
    alpha = [a for a in acls if a.principal == provider_principal("alpha")]
    assert {(a.resource, a.name, a.pattern, a.operation) for a in alpha} == {
        (ResourceType.TOPIC, "inbound.alpha.", PatternType.PREFIXED, Operation.WRITE),
        (ResourceType.TOPIC, "inbound.alpha.", PatternType.PREFIXED, Operation.DESCRIBE),
        (ResourceType.TOPIC, "outbound.alpha.", PatternType.PREFIXED, Operation.READ),
        (ResourceType.TOPIC, "outbound.alpha.", PatternType.PREFIXED, Operation.DESCRIBE),
        (ResourceType.GROUP, "alpha.", PatternType.PREFIXED, Operation.READ),
    }
    writes = {a.name for a in acls if a.principal == service_principal("coaching")}
    assert "intake.events" in writes  # it reads intake's events ...
    assert (
        Acl(
            service_principal("coaching"),
            ResourceType.TOPIC,
            "intake.events",
            PatternType.LITERAL,
            Operation.WRITE,
        )
        not in acls
    )  # ... but never writes them
    with pytest.raises(ValueError, match="service names"):
        declared_acls(["intake"])  # its groups would be intake's own


def test_access_options_keep_their_shape_and_add_tls_only_with_a_ca(tmp_path: Path) -> None:
    principal = provider_principal("alpha")
    plain = KafkaAccess("127.0.0.1:9092", {ADMIN: "root", principal: "secret"})
    assert plain.provider("alpha") == {
        "bootstrap_servers": "127.0.0.1:9092",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": principal,
        "sasl_plain_password": "secret",
    }
    assert KafkaAccess("127.0.0.1:9092").options() == {"bootstrap_servers": "127.0.0.1:9092"}
    with pytest.raises(ValueError, match="no CA file"):
        plain.ssl_context()

    secure = plain.over_tls("127.0.0.1:9093", make_broker_tls(tmp_path / "tls").ca_file)
    options = secure.provider("alpha")
    context = options.pop("ssl_context")
    assert options == plain.provider("alpha") | {
        "bootstrap_servers": "127.0.0.1:9093",
        "security_protocol": "SASL_SSL",
    }
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    (trusted,) = context.get_ca_certs()  # the stack's CA, and not the system's
    subject = dict(entry for rdn in trusted["subject"] for entry in rdn)
    assert subject["organizationName"] == "Durchstarten local stack"
    assert "bootstrap_servers" not in secure.admin_options()
    assert secure.admin_options()["security_protocol"] == "SASL_SSL"
