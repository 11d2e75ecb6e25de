"""The live projection resumes from its own checkpoints, not from Kafka's group offsets.

The group offset is committed after the database commit, so it can only be ahead of what
the projection holds if the database lost a commit (a crash of a server without
synchronous commit, a restore from a backup). Seeking every assigned partition to the
checkpoint stored with the projection's effects makes the database the one record of
progress: whatever it lost is read again, and nothing it holds is applied twice (the
checkpoints and event ids skip it). A partition without a checkpoint starts from the
earliest offset, which the full retention of the event topics keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition

from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.logging import get_logger
from durchstarten.messaging.broker import with_retries
from durchstarten.service import ServiceRuntime
from reporting.versions import live_schema, use_schema

log = get_logger(__name__)
SQL = SqlFiles(Path(__file__).parent / "db")


class ResumeFromCheckpoints(ConsumerRebalanceListener):  # type: ignore[misc]  # untyped base
    """On every assignment, seek each partition to the live version's checkpoint."""

    def __init__(
        self, runtime: ServiceRuntime, consumer_name: str, consumer: Callable[[], Any]
    ) -> None:
        """Seek the consumer `consumer()` returns, for the projection named `consumer_name`."""
        self._runtime = runtime
        self._name = consumer_name
        self._consumer = consumer  # the subscriber's aiokafka consumer, once it has one

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        """Nothing to do: offsets are committed after each batch's transaction."""

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Seek to the stored checkpoints before the first fetch of the new assignment."""
        if not assigned:
            return
        stored = await with_retries(self._checkpoints, what="projection checkpoints")
        consumer = self._consumer()
        from_start: list[TopicPartition] = []
        for tp in sorted(assigned):
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                from_start.append(tp)
            else:
                consumer.seek(tp, offset)
        if from_start:
            await consumer.seek_to_beginning(*from_start)
        log.info(
            "resumed from the projection's checkpoints",
            partitions=len(assigned),
            from_start=len(from_start),
        )

    async def _checkpoints(self) -> dict[tuple[str, int], int]:
        async with self._runtime.pool.acquire() as connection, connection.transaction():
            await use_schema(connection, await live_schema(connection))
            rows = await connection.fetch(SQL["resume_checkpoints"], self._name)
        return {(row["topic"], row["partition"]): row["next_offset"] for row in rows}
