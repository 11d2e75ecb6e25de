"""The topic-creation step (docker-compose's `topics` job) on the real broker, plan included."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from durchstarten.events.topics import project_topics
from durchstarten.messaging.admin import TopicConfig, topic_configs
from durchstarten.retention import DEFAULT_PLAN, load_plan
from durchstarten.settings import KafkaSettings
from durchstarten_deploy.cli import create_topics
from durchstarten_deploy.stack import Stack

pytestmark = pytest.mark.integration


def test_topics_are_created_once_with_their_partitions(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = KafkaSettings(**stack.kafka_settings(), providers=["cli-test"], topic_partitions=2)
    create_topics(settings)
    # the domain-event topics exist already (the session's stack made them)
    assert "9 topics created; 15 in all." in capsys.readouterr().out
    create_topics(settings)
    assert "0 topics created; 15 in all." in capsys.readouterr().out


async def test_created_topics_have_the_configured_partitions(stack: Stack) -> None:
    admin = AIOKafkaAdminClient(**stack.access.options())
    await admin.start()
    try:
        described = await admin.describe_topics(["inbound.cli-test.intake", "intake.events.dlq"])
    finally:
        await admin.close()
    by_name = {topic["topic"]: topic for topic in described}
    assert len(by_name["inbound.cli-test.intake"]["partitions"]) == 2


async def _configs(stack: Stack, topics: list[str]) -> dict[str, TopicConfig]:
    admin = AIOKafkaAdminClient(**stack.access.options())
    await admin.start()
    try:
        return await topic_configs(admin, topics)
    finally:
        await admin.close()


def _values(found: TopicConfig, keys: tuple[str, ...]) -> dict[str, str | None]:
    return {key: found[key][0] for key in keys}


async def test_every_topic_on_the_broker_has_the_deletion_plans_retention(stack: Stack) -> None:
    """Read back from the broker, not from what the setup job meant to send."""
    plan = load_plan()
    topics = project_topics(list(stack.providers))
    found = await _configs(stack, topics)
    for topic in topics:
        wanted = plan.topic_configs(topic)
        assert _values(found[topic], tuple(wanted)) == wanted, topic
        assert all(found[topic][key][1] for key in wanted), f"{topic}: not set on the topic"
    # The raw commands' topics delete within the plan's week; the broker's default would not.
    assert found["inbound.test-alpha.intake"]["retention.ms"][0] == str(7 * 24 * 3600 * 1000)


def test_the_setup_job_brings_existing_topics_to_a_changed_plan(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = KafkaSettings(**stack.kafka_settings(), providers=["plan-test"])
    create_topics(settings)
    topic = "inbound.plan-test.coaching"
    # Someone alters the topic by hand: the plan's key back to forever, and a key of their own.
    asyncio.run(_alter(stack, topic, {"retention.ms": "-1", "max.message.bytes": "500000"}))
    assert asyncio.run(_configs(stack, [topic]))[topic]["retention.ms"][0] == "-1"

    text = DEFAULT_PLAN.read_text(encoding="utf-8")
    changed = tmp_path / "plan.toml"
    changed.write_text(text.replace('retention = "30d"', 'retention = "14d"'), encoding="utf-8")
    create_topics(settings.model_copy(update={"deletion_plan": changed}))
    assert "0 topics created" in capsys.readouterr().out

    found = asyncio.run(_configs(stack, [topic, "outbound.plan-test.intake"]))
    assert found[topic]["retention.ms"][0] == str(7 * 24 * 3600 * 1000)  # the plan again
    assert found[topic]["max.message.bytes"][0] == "500000"  # not the plan's: left alone
    assert found["outbound.plan-test.intake"]["retention.ms"][0] == str(14 * 24 * 3600 * 1000)


async def _alter(stack: Stack, topic: str, configs: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(**stack.access.options())
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs)])
    finally:
        await admin.close()
