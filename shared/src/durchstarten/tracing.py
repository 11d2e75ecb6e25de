"""OpenTelemetry traces: one trace follows a command through Kafka, the outbox and PostgreSQL.

The trace context (W3C `traceparent`) travels in Kafka headers: a provider may send one with
its command; every record a service consumes opens a span under the context its headers
carry; every outbox row keeps the context it was written in, so the event the relay
publishes later, and whatever another service does with it, joins the same trace. Queries
are spans through the maintained asyncpg instrumentation. Spans carry topics, partitions,
offsets and event types, never payloads.

Off unless `DURCHSTARTEN_TRACING` says `console` (one JSON span per line to
`DURCHSTARTEN_TRACING_FILE`, for the tests and a developer) or `otlp` (to the county's
collector at `DURCHSTARTEN_TRACING_OTLP_ENDPOINT`).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from opentelemetry import propagate, trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)

from durchstarten.messaging.records import KafkaRecord

TRACER = "durchstarten"
_PROPAGATED = ("traceparent", "tracestate")


class Tracing:
    """A service's tracer provider (or none), and what it instruments."""

    def __init__(
        self,
        service: str,
        mode: str,
        *,
        file: Path | None = None,
        otlp_endpoint: str | None = None,
    ) -> None:
        """Set up tracing for `service` as `mode` says (`off`, `console`, `otlp`)."""
        self.mode = mode
        self._file: IO[str] | None = None
        self.provider: TracerProvider | None = None
        if mode == "off":
            return
        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        exporter: SpanExporter
        if mode == "console":
            self._file = file.open("a", encoding="utf-8") if file is not None else None
            exporter = ConsoleSpanExporter(
                out=self._file or sys.stdout,
                formatter=lambda span: span.to_json(indent=None) + "\n",
            )
            # Written as each span ends: a test (or a person) reads them at once.
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415  # only when used
                OTLPSpanExporter,
            )

            exporter = OTLPSpanExporter(endpoint=otlp_endpoint)
            self.provider.add_span_processor(BatchSpanProcessor(exporter))
        # The instrumentation package ships no type hints for its constructor.
        AsyncPGInstrumentor().instrument(tracer_provider=self.provider)  # type: ignore[no-untyped-call]

    def tracer(self) -> trace.Tracer:
        """The tracer spans are made with (a no-op one when tracing is off)."""
        if self.provider is None:
            return trace.NoOpTracer()
        return self.provider.get_tracer(TRACER)

    def shutdown(self) -> None:
        """Flush and close."""
        if self.provider is not None:
            AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
            self.provider.shutdown()
        if self._file is not None:
            self._file.close()


def context_of(record: KafkaRecord) -> Any:
    """The trace context a record's headers carry (an empty one when none)."""
    carrier = {
        key: value.decode("ascii", errors="replace")
        for key, value in (record.headers or ())
        if key in _PROPAGATED and value is not None
    }
    return propagate.extract(carrier)


@contextlib.contextmanager
def consuming(tracer: trace.Tracer, record: KafkaRecord, what: str) -> Iterator[None]:
    """A span for handling one record, under the context its headers carry."""
    with tracer.start_as_current_span(
        f"{what} {record.topic}",
        context=context_of(record),
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": record.topic,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
        },
    ):
        yield


@contextlib.contextmanager
def consuming_batch(
    tracer: trace.Tracer, records: Sequence[KafkaRecord], what: str
) -> Iterator[None]:
    """One span for a batch, linked to the context of every record in it."""
    links = []
    for record in records:
        span_context = trace.get_current_span(context_of(record)).get_span_context()
        if span_context.is_valid:
            links.append(trace.Link(span_context))
    with tracer.start_as_current_span(
        what,
        kind=trace.SpanKind.CONSUMER,
        links=links,
        attributes={"messaging.system": "kafka", "messaging.batch.message_count": len(records)},
    ):
        yield


@contextlib.contextmanager
def batch_work(tracer: trace.Tracer, records: Sequence[KafkaRecord], what: str) -> Iterator[None]:
    """A span for the work a batch of records shares (its transaction, reads and writes).

    Its parent is the first record's context and it links to the others': the statements
    the batch runs once for all of them (reading ahead, the flush, the commit) belong to a
    trace that came with the batch. Each record's own work keeps its own span (`consuming`).
    """
    links = []
    for record in records[1:]:
        span_context = trace.get_current_span(context_of(record)).get_span_context()
        if span_context.is_valid:
            links.append(trace.Link(span_context))
    with tracer.start_as_current_span(
        what,
        context=context_of(records[0]) if records else None,
        kind=trace.SpanKind.INTERNAL,  # each record's CONSUMER span is its own
        links=links,
        attributes={"messaging.system": "kafka", "messaging.batch.message_count": len(records)},
    ):
        yield


def current_headers() -> list[list[str]]:
    """The current trace context as header pairs (none outside a span)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [[key, value] for key, value in carrier.items() if key in _PROPAGATED]
