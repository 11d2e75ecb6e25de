"""Transactional outbox and its relay (DESIGN.md, Delivery).

A service writes its state change and the messages announcing it in one PostgreSQL
transaction (`enqueue`). The relay, running in the same process, publishes unsent rows in
sequence order with the idempotent producer, waits for the broker's acknowledgements of the
whole batch, then marks the rows sent. A crash between send and mark re-sends the batch;
consumers deduplicate by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker

from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.events.envelope import CONTENT_TYPE, CloudEvent
from durchstarten.logging import get_logger
from durchstarten.messaging.batch import pending_for
from durchstarten.messaging.errors import is_transient
from durchstarten.tracing import current_headers

log = get_logger(__name__)
SQL = SqlFiles(Path(__file__).parent / "sql")
_MAX_BACKOFF_S = 10.0
PARK_AFTER_ATTEMPTS = 3


async def enqueue(
    connection: asyncpg.Connection, topic: str, event: CloudEvent, *, key: str | None
) -> None:
    """Add `event` to the outbox inside the caller's transaction; sent after commit.

    Inside a batch (`batch.gathering`) the row joins the batch's one insert instead.
    """
    # The trace context it is written in goes along: the event joins the command's trace.
    headers = [
        ["content-type", CONTENT_TYPE],
        ["ce_type", event.type],
        ["ce_id", event.id],
        *current_headers(),
    ]
    raw_key = key.encode() if key is not None else None
    pending = pending_for(connection)
    if pending is not None:
        pending.add_message(topic, raw_key, event.to_json(), headers)
        return
    await connection.execute(SQL["outbox_insert"], topic, raw_key, event.to_json(), headers)


async def backlog(pool: asyncpg.Pool) -> tuple[int, int]:
    """Rows waiting to be published, and rows parked as unpublishable (metrics)."""
    async with pool.acquire() as connection:
        row = await connection.fetchrow(SQL["outbox_backlog"])
        return int(row["unsent"]), int(row["parked"])


class OutboxRelay:
    """Publishes outbox rows in order; woken by LISTEN/NOTIFY, with a polling fallback."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        broker: KafkaBroker,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 1.0,
        retention_s: float = 7 * 24 * 3600,
        lease_s: float = 30.0,
    ) -> None:
        """Relay rows from `pool`'s outbox through `broker`'s idempotent producer.

        `lease_s`: how long the database lets one relay's batch sit idle before it ends the
        session, releasing the leader lock (see `relay_once`).
        """
        self._pool = pool
        self._broker = broker
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._retention_s = retention_s
        self._lease_ms = str(int(lease_s * 1000))
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self.published = 0

    async def start(self) -> None:
        """Start listening for notifications and relaying in a background task."""
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Stop the relay; rows not yet marked sent are sent again by the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._unlisten()

    async def _listen(self) -> None:
        """(Re)open the LISTEN connection; a lost one only costs the polling delay."""
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = await self._pool.acquire()
        await self._listener.add_listener("outbox", self._on_notify)

    async def _unlisten(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.remove_listener("outbox", self._on_notify)
                await self._pool.release(self._listener)
            self._listener = None

    def _on_notify(self, *_args: object) -> None:
        self._wake.set()

    async def _run(self) -> None:
        backoff = 0.1
        purge_due = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self._listen()
                self._wake.clear()
                sent = await self.relay_once()
                if loop.time() >= purge_due:
                    await self._purge()
                    purge_due = loop.time() + 600
                backoff = 0.1
                if sent < self._batch_size:
                    # Caught up: wait for a NOTIFY or the polling interval, whichever first.
                    # (The flag is cleared before each batch, so a NOTIFY that arrived
                    # during the batch is not lost.)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # Keep relaying after any failure: a dead relay silently stops the service's
                # output. Transient faults are expected; anything else is logged loudly.
                await self._unlisten()
                log_method = log.warning if is_transient(error) else log.exception
                log_method("outbox relay failed; retrying", error_class=type(error).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)

    async def relay_once(self) -> int:
        """Publish one batch of unsent rows in order; return how many were sent.

        Rows are marked sent only up to the first failure, so nothing after a failed row
        overtakes it. A failure that is not transient counts against that row, which is
        parked after a few attempts instead of holding up everything behind it.
        """
        async with self._pool.acquire() as connection, connection.transaction():
            # Leadership is a lease, not a lock held for as long as a process lives: an
            # instance frozen (SIGSTOP, a stalled VM) or cut off mid-batch keeps its
            # connection open, and would stop the whole service's output. The server ends
            # a transaction idle that long; the rows it had sent go out again from the next
            # leader, and consumers skip the duplicates by event id.
            await connection.execute(SQL["outbox_lease"], self._lease_ms)
            if not await connection.fetchval(SQL["outbox_leader_lock"]):
                return 0  # another instance is relaying; it keeps the order
            rows = await connection.fetch(SQL["outbox_claim"], self._batch_size)
            if not rows:
                return 0
            sent, failure = await self._send(rows)
            if sent:
                await connection.execute(
                    SQL["outbox_mark_published"], [row["seq"] for row in rows[:sent]]
                )
            if failure is not None and not is_transient(failure):
                await self._record_failure(connection, rows[sent]["seq"], failure)
        self.published += sent
        if failure is not None and is_transient(failure):
            raise failure  # back off and retry the rest
        return sent

    async def _send(self, rows: list[asyncpg.Record]) -> tuple[int, BaseException | None]:
        """Send rows without waiting per message, then await every acknowledgement.

        The idempotent producer keeps them in order per partition. Returns how many leading
        rows were acknowledged, and the first failure.
        """
        futures: list[asyncio.Future[Any]] = []
        failure: BaseException | None = None
        for row in rows:
            try:
                future = await self._broker.publish(
                    row["value"],
                    row["topic"],
                    key=row["message_key"],
                    headers=dict(row["headers"]),
                    no_confirm=True,
                )
            except Exception as error:  # refused before sending: unknown topic, too large
                failure = error
                break
            futures.append(future)
        results = await asyncio.gather(*futures, return_exceptions=True)
        for index, result in enumerate(results):
            if isinstance(result, BaseException):
                return index, result
        return len(futures), failure

    async def _record_failure(
        self, connection: asyncpg.Connection, seq: int, failure: BaseException
    ) -> None:
        parked = await connection.fetchval(
            SQL["outbox_record_failure"], seq, type(failure).__name__, PARK_AFTER_ATTEMPTS
        )
        log_method = log.error if parked else log.warning
        log_method(
            "outbox row parked: the broker refuses it" if parked else "outbox row refused",
            seq=seq,
            error_class=type(failure).__name__,
        )

    async def _purge(self) -> None:
        async with self._pool.acquire() as connection:
            await connection.execute(SQL["outbox_purge"], self._retention_s)
