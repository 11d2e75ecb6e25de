"""The trust boundary on the real broker: SASL/SCRAM for everyone, ACLs for everything.

Identity comes from the topic (DESIGN.md), so these tests try what an adversary would: a
provider writing another provider's inbound topic, reading another's replies, forging
domain events, using a service's consumer group; a client with a wrong password; a client
without any authentication. Each attempt must fail and leave nothing on the topic.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)

from durchstarten.events.topics import INTAKE_EVENTS, inbound, outbound
from durchstarten.messaging.access import (
    Acl,
    Operation,
    PatternType,
    ResourceType,
    declared_acls,
    provider_principal,
    service_principal,
)
from durchstarten_deploy.stack import Stack
from durchstarten_deploy.testing import TEST_PROVIDERS

pytestmark = pytest.mark.integration

ALPHA, BETA = TEST_PROVIDERS


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
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"forged": true}', key=b"k")
    finally:
        await producer.stop()


async def read_as(options: dict[str, Any], topic: str, group: str | None) -> int:
    """How many records a consumer of `topic` in `group` gets within one poll."""
    consumer = AIOKafkaConsumer(
        topic, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False, **options
    )
    await consumer.start()
    try:
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
