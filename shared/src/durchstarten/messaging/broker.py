"""Broker factory and consumer defaults that neither lose nor duplicate data (KAFKA-NOTES.md)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.exceptions import NackMessage
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from faststream.security import BaseSecurity, SASLScram512

from durchstarten.events.reasons import ReasonCode
from durchstarten.logging import get_logger
from durchstarten.messaging.dlq import DeadLetters
from durchstarten.messaging.errors import PermanentError, is_transient
from durchstarten.messaging.records import KafkaRecord
from durchstarten.settings import KafkaSettings, ServiceSettings

log = get_logger(__name__)
T = TypeVar("T")

# A transient fault (database restarting, broker leader moving) is retried in place with
# backoff for this long, then the message is handed back to Kafka (seek) and polled again.
# It stays well below max.poll.interval.ms (300 s), so a slow retry never evicts the consumer.
TRANSIENT_RETRY_BUDGET_S = 60.0
# An unexpected error (a bug, an unforeseen constraint) gets a few quick retries, then the
# message is dead-lettered: one bad message must not block its partition forever.
UNEXPECTED_ERROR_ATTEMPTS = 3


def _security(settings: KafkaSettings) -> BaseSecurity | None:
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    if settings.kafka_sasl_username is None or settings.kafka_sasl_password is None:
        msg = "SASL needs DURCHSTARTEN_KAFKA_SASL_USERNAME and _PASSWORD"
        raise ValueError(msg)
    context = tls_context(settings) if settings.kafka_security_protocol == "SASL_SSL" else None
    return SASLScram512(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=context is not None,
    )


def admin_client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Aiokafka client options for the same security settings (topic set-up, admin)."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return {}
    if settings.kafka_sasl_username is None or settings.kafka_sasl_password is None:
        msg = "SASL needs DURCHSTARTEN_KAFKA_SASL_USERNAME and _PASSWORD"
        raise ValueError(msg)
    options: dict[str, Any] = {
        "security_protocol": settings.kafka_security_protocol,
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": settings.kafka_sasl_password.get_secret_value(),
    }
    if settings.kafka_security_protocol == "SASL_SSL":
        options["ssl_context"] = tls_context(settings)
    return options


def tls_context(settings: KafkaSettings) -> ssl.SSLContext:
    """A client TLS context that checks the broker's certificate and host name.

    Against the county's own CA when DURCHSTARTEN_KAFKA_SSL_CAFILE names one, else against
    the system's trusted CAs; never without verification.
    """
    cafile = settings.kafka_ssl_cafile
    return ssl.create_default_context(cafile=str(cafile) if cafile is not None else None)


def bootstrap_list(servers: str) -> list[str]:
    """`host:port,host:port` as the list of its addresses."""
    return [server.strip() for server in servers.split(",") if server.strip()]


def create_broker(settings: ServiceSettings, *, service: str) -> KafkaBroker:
    """A KafkaBroker whose producer waits for all in-sync replicas and is idempotent."""
    return KafkaBroker(
        # A list: FastStream wraps a string in one, and aiokafka splits only a bare string
        # on commas, so "a:9092,b:9092" would be taken for one host (found by the
        # three-broker fault suite).
        bootstrap_list(settings.kafka_bootstrap_servers),
        client_id=settings.kafka_client_id or service,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,  # lets the relay's batches travel as a few requests
        allow_auto_create_topics=False,  # topics are created on purpose, with partitions
        graceful_timeout=15.0,
        security=_security(settings),
        logger=logging.getLogger(f"faststream.{service}"),
        log_level=logging.DEBUG,  # FastStream's per-message lines; our handlers log facts
    )


def _decodable(value: bytes | None) -> bool:
    if value is None:
        return False
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _sanitised(record: ConsumerRecord[Any, Any]) -> ConsumerRecord[Any, Any]:
    """The record with header values FastStream can decode (UTF-8, never null).

    Almost every record needs no change and is returned as it is: copying each one cost a
    measurable share of a batch's time (docs/BENCHMARKS.md).
    """
    if all(_decodable(value) for _, value in record.headers):
        return record
    headers = [
        (name, (value or b"").decode("utf-8", "replace").encode()) for name, value in record.headers
    ]
    copy = dataclasses.replace(record, headers=headers)
    if hasattr(record, "consumer"):
        copy.consumer = record.consumer  # FastStream sets it on the records it fetches
    return copy


async def safe_parser(
    raw: ConsumerRecord[Any, Any] | tuple[ConsumerRecord[Any, Any], ...],
    original: Callable[[Any], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """FastStream's parser, made total.

    A header that is not UTF-8 (or is null) would make it raise before our handler runs,
    and the message would be skipped without a trace.
    """
    if isinstance(raw, tuple):
        return await original(tuple(_sanitised(record) for record in raw))
    return await original(_sanitised(raw))


async def raw_decoder(message: StreamMessage[Any]) -> Any:
    """Hand the raw bytes to the handler.

    Our own code parses and classifies every failure; FastStream would decode JSON by
    content type, outside our error handling.
    """
    return message.body


def subscriber_options(settings: ServiceSettings) -> dict[str, Any]:
    """Options for every subscriber: commit after processing, from the earliest offset.

    NACK_ON_ERROR: a handler that still fails after our own retries seeks back and is
    polled again; success commits. FastStream's default would commit before processing.
    The parser and decoder leave all parsing to our handlers, which dead-letter what fails.
    """
    return {
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": settings.kafka_fetch_max_wait_ms,
        "max_poll_interval_ms": 300_000,
        "parser": safe_parser,
        "decoder": raw_decoder,
    }


async def with_retries(
    work: Callable[[], Awaitable[T]],
    *,
    what: str,
    unexpected_attempts: int = UNEXPECTED_ERROR_ATTEMPTS,
) -> T:
    """Run `work`, retrying transient faults with backoff and unexpected errors a few times.

    `unexpected_attempts` is how often an unexpected error is tried in all (a batch that
    falls back to one record at a time tries once). PermanentError is raised at once. An
    unexpected error that survives its attempts is raised as is (the caller dead-letters
    it); a transient fault that outlasts the budget becomes NackMessage, so Kafka
    redelivers the message later instead of losing it.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TRANSIENT_RETRY_BUDGET_S
    delay = 0.05
    unexpected = 0
    while True:
        try:
            return await work()
        except PermanentError:
            raise
        except Exception as error:
            if is_transient(error):
                if loop.time() >= deadline:
                    log.warning("transient fault outlasted retries; redelivering", what=what)
                    raise NackMessage from error
            else:
                unexpected += 1
                if unexpected >= unexpected_attempts:
                    raise
            log.warning(
                "processing failed; retrying",
                what=what,
                error_class=type(error).__name__,
                retry_in_s=round(delay, 2),
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def process_or_park(
    record: KafkaRecord,
    work: Callable[[], Awaitable[None]],
    dead_letters: DeadLetters,
    *,
    on_permanent: Callable[[PermanentError], Awaitable[None]] | None = None,
) -> None:
    """Process one record; park it on the dead-letter topic if it can never succeed.

    `on_permanent` runs after parking, e.g. to send the provider a rejection.
    """
    where = f"{record.topic}/{record.partition}@{record.offset}"
    try:
        await with_retries(work, what=where)
    except NackMessage:
        raise
    except PermanentError as error:
        await dead_letters.park(record, error_class=error.reason, error_message=str(error))
        await _after_parking(on_permanent, error, where)
    except Exception as error:
        # The class only: an exception's text may quote input values (identifiers).
        log.error("unexpected error; dead-lettering", error_class=type(error).__name__)
        await dead_letters.park(
            record, error_class=type(error).__name__, error_message="unexpected processing error"
        )
        await _after_parking(on_permanent, INTERNAL_ERROR, where)


async def in_one_or_each(
    batch: Callable[[], Awaitable[T]], each: Callable[[], Awaitable[None]], *, what: str
) -> T | None:
    """Run `batch` (transient faults retried); after any other error, `each` instead.

    One message that fails in a way no rule foresaw aborts a batch's transaction; `each`
    then takes the batch's messages one at a time, which isolates it (it is parked, the
    others are carried out once). Returns what `batch` returned, or None after `each`.
    A transient fault that outlasts the retries is raised (NackMessage: redelivered).
    """
    try:
        return await with_retries(batch, what=what, unexpected_attempts=1)
    except NackMessage:
        raise
    except Exception as error:
        # The class only: an exception's text may quote input values (identifiers).
        log.warning(
            "batch failed; taking its messages one at a time",
            what=what,
            error_class=type(error).__name__,
        )
        await each()
        return None


INTERNAL_ERROR = PermanentError(
    ReasonCode.INTERNAL_ERROR,
    message_en="The command could not be processed; the operators are informed.",
    message_de="Der Befehl konnte nicht verarbeitet werden; der Betrieb ist informiert.",
)


async def _after_parking(
    on_permanent: Callable[[PermanentError], Awaitable[None]] | None,
    error: PermanentError,
    where: str,
) -> None:
    """Run the follow-up of a parked message (the provider's rejection).

    Transient faults are retried; anything else is logged and given up, because the message
    is parked already: failing here would redeliver it and park it again, for ever.
    """
    if on_permanent is None:
        return
    try:
        await with_retries(lambda: on_permanent(error), what=f"follow-up of {where}")
    except NackMessage:
        raise
    except Exception as failure:
        log.error(  # the class only, never the text
            "follow-up of a dead letter failed", where=where, error_class=type(failure).__name__
        )
