"""The inbound edge every write service shares: one record from `inbound.<provider>.<service>`.

Parse strictly, hand the command to the service's executor, and for anything that can never
succeed park the record on the dead-letter topic and send the provider a rejection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from faststream.kafka.annotations import KafkaMessage

from durchstarten.db.pool import connection_from, lease
from durchstarten.events.topics import ServiceName, inbound, outbound, provider_of_inbound
from durchstarten.messaging.broker import process_or_park, subscriber_options
from durchstarten.messaging.command_service import CommandService
from durchstarten.messaging.commands import InboundCommand, command_id_of, parse_command, rejection
from durchstarten.messaging.errors import PermanentError
from durchstarten.messaging.outbox import enqueue
from durchstarten.messaging.records import KafkaRecord
from durchstarten.service import ServiceRuntime
from durchstarten.tracing import consuming

Executor = Callable[[InboundCommand, KafkaRecord], Awaitable[str]]
"""Carries out a parsed command for a record; returns the outcome label for the metrics."""


class InboundEdge:
    """Handles records of a service's inbound topics."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        *,
        service: ServiceName,
        accepted: frozenset[str],
        execute: Executor,
    ) -> None:
        """`execute(command, record)` does the service's work in its own transaction."""
        self._runtime = runtime
        self._service = service
        self._accepted = accepted
        self._execute = execute

    async def on_record(self, record: KafkaRecord) -> None:
        """Process one record; a bad one is parked and answered, never retried for ever."""
        provider = provider_of_inbound(record.topic)

        async def work() -> None:
            command = parse_command(record.value or b"", provider=provider, accepted=self._accepted)
            outcome = await self._execute(command, record)
            self._runtime.metrics.messages.labels(record.topic, outcome).inc()

        async def reject(error: PermanentError) -> None:
            command_id, command_type = command_id_of(record.value or b"")
            reply = rejection(
                service=self._service,
                error=error,
                command_id=command_id,
                command_type=command_type,
                source=(record.topic, record.partition, record.offset),
            )
            async with connection_from(self._runtime.pool) as connection, connection.transaction():
                await enqueue(connection, outbound(provider, self._service), reply, key=None)
            self._runtime.metrics.messages.labels(record.topic, "dead-lettered").inc()

        await process_or_park(record, work, self._runtime.dead_letters, on_permanent=reject)


def subscribe_commands(
    runtime: ServiceRuntime,
    *,
    service: ServiceName,
    accepted: frozenset[str],
    execute: Executor,
) -> None:
    """Consume every configured provider's `inbound.<provider>.<service>` topic."""
    edge = InboundEdge(runtime, service=service, accepted=accepted, execute=execute)
    topics = [inbound(provider, service) for provider in runtime.settings.providers]
    _subscribe_in_batches(runtime, topics, group_id=service, handle=edge.on_record)


def _subscribe_in_batches(
    runtime: ServiceRuntime,
    topics: list[str],
    *,
    group_id: str,
    handle: Callable[[KafkaRecord], Awaitable[None]],
) -> Any:
    """Consume `topics` in batches, handling each record in turn, in partition order.

    Records are still handled one by one, each in its own transaction, but the offsets of a
    batch are committed once after all of it: one commit request per batch instead of one
    round trip per message (KAFKA-NOTES: commit after processing). If a record has to be
    redelivered (NackMessage), every partition of the batch is rewound to its first record;
    the records handled before it are then recognised as seen (inbox) and skipped.
    """

    async def on_batch(message: KafkaMessage) -> None:
        tracer = runtime.tracing.tracer()
        async with lease(runtime.pool):  # one connection for the batch's transactions
            for record in message.raw_message:
                with consuming(tracer, record, "process"):
                    await handle(record)

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
    handle: Callable[[KafkaRecord], Awaitable[None]],
) -> Any:
    """Consume other services' domain topics, each record in turn, through `handle`.

    Returns the subscriber (FastStream's, untyped there): its `consumer` once started.
    """
    return _subscribe_in_batches(runtime, list(topics), group_id=group_id, handle=handle)


def subscribe_command_service(service: CommandService, *event_topics: str, group_id: str) -> None:
    """Wire a write service's command side: inbound topics, learnt events, held commands.

    `event_topics` are the other services' domain topics it learns from (consumer group
    `group_id`); the retrier runs only for a service that holds commands.
    """
    runtime = service.runtime
    subscribe_commands(
        runtime, service=service.service, accepted=service.accepted, execute=service.execute_record
    )
    if event_topics:
        learner = subscribe_events(
            runtime, *event_topics, group_id=group_id, handle=service.learn_from
        )
        service.learns_through(lambda: learner.consumer, event_topics)
    if service.holds:
        runtime.on_start(service.retrier.start)
        runtime.on_stop(service.retrier.stop)
