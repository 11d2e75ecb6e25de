"""Watching the running pipeline from outside: backlogs, domain topics, projection commits.

Only public surfaces are read: Kafka's consumer-group offsets and topic ends, the write
services' outbox tables, and reporting's processed-event records with PostgreSQL's commit
timestamps (track_commit_timestamp).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.events.topics import DOMAIN_EVENT_TOPICS, WRITE_SERVICES
from durchstarten.messaging.access import KafkaAccess
from durchstarten_simulator.wire import partitions_of

SQL = SqlFiles(Path(__file__).parent / "sql")
_SCHEMA = re.compile(r"^projection_[0-9]+$")


class Observer:
    """Reads backlogs and commit times of a running stack; `start` connects, `stop` closes."""

    def __init__(self, kafka_access: KafkaAccess, database_urls: dict[str, str]) -> None:
        """`database_urls` by service name (the three write services and reporting)."""
        self._kafka_access = kafka_access
        self._urls = database_urls
        self._admin = AIOKafkaAdminClient(client_id="bench-observer", **kafka_access.options())
        self._kafka = AIOKafkaConsumer(
            group_id=None, enable_auto_commit=False, **kafka_access.options()
        )
        self._db: dict[str, asyncpg.Connection] = {}
        self.commit_timestamps = False

    async def start(self) -> None:
        """Connect to Kafka and to each service's database."""
        await self._admin.start()
        await self._kafka.start()
        for service, url in self._urls.items():
            self._db[service] = await asyncpg.connect(url)
        setting = await self._db["reporting"].fetchval(SQL["track_commit_timestamp"])
        self.commit_timestamps = setting == "on"

    async def stop(self) -> None:
        """Close every connection."""
        for connection in self._db.values():
            await connection.close()
        await self._kafka.stop()
        await self._admin.close()

    async def domain_ends(self) -> dict[TopicPartition, int]:
        """The end offset of every partition of the three domain-event topics."""
        partitions = []
        for topic in DOMAIN_EVENT_TOPICS:
            partitions += await partitions_of(self._kafka, topic)
        ends: dict[TopicPartition, int] = await self._kafka.end_offsets(partitions)
        return ends

    async def backlog(self) -> int:
        """Messages not yet committed by any consumer group, plus unsent outbox rows."""
        total = 0
        groups = [group for group, *_ in await self._admin.list_consumer_groups()]
        for group in groups:
            offsets = await self._admin.list_consumer_group_offsets(group)
            if not offsets:
                continue
            ends = await self._kafka.end_offsets(list(offsets))
            total += sum(max(0, ends[tp] - meta.offset) for tp, meta in offsets.items())
        for service in WRITE_SERVICES:
            unsent = await self._db[service].fetchval(SQL["outbox_unsent"])
            total += int(unsent)
        return total

    async def wait_caught_up(self, *, timeout_s: float, poll_s: float = 0.1) -> float:
        """Wait until every backlog is empty twice in a row; return the seconds waited."""
        started = time.monotonic()
        clear = 0
        while clear < 2:
            if time.monotonic() - started > timeout_s:
                left = await self.backlog()
                msg = f"the pipeline did not catch up in {timeout_s} s ({left} messages behind)"
                raise TimeoutError(msg)
            clear = clear + 1 if await self.backlog() == 0 else 0
            await asyncio.sleep(poll_s)
        return time.monotonic() - started

    async def _live(self) -> str:
        schema = await self._db["reporting"].fetchval(SQL["live_schema"])
        if not isinstance(schema, str) or not _SCHEMA.match(schema):
            msg = f"no live projection schema: {schema!r}"
            raise RuntimeError(msg)
        return schema

    def _moment(self) -> str:
        """The SQL for when a processed-event row was committed (or its transaction began)."""
        return "pg_xact_commit_timestamp(xmin)" if self.commit_timestamps else "processed_at"

    async def projected(self) -> int:
        """Events the live projection has recorded as applied."""
        schema = await self._live()
        count = await self._db["reporting"].fetchval(SQL["projected_count"].format(schema=schema))
        return int(count)

    async def last_commit(self, since: float) -> float:
        """Wall-clock time of the newest projection commit of events applied after `since`.

        Without commit timestamps, the start of that transaction (a slight underestimate).
        """
        schema = await self._live()
        moment = self._moment()
        value = await self._db["reporting"].fetchval(
            SQL["last_commit"].format(schema=schema, moment=moment), since
        )
        if value is None:
            msg = "no event was projected in the measured interval"
            raise RuntimeError(msg)
        return float(value)

    async def commit_times(self, event_ids: list[str]) -> dict[str, float]:
        """Wall-clock commit time of the projection transaction that applied each event."""
        schema = await self._live()
        moment = self._moment()
        rows = await self._db["reporting"].fetch(
            SQL["commit_times"].format(schema=schema, moment=moment), event_ids
        )
        return {row["message_id"]: row["committed"] for row in rows}

    async def causes(
        self, start: dict[TopicPartition, int], end: dict[TopicPartition, int]
    ) -> dict[str, str]:
        """Event id -> causation id (the command's id) of the domain events in [start, end)."""
        reader = AIOKafkaConsumer(
            **self._kafka_access.options(),
            group_id=None,
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
        await reader.start()
        found: dict[str, str] = {}
        try:
            wanted = [tp for tp in end if end[tp] > start.get(tp, 0)]
            if not wanted:
                return found
            reader.assign(wanted)
            for tp in wanted:
                reader.seek(tp, start.get(tp, 0))
            remaining = set(wanted)
            while remaining:
                batch = await reader.getmany(timeout_ms=500, max_records=10_000)
                for tp, records in batch.items():
                    for record in records:
                        if record.offset >= end[tp]:
                            break
                        event: dict[str, Any] = json.loads(record.value)
                        if event.get("causationid"):
                            found[event["id"]] = event["causationid"]
                for tp in list(remaining):
                    if await reader.position(tp) >= end[tp]:
                        remaining.discard(tp)
        finally:
            await reader.stop()
        return found
