"""The topic-creation step (docker-compose's `topics` job) against the real broker."""

from __future__ import annotations

import pytest
from aiokafka.admin import AIOKafkaAdminClient

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
