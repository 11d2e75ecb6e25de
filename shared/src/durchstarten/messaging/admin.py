"""Topic administration: create the project's topics explicitly, with their partitions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from durchstarten.logging import get_logger

log = get_logger(__name__)


class TopicSetupError(RuntimeError):
    """The broker refused to create a topic; the message names each topic and error."""


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int,
    replication_factor: int,
    timeout_s: float = 60.0,
    client_options: dict[str, Any] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; return the ones created.

    Dead-letter and domain-event topics keep everything (retention -1): domain events are the
    source for rebuilding projections, dead letters wait for an operator.
    """
    wanted = list(dict.fromkeys(topics))
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="topic-setup", **(client_options or {})
    )
    await _start_with_retries(admin, timeout_s)
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in wanted if topic not in existing]
        if not missing:
            return []
        new = [
            NewTopic(
                name=topic,
                num_partitions=partitions,
                replication_factor=replication_factor,
                topic_configs=_configs(topic, replication_factor),
            )
            for topic in missing
        ]
        response = await admin.create_topics(new)
        failed = {
            topic: (code, message)
            for topic, code, message in response.topic_errors
            if code not in (0, TopicAlreadyExistsError.errno)  # another instance was first
        }
        if failed:
            msg = f"topics not created: {failed}"
            raise TopicSetupError(msg)
        await _wait_until_visible(admin, missing, timeout_s)
        log.info("topics created", topics=missing)
        return missing
    finally:
        await admin.close()


async def _wait_until_visible(
    admin: AIOKafkaAdminClient, topics: list[str], timeout_s: float
) -> None:
    """Wait until every partition of every new topic has a leader.

    Creation is acknowledged before the metadata spreads; a client started right after
    would otherwise not find the topic.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    pending = list(topics)
    while pending:
        described = await admin.describe_topics(pending)
        pending = [
            topic["topic"]
            for topic in described
            if topic["error_code"] != 0
            or not topic["partitions"]
            or any(partition["leader"] < 0 for partition in topic["partitions"])
        ]
        if pending and loop.time() >= deadline:
            msg = f"topics created but not visible after {timeout_s} s: {pending}"
            raise TopicSetupError(msg)
        if pending:
            await asyncio.sleep(0.1)


def _configs(topic: str, replication_factor: int) -> dict[str, str]:
    configs = {"min.insync.replicas": str(min(2, replication_factor))}
    if topic.endswith((".events", ".dlq")):
        configs["retention.ms"] = "-1"
    return configs


async def _start_with_retries(admin: AIOKafkaAdminClient, timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            await admin.start()
            return
        except (KafkaConnectionError, KafkaError, OSError):
            if loop.time() >= deadline:
                raise
            await asyncio.sleep(0.5)


async def broker_ready(
    bootstrap_servers: str, *, client_options: dict[str, Any] | None = None
) -> bool:
    """True when the broker answers a real metadata request."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="readiness",
        request_timeout_ms=5000,
        **(client_options or {}),
    )
    try:
        await admin.start()
        await admin.list_topics()
    except (KafkaError, OSError):
        return False
    else:
        return True
    finally:
        await admin.close()
