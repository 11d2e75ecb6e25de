"""Topic administration: the project's topics, created explicitly, under the deletion plan."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from durchstarten.logging import get_logger
from durchstarten.retention import MANAGED_TOPIC_CONFIGS, DeletionPlan

log = get_logger(__name__)


class TopicSetupError(RuntimeError):
    """The broker refused to create a topic; the message names each topic and error."""


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int,
    replication_factor: int,
    plan: DeletionPlan | None,
    timeout_s: float = 60.0,
    client_options: dict[str, Any] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet, under the deletion plan; return those created.

    A topic that exists already is brought to the plan where it differs (the plan changed,
    or someone altered the topic by hand): running the setup job is how a changed plan
    reaches the broker. Configuration the plan does not own is left as it is. `plan` None:
    topics outside the project (a benchmark's, a test's), with the broker's defaults.
    """
    wanted = list(dict.fromkeys(topics))
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="topic-setup", **(client_options or {})
    )
    await _start_with_retries(admin, timeout_s)
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in wanted if topic not in existing]
        present = [topic for topic in wanted if topic in existing]
        if present and plan is not None:
            await apply_plan(admin, present, replication_factor, plan)
        if not missing:
            return []
        new = [
            NewTopic(
                name=topic,
                num_partitions=partitions,
                replication_factor=replication_factor,
                topic_configs=_configs(topic, replication_factor, plan),
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


async def topic_configs(admin: AIOKafkaAdminClient, topics: list[str]) -> dict[str, TopicConfig]:
    """Each topic's configuration as the broker holds it: value and whether set on the topic."""
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics]
    )
    found: dict[str, TopicConfig] = {}
    for response in responses:
        for error_code, error_message, _, name, entries in response.resources:
            if error_code != 0:
                msg = f"the configuration of {name} could not be read: {error_message}"
                raise TopicSetupError(msg)
            # Entries: name, value, read-only, then (v0) is_default or (v1+) its source.
            found[name] = {
                entry[0]: (entry[1], _set_on_topic(response, entry)) for entry in entries
            }
    return found


TopicConfig = dict[str, tuple[str | None, bool]]
"""A topic's configuration: key -> (value, whether it is set on the topic itself)."""

_DYNAMIC_TOPIC_CONFIG = 1
"""DescribeConfigs' config_source of a value set on the topic (KIP-226)."""


def _set_on_topic(response: Any, entry: tuple[Any, ...]) -> bool:
    if response.API_VERSION == 0:
        return not entry[3]
    return bool(entry[3] == _DYNAMIC_TOPIC_CONFIG)


async def apply_plan(
    admin: AIOKafkaAdminClient, topics: list[str], replication_factor: int, plan: DeletionPlan
) -> list[str]:
    """Give existing `topics` the plan's configuration where they differ; the ones altered.

    AlterConfigs replaces every value set on a topic, so the values the plan does not own
    are sent along unchanged.
    """
    current = await topic_configs(admin, topics)
    changes: list[ConfigResource] = []
    for topic in topics:
        on_topic = {k: v for k, (v, own) in current[topic].items() if own and v is not None}
        wanted = _configs(topic, replication_factor, plan)
        kept = {k: v for k, v in on_topic.items() if k not in MANAGED_TOPIC_CONFIGS}
        if {**kept, **wanted} != on_topic:
            changes.append(ConfigResource(ConfigResourceType.TOPIC, topic, {**kept, **wanted}))
    if not changes:
        return []
    for response in await admin.alter_configs(changes):
        failed = [(name, message) for code, message, _, name in response.resources if code != 0]
        if failed:
            msg = f"the deletion plan could not be applied: {failed}"
            raise TopicSetupError(msg)
    altered = [change.name for change in changes]
    log.info("deletion plan applied to existing topics", topics=altered)
    return altered


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


def _configs(topic: str, replication_factor: int, plan: DeletionPlan | None) -> dict[str, str]:
    """What the setup job owns of a topic's configuration: durability and the plan."""
    durability = {"min.insync.replicas": str(min(2, replication_factor))}
    return durability if plan is None else {**durability, **plan.topic_configs(topic)}


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
