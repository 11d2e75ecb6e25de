"""Blue-green rebuild: replay every domain topic from the earliest offset into a new version.

The live version keeps serving and keeps projecting while the new one is filled. When the
new version has caught up with the topics' ends, the switch takes the exclusive switch lock
(live batches hold it shared, so the one in flight finishes first), brings the new version
at least as far as the live version's checkpoints, and makes it live in the same
transaction. The live projector's next batch then writes into the new version; its
checkpoints skip whatever the rebuild applied already, so nothing is lost or applied twice.
The retired version is dropped afterwards.
"""

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Annotated, Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import Depends, FastAPI, HTTPException

from durchstarten.auth import Principal, PrincipalDependency, Role
from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.events.topics import DOMAIN_EVENT_TOPICS
from durchstarten.logging import get_logger
from durchstarten.messaging.broker import admin_client_options
from durchstarten.messaging.replay import all_partitions
from durchstarten.service import ServiceRuntime
from reporting.projections import PROJECTION, Projector
from reporting.settings import ReportingSettings
from reporting.versions import REBUILD_LOCK, SWITCH_LOCK, create_version, live_schema

log = get_logger(__name__)
SQL = SqlFiles(Path(__file__).parent / "db")
PROGRESS_EVERY_S = 1.0


class RebuildRunning(RuntimeError):
    """Another rebuild holds the rebuild lock (in this or another reporting instance)."""


class Rebuilds:
    """Starts rebuilds in the service process and reports on them."""

    def __init__(self, runtime: ServiceRuntime, settings: ReportingSettings) -> None:
        """Bind to the runtime (pool, dead letters) and the Kafka settings."""
        self._runtime = runtime
        self._settings = settings
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> dict[str, Any]:
        """Create the next version and start filling it; return its status at once.

        Raises RebuildRunning while another rebuild is under way.
        """
        holder: asyncpg.Connection = await self._runtime.pool.acquire()
        try:
            if not await holder.fetchval(SQL["rebuild_try_lock"], REBUILD_LOCK):
                raise RebuildRunning("a rebuild is already running")
            # Holding the lock, any version still `building` was left by a crashed run.
            for row in await holder.fetch(SQL["versions_abandon"]):
                await holder.execute(f"DROP SCHEMA IF EXISTS {row['schema_name']} CASCADE")
                await holder.execute(f"DROP SCHEMA IF EXISTS lens_{row['schema_name']} CASCADE")
            rebuild_id = uuid.uuid4()
            schema = await create_version(holder, rebuild_id)
        except BaseException:
            await self._release(holder)
            raise
        task = asyncio.create_task(self._run(holder, rebuild_id, schema))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        log.info("rebuild started", rebuild_id=str(rebuild_id), schema=schema)
        status = await self.status(rebuild_id)
        assert status is not None  # noqa: S101  # registered just above
        return status

    async def status(self, rebuild_id: uuid.UUID) -> dict[str, Any] | None:
        """The rebuild's state, progress and speed; None for an unknown id."""
        async with self._runtime.pool.acquire() as connection:
            row = await connection.fetchrow(SQL["versions_status"], rebuild_id)
        if row is None:
            return None
        return {
            "rebuild_id": str(row["rebuild_id"]),
            "schema": row["schema_name"],
            "state": row["state"],
            "events_applied": row["events_applied"],
            "events_per_second": (
                round(row["events_applied"] / row["seconds"], 1) if row["seconds"] else None
            ),
            "started_at": row["started_at"].isoformat(),
            "switched_at": row["switched_at"].isoformat() if row["switched_at"] else None,
            "error_class": row["error_class"],
        }

    async def stop(self) -> None:
        """Cancel running rebuilds (the service is stopping); they are marked failed."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, holder: asyncpg.Connection, rebuild_id: uuid.UUID, schema: str) -> None:
        consumer = AIOKafkaConsumer(
            *DOMAIN_EVENT_TOPICS,
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            client_id=f"reporting-rebuild-{schema}",
            # Without a group the consumer is assigned every partition of the topics, and
            # its positions live in the new version's checkpoints, not in Kafka.
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=self._settings.kafka_fetch_max_wait_ms,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            **admin_client_options(self._settings),
        )
        replay = _Replay(Projector(self._runtime, schema=schema), consumer, holder, schema)
        try:
            await consumer.start()
            await replay.run(batch_size=self._settings.rebuild_batch_size)
            old = await replay.switch(batch_size=self._settings.rebuild_batch_size)
            log.info("rebuild switched", schema=schema, events=replay.applied, retired=old)
            await holder.execute(f"DROP SCHEMA IF EXISTS {old} CASCADE")
            await holder.execute(f"DROP SCHEMA IF EXISTS lens_{old} CASCADE")
        except BaseException as error:
            await replay.cancel()
            log.error("rebuild failed", schema=schema, error_class=type(error).__name__)
            await holder.execute(SQL["versions_fail"], schema, type(error).__name__)
            await holder.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            await holder.execute(f"DROP SCHEMA IF EXISTS lens_{schema} CASCADE")
            if not isinstance(error, Exception):
                raise
        finally:
            await consumer.stop()
            await self._release(holder)

    async def _release(self, holder: asyncpg.Connection) -> None:
        try:
            await holder.execute(SQL["rebuild_unlock"], REBUILD_LOCK)
        finally:
            await self._runtime.pool.release(holder)


def add_rebuild_endpoints(app: FastAPI, rebuilds: Rebuilds, principal: PrincipalDependency) -> None:
    """Register the admin endpoints that start a rebuild and follow it (as `main` does).

    `principal` is the FastAPI dependency that authenticates the caller.
    """
    CurrentPrincipal = Annotated[Principal, Depends(principal)]

    @app.post("/v1/admin/rebuilds", tags=["operations"], status_code=202)
    async def start_rebuild(principal: CurrentPrincipal) -> dict[str, Any]:
        """Rebuild the projections from the earliest offset into a new version (blue-green).

        The live version keeps serving until the new one has caught up; then the read path
        switches in one transaction. One rebuild at a time: 409 while one runs.
        """
        principal.require(Role.ADMIN)
        try:
            return await rebuilds.start()
        except RebuildRunning:
            raise HTTPException(409, {"reason": "rebuild-running"}) from None

    @app.get("/v1/admin/rebuilds/{rebuild_id}", tags=["operations"])
    async def rebuild_status(rebuild_id: uuid.UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        """A rebuild's state (building, live, retired or failed), progress and speed."""
        principal.require(Role.ADMIN)
        status = await rebuilds.status(rebuild_id)
        if status is None:
            raise HTTPException(404, {"reason": "unknown-rebuild"})
        return status


class _Replay:
    """One rebuild's reading position and progress."""

    def __init__(
        self,
        projector: Projector,
        consumer: AIOKafkaConsumer,
        holder: asyncpg.Connection,
        schema: str,
    ) -> None:
        self.projector = projector
        self.consumer = consumer
        self.holder = holder
        self.schema = schema
        self.applied = 0
        self._reported_at = time.monotonic()
        self.partitions: list[TopicPartition] = []
        self._applying: asyncio.Task[None] | None = None

    async def run(self, *, batch_size: int) -> None:
        """Read every partition from its beginning until all reach their current end."""
        self.partitions = await all_partitions(self.consumer, DOMAIN_EVENT_TOPICS)
        await self.consumer.seek_to_beginning(*self.partitions)
        while True:
            got = await self._step(batch_size)
            if got < batch_size:
                await self._drain()  # positions count only once the batch is applied
                if await self._behind(await self._ends()) == []:
                    return

    async def switch(self, *, batch_size: int) -> str:
        """Catch up with the live version under the exclusive switch lock; make this live.

        Returns the schema of the retired version.
        """
        async with self.holder.transaction():
            await self.holder.execute(SQL["versions_lock_exclusive"], SWITCH_LOCK)
            old = await live_schema(self.holder)
            rows = await self.holder.fetch(SQL["rebuild_live_checkpoints"].format(schema=old))
            targets = {
                TopicPartition(row["topic"], row["partition"]): row["next_offset"]
                for row in rows
                if row["consumer"] == PROJECTION
            }
            while await self._behind(targets):
                await self._step(batch_size)
            await self._drain()
            await self.holder.execute(SQL["versions_retire_live"])
            await self.holder.execute(SQL["versions_switch"], self.schema, self.applied)
        return old

    async def _step(self, batch_size: int) -> int:
        """Fetch and parse a batch, then hand it to the database behind the one before.

        One batch is applied at a time and in order (the checkpoints must advance in order),
        but the next one is fetched and parsed while the database applies the last: the
        Python work and PostgreSQL's overlap, on a machine's two cores.
        """
        fetched = await self.consumer.getmany(timeout_ms=200, max_records=batch_size)
        records = [record for batch in fetched.values() for record in batch]
        if records:
            parsed = await self.projector.parse_batch(records)
            await self._drain()
            self._applying = asyncio.create_task(self.projector.apply_parsed(records, parsed))
            self.applied += len(records)
        if time.monotonic() - self._reported_at >= PROGRESS_EVERY_S:
            self._reported_at = time.monotonic()
            await self.holder.execute(SQL["versions_progress"], self.schema, self.applied)
        return len(records)

    async def _drain(self) -> None:
        """Wait for the batch being applied; its failure is the rebuild's failure."""
        if self._applying is not None:
            applying, self._applying = self._applying, None
            await applying

    async def cancel(self) -> None:
        """Stop a batch still being applied (the rebuild failed or the service stops)."""
        if self._applying is not None:
            self._applying.cancel()
            with contextlib.suppress(BaseException):
                await self._applying
            self._applying = None

    async def _ends(self) -> dict[TopicPartition, int]:
        ends: dict[TopicPartition, int] = await self.consumer.end_offsets(self.partitions)
        return ends

    async def _behind(self, targets: dict[TopicPartition, int]) -> list[TopicPartition]:
        """The partitions whose reading position has not reached its target offset yet."""
        return [
            tp
            for tp, target in targets.items()
            if tp in self.partitions and await self.consumer.position(tp) < target
        ]


def main(argv: list[str] | None = None) -> int:
    """`python -m reporting.rebuild`: start a rebuild on a running service and follow it.

    The admin bearer token comes from `DURCHSTARTEN_ADMIN_TOKEN` (never a command-line
    argument, which other users of the machine could read).
    """
    parser = argparse.ArgumentParser(prog="python -m reporting.rebuild", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8004", help="reporting's base URL")
    parser.add_argument("--poll-s", type=float, default=2.0, help="seconds between checks")
    args = parser.parse_args(argv)
    token = os.environ.get("DURCHSTARTEN_ADMIN_TOKEN")
    if not token:
        print("set DURCHSTARTEN_ADMIN_TOKEN to an admin bearer token", file=sys.stderr)
        return 2
    status = _call("POST", f"{args.url}/v1/admin/rebuilds", token)
    while status["state"] == "building":
        print(f"building {status['schema']}: {status['events_applied']} events", flush=True)
        time.sleep(args.poll_s)
        status = _call("GET", f"{args.url}/v1/admin/rebuilds/{status['rebuild_id']}", token)
    print(json.dumps(status, indent=2))
    return 0 if status["state"] == "live" else 1


def _call(method: str, url: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310  # the operator names the service's URL
        url, method=method, headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  # as above
        body: dict[str, Any] = json.loads(response.read())
    return body


if __name__ == "__main__":
    sys.exit(main())
