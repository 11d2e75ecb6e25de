"""Raw commands leave Kafka when the deletion plan says: watched on the real broker.

A plan with a retention of seconds for the inbound topics and their dead letters, applied
by the topic setup to a provider of this test's own (no service reads its topics), then
the broker left to its retention check: the marker person's command is gone from the
earliest offset on, and the log start moved past it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from tests.support import (
    IDENTIFIER_MARKERS,
    encoded,
    eventually,
    produce,
    read_to_end,
    registration,
)

from durchstarten.events.topics import dead_letters, inbound, outbound
from durchstarten.retention import DEFAULT_PLAN
from durchstarten.settings import KafkaSettings
from durchstarten_deploy.cli import create_topics
from durchstarten_deploy.stack import Stack
from durchstarten_simulator.wire import partitions_of

pytestmark = pytest.mark.integration

PROVIDER = "retention-test"


def _short_plan(directory: Path) -> Path:
    """The shipped plan with seconds for the raw commands' topics (and 30 days kept)."""
    text = DEFAULT_PLAN.read_text(encoding="utf-8")
    # The week and the hour are the inbound topics' and their dead letters' alone.
    assert text.count('retention = "7d"') == text.count('segment = "1h"') == 2
    text = text.replace('retention = "7d"', 'retention = "3s"')
    text = text.replace('segment = "1h"', 'segment = "1s"')
    path = directory / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def _log_start(stack: Stack, topic: str) -> dict[int, int]:
    """Each partition's first offset still held (the log start, after deletions)."""
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **stack.access.options())
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets(await partitions_of(consumer, topic))
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in starts.items()}


def _has_marker(records: list[object]) -> bool:
    return any(
        marker in bytes(getattr(record, "value", b"") or b"").decode("utf-8", "replace")
        for record in records
        for marker in IDENTIFIER_MARKERS
    )


async def test_a_raw_command_and_its_dead_letter_are_deleted_by_the_plan(
    stack: Stack, tmp_path: Path
) -> None:
    settings = KafkaSettings(
        **stack.kafka_settings(), providers=[PROVIDER], deletion_plan=_short_plan(tmp_path)
    )
    await asyncio.to_thread(create_topics, settings)
    command = registration(PROVIDER)
    assert any(marker in json.dumps(command) for marker in IDENTIFIER_MARKERS)
    raw, dead = inbound(PROVIDER, "intake"), dead_letters(inbound(PROVIDER, "intake"))
    reply = outbound(PROVIDER, "intake")
    written = {
        topic: await produce(stack, topic, encoded([command])) for topic in (raw, dead, reply)
    }
    assert _has_marker(await read_to_end(stack, raw))  # there, before its time runs out

    async def deleted(topic: str) -> bool:
        ((partition, offset),) = written[topic]
        start = (await _log_start(stack, topic))[partition]
        return start > offset and not _has_marker(await read_to_end(stack, topic))

    await eventually(lambda: deleted(raw), what="the raw command deleted by retention")
    await eventually(lambda: deleted(dead), what="its dead letter deleted by retention")
    # The reply topic's 30 days have not run out: the same wait deletes nothing there.
    ((partition, offset),) = written[reply]
    assert (await _log_start(stack, reply))[partition] <= offset
