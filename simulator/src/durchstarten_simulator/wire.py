"""Sending commands as a provider's own system does: CloudEvents JSON on Kafka, or over HTTP.

Nothing here uses the services' code. Kafka messages are written with a plain aiokafka
producer (acks=all, idempotent); replies are read from the provider's outbound topics.
`AcknowledgedSends` is the one send loop of the simulator's replay, its load mode and the
benchmark: records in order, the broker's acknowledgements awaited per batch.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from durchstarten.events.topics import WRITE_SERVICES, inbound, outbound
from durchstarten.messaging.access import KafkaAccess

CONTENT_TYPE = "application/cloudevents+json"
ACK_BATCH = 500
"""Sends between two waits for the broker's acknowledgements, as the services' outbox relay
batches them (KAFKA-NOTES: never thousands of futures at once)."""


def consumer_record(
    topic: str, offset: int, value: bytes, key: bytes | None = None
) -> ConsumerRecord[bytes, bytes]:
    """A record as a consumer receives it (partition 0, no headers).

    It feeds a projector directly, without a broker (handler tests, the benchmark's
    in-process stages).
    """
    return ConsumerRecord(
        topic=topic,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key) if key is not None else 0,
        serialized_value_size=len(value),
        headers=[],
    )


def envelope(provider: str, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    """A command in CloudEvents 1.0 structured mode, with a fresh id."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"/providers/{provider}",
        "type": type_,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


@dataclass(frozen=True)
class Reply:
    """What the service answered to one command."""

    command_id: str
    accepted: bool
    reason: str | None = None
    status: str | None = None
    participant_id: str | None = None


@dataclass(frozen=True)
class Record:
    """One Kafka message ready to send."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class Outgoing:
    """One command ready to go: where to, its key and its envelope."""

    provider: str
    service: str
    key: str
    envelope: dict[str, Any]

    @property
    def id(self) -> str:
        """The envelope's id, which the reply names."""
        return str(self.envelope["id"])

    def record(self) -> Record:
        """The Kafka message: on the service's inbound topic, keyed as the command says."""
        for service in WRITE_SERVICES:  # narrows the plain name to a write service's
            if service == self.service:
                return Record(
                    inbound(self.provider, service),
                    json.dumps(self.envelope).encode(),
                    self.key.encode(),
                    headers=(("content-type", CONTENT_TYPE.encode()),),
                )
        msg = f"{self.service!r} takes no commands (write services: {WRITE_SERVICES})"
        raise ValueError(msg)


def producer(options: dict[str, Any]) -> AIOKafkaProducer:
    """A producer that loses nothing: acks from all replicas, idempotent retries, linger 5 ms.

    `options` say where and as whom (`KafkaAccess.options`). The services' own producer has
    the same settings (durchstarten.messaging.broker).
    """
    return AIOKafkaProducer(acks="all", enable_idempotence=True, linger_ms=5, **options)


class AcknowledgedSends:
    """Records handed to a producer one after the other; acknowledgements awaited per batch.

    Every send leaves a future until the next `settle`: at most `batch` of them, so a
    failed send surfaces within a batch and memory stays flat, whatever the backlog.
    """

    def __init__(self, kafka: AIOKafkaProducer, batch: int = ACK_BATCH) -> None:
        """`kafka` is started and stopped by the caller."""
        self.kafka = kafka
        self._batch = batch
        self._pending: list[asyncio.Future[Any]] = []
        self.sent = 0

    async def send(self, record: Record) -> None:
        """Hand one record to the producer; settle once a whole batch is pending."""
        future = await self.kafka.send(
            record.topic, record.value, key=record.key, headers=list(record.headers)
        )
        self._pending.append(future)
        self.sent += 1
        if len(self._pending) >= self._batch:
            await self.settle()

    async def settle(self) -> None:
        """Wait for the broker's acknowledgement of every pending send (raises if one failed)."""
        for future in self._pending:
            await future
        self._pending.clear()


async def send_all(kafka: AIOKafkaProducer, records: Iterable[Record]) -> int:
    """Send in order, awaiting acknowledgements every ACK_BATCH sends; return the count."""
    sends = AcknowledgedSends(kafka)
    for record in records:
        await sends.send(record)
    await sends.settle()
    return sends.sent


class ProviderSends:
    """Commands sent as the providers' systems do: each provider with its own credentials.

    The broker lets a provider write only its own inbound topics, so the simulator, which
    plays several providers, keeps one producer (and one send loop) per provider.
    """

    def __init__(self, access: KafkaAccess, providers: Iterable[str]) -> None:
        """Not connected yet: `start` connects."""
        self._sends = {p: AcknowledgedSends(producer(access.provider(p))) for p in providers}

    @property
    def producers(self) -> dict[str, AIOKafkaProducer]:
        """Each provider's producer."""
        return {provider: sends.kafka for provider, sends in self._sends.items()}

    @property
    def sent(self) -> int:
        """Commands handed to the producers so far."""
        return sum(sends.sent for sends in self._sends.values())

    async def start(self) -> None:
        """Connect every provider's producer."""
        for sends in self._sends.values():
            await sends.kafka.start()

    async def send(self, command: Outgoing) -> None:
        """Hand one command to its provider's producer (acknowledged per batch)."""
        await self._sends[command.provider].send(command.record())

    async def settle(self) -> None:
        """Wait for the acknowledgement of every pending send."""
        for sends in self._sends.values():
            await sends.settle()

    async def stop(self) -> None:
        """Disconnect every producer."""
        for sends in self._sends.values():
            await sends.kafka.stop()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The partitions of `topic`, asking the broker when the consumer has not seen it yet."""
    found = consumer.partitions_for_topic(topic)
    if not found:
        await consumer._client.force_metadata_update()  # no public way to refresh
        found = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(found)]


class KafkaTransport:
    """Commands to the inbound topics; replies collected from the outbound topics."""

    def __init__(self, access: KafkaAccess, providers: list[str]) -> None:
        """Not connected yet: `start` connects; every provider with its own credentials."""
        self.access = access
        self.providers = providers
        self.replies: dict[str, Reply] = {}
        self._sends = ProviderSends(access, providers)
        # A provider may read only its own outbound topics: one consumer per provider.
        self._consumers = {
            p: AIOKafkaConsumer(
                enable_auto_commit=False, fetch_max_wait_ms=20, **access.provider(p)
            )
            for p in providers
        }
        self._readers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Connect, and start reading replies from the current end of every outbound topic."""
        await self._sends.start()
        for provider, consumer in self._consumers.items():
            await consumer.start()
            partitions = []
            for service in WRITE_SERVICES:
                partitions += await partitions_of(consumer, outbound(provider, service))
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            for partition in partitions:
                await consumer.position(partition)  # fixes the start before anything is sent
            self._readers.append(asyncio.create_task(self._read(consumer)))

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    reply = _reply(json.loads(record.value))
                    if reply is not None:
                        self.replies[reply.command_id] = reply

    async def send(self, commands: list[Outgoing]) -> None:
        """Publish the commands in order (the replies arrive in `replies`)."""
        for command in commands:
            await self._sends.send(command)
        await self._sends.settle()

    async def wait(self, ids: set[str], timeout_s: float) -> dict[str, Reply]:
        """The replies to `ids`; raises TimeoutError naming how many are missing."""
        deadline = time.monotonic() + timeout_s
        while not ids <= self.replies.keys():
            for reader in self._readers:
                if reader.done():
                    reader.result()  # a reader failed: raise its error
            if time.monotonic() > deadline:
                missing = len(ids - self.replies.keys())
                msg = f"{missing} of {len(ids)} replies missing after {timeout_s} s"
                raise TimeoutError(msg)
            await asyncio.sleep(0.05)
        return {i: self.replies[i] for i in ids}

    async def stop(self) -> None:
        """Disconnect."""
        for reader in self._readers:
            reader.cancel()
        await self._sends.stop()
        for consumer in self._consumers.values():
            await consumer.stop()


def _reply(value: dict[str, Any]) -> Reply | None:
    data = value.get("data") or {}
    command_id = data.get("command_id")
    if not command_id:
        return None
    accepted = str(value.get("type", "")).startswith("command.accepted.")
    return Reply(
        command_id=command_id,
        accepted=accepted,
        reason=None if accepted else data.get("reason"),
        status=data.get("status"),
        participant_id=data.get("participant_id"),
    )


class HttpTransport:
    """Commands posted to each service's `POST /v1/commands`; the answer is the reply.

    One person's commands go one after the other (as on their Kafka partition); up to
    `concurrency` people at a time.
    """

    def __init__(
        self, urls: dict[str, str], token: Callable[[str], str], *, concurrency: int = 16
    ) -> None:
        """`urls` by service name; `token(provider)` gives a bearer token."""
        self.urls = urls
        self.token = token
        self.concurrency = concurrency
        self.replies: dict[str, Reply] = {}
        self._client = httpx.AsyncClient(timeout=60)

    async def start(self) -> None:
        """Nothing to connect in advance."""

    async def send(self, commands: list[Outgoing]) -> None:
        """Post every command; each answer is kept as its reply."""
        by_key: dict[str, list[Outgoing]] = {}
        for command in commands:
            by_key.setdefault(command.key, []).append(command)
        queue: asyncio.Queue[list[Outgoing]] = asyncio.Queue()
        for chain in by_key.values():
            queue.put_nowait(chain)

        async def worker() -> None:
            while not queue.empty():
                for command in queue.get_nowait():
                    self.replies[command.id] = await self._post(command)

        await asyncio.gather(*(worker() for _ in range(self.concurrency)))

    async def _post(self, command: Outgoing) -> Reply:
        response = await self._client.post(
            f"{self.urls[command.service]}/v1/commands",
            content=json.dumps(command.envelope),
            headers={
                "Authorization": f"Bearer {self.token(command.provider)}",
                "Content-Type": CONTENT_TYPE,
            },
        )
        body = response.json()
        if response.status_code < 300:  # 201 accepted, 202 held (carried out later), 200 seen
            return Reply(
                command.id,
                True,
                status=body.get("status"),
                participant_id=body.get("participant_id"),
            )
        reason = body.get("reason") if isinstance(body, dict) else None
        if isinstance(reason, dict):  # FastAPI's HTTPException wraps the detail
            reason = reason.get("reason")
        if reason is None and isinstance(body.get("detail"), dict):
            reason = body["detail"].get("reason")
        return Reply(command.id, False, reason=str(reason or response.status_code))

    async def wait(self, ids: set[str], timeout_s: float) -> dict[str, Reply]:
        """Every reply came with its answer already (`timeout_s` is for Kafka's twin)."""
        del timeout_s
        return {i: self.replies[i] for i in ids}

    async def stop(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
