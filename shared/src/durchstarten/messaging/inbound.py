"""The inbound edge every write service shares: one record from `inbound.<provider>.<service>`.

Parse strictly, hand the batch's commands to the service (one transaction for the batch),
and for anything that can never succeed park the record on the dead-letter topic and send
the provider a rejection, one record at a time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from faststream.kafka.annotations import KafkaMessage

from durchstarten.db.pool import connection_from, lease
from durchstarten.events.topics import inbound, outbound, provider_of_inbound
from durchstarten.messaging.broker import in_one_or_each, process_or_park, subscriber_options
from durchstarten.messaging.command_service import CommandService
from durchstarten.messaging.commands import InboundCommand, command_id_of, parse_command, rejection
from durchstarten.messaging.errors import PermanentError
from durchstarten.messaging.outbox import enqueue
from durchstarten.messaging.records import KafkaRecord
from durchstarten.service import ServiceRuntime
from durchstarten.tracing import consuming


class InboundEdge:
    """Handles records of a service's inbound topics, a batch at a time."""

    def __init__(self, service: CommandService) -> None:
        """Carry out commands through `service`, each record's in turn."""
        self._runtime = service.runtime
        self._service = service

    async def on_batch(self, records: Sequence[KafkaRecord]) -> None:
        """Carry out a polled batch: its commands in one transaction, bad records one by one.

        The records keep their order: the commands before a record that does not parse are
        carried out first, then that record is parked and answered, then the rest.
        """
        commands: list[tuple[InboundCommand, KafkaRecord]] = []
        for record in records:
            try:
                command = parse_command(
                    record.value or b"",
                    provider=provider_of_inbound(record.topic),
                    accepted=self._service.accepted,
                )
            except Exception:  # parked and answered by the one-record path
                await self._carry_out(commands)
                commands = []
                await self.on_record(record)
                continue
            commands.append((command, record))
        await self._carry_out(commands)

    async def _carry_out(self, commands: Sequence[tuple[InboundCommand, KafkaRecord]]) -> None:
        """One transaction for the batch; after an error that is not transient, one by one."""
        if not commands:
            return

        async def one_at_a_time() -> None:
            for _, record in commands:
                await self.on_record(record)

        first = commands[0][1]
        outcomes = await in_one_or_each(
            lambda: self._service.execute_batch(commands),
            one_at_a_time,
            what=f"batch of {len(commands)} from {first.topic}/{first.partition}@{first.offset}",
        )
        if outcomes is None:
            return  # counted one by one
        for (_, record), outcome in zip(commands, outcomes, strict=True):
            self._runtime.metrics.messages.labels(record.topic, outcome.status).inc()

    async def on_record(self, record: KafkaRecord) -> None:
        """Process one record; a bad one is parked and answered, never retried for ever."""
        provider = provider_of_inbound(record.topic)
        service = self._service.service

        async def work() -> None:
            command = parse_command(
                record.value or b"", provider=provider, accepted=self._service.accepted
            )
            with consuming(self._runtime.tracing.tracer(), record, "process"):
                outcome = await self._service.execute_record(command, record)
            self._runtime.metrics.messages.labels(record.topic, outcome).inc()

        async def reject(error: PermanentError) -> None:
            command_id, command_type = command_id_of(record.value or b"")
            reply = rejection(
                service=service,
                error=error,
                command_id=command_id,
                command_type=command_type,
                source=(record.topic, record.partition, record.offset),
            )
            async with connection_from(self._runtime.pool) as connection, connection.transaction():
                await enqueue(connection, outbound(provider, service), reply, key=None)
            self._runtime.metrics.messages.labels(record.topic, "dead-lettered").inc()

        await process_or_park(record, work, self._runtime.dead_letters, on_permanent=reject)


def subscribe_commands(service: CommandService) -> None:
    """Consume every configured provider's `inbound.<provider>.<service>` topic."""
    runtime = service.runtime
    edge = InboundEdge(service)
    topics = [inbound(provider, service.service) for provider in runtime.settings.providers]
    _subscribe_in_batches(runtime, topics, group_id=service.service, handle=edge.on_batch)


def _subscribe_in_batches(
    runtime: ServiceRuntime,
    topics: list[str],
    *,
    group_id: str,
    handle: Callable[[Sequence[KafkaRecord]], Awaitable[None]],
) -> Any:
    """Consume `topics` in batches and hand each polled batch to `handle`.

    The offsets of a batch are committed once, after `handle` returns: one commit request
    per batch instead of one round trip per message (KAFKA-NOTES: commit after processing).
    If the batch has to be redelivered (NackMessage), every partition of it is rewound to
    its first record; what was committed before is then recognised as seen and skipped.
    """

    async def on_batch(message: KafkaMessage) -> None:
        async with lease(runtime.pool):  # one connection for the batch's transactions
            await handle(message.raw_message)

    subscribe = runtime.broker.subscriber(
        *topics,
        group_id=group_id,
        batch=True,
        max_records=runtime.settings.consumer_batch_size,
        batch_timeout_ms=50,  # how long a poll waits when nothing is there at all
        **subscriber_options(runtime.settings),
    )
    subscribe(on_batch)
    return subscribe  # the subscriber: its aiokafka consumer once started


def subscribe_events(
    runtime: ServiceRuntime,
    *topics: str,
    group_id: str,
    handle: Callable[[Sequence[KafkaRecord]], Awaitable[None]],
) -> Any:
    """Consume other services' domain topics, a polled batch at a time, through `handle`.

    Returns the subscriber (FastStream's, untyped there): its `consumer` once started.
    """
    return _subscribe_in_batches(runtime, list(topics), group_id=group_id, handle=handle)


def subscribe_command_service(service: CommandService, *event_topics: str, group_id: str) -> None:
    """Wire a write service's command side: inbound topics, learnt events, held commands.

    `event_topics` are the other services' domain topics it learns from (consumer group
    `group_id`); the retrier runs only for a service that holds commands.
    """
    runtime = service.runtime
    subscribe_commands(service)
    if event_topics:
        learner = subscribe_events(
            runtime, *event_topics, group_id=group_id, handle=service.learn_batch
        )
        service.learns_through(lambda: learner.consumer, event_topics)
    if service.holds:
        runtime.on_start(service.retrier.start)
        runtime.on_stop(service.retrier.stop)
