"""The one send loop against a fake producer: order, count, acknowledgements per batch."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from durchstarten_simulator.wire import ACK_BATCH, Outgoing, Record, envelope, send_all


class Acknowledgement:
    """What a producer's send returns: awaiting it is waiting for the broker's answer."""

    def __init__(self) -> None:
        self.awaited = False

    def __await__(self) -> Generator[None, None, None]:
        self.awaited = True
        yield from ()


class RecordingProducer:
    """Keeps every record sent and notes how many acknowledgements were outstanding."""

    def __init__(self) -> None:
        self.sent: list[Record] = []
        self.acknowledgements: list[Acknowledgement] = []
        self.most_outstanding = 0

    async def send(
        self, topic: str, value: bytes, *, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> Acknowledgement:
        self.sent.append(Record(topic, value, key, tuple(headers)))
        self.acknowledgements.append(Acknowledgement())
        outstanding = sum(1 for a in self.acknowledgements if not a.awaited)
        self.most_outstanding = max(self.most_outstanding, outstanding)
        return self.acknowledgements[-1]


async def test_records_go_in_order_each_acknowledged_a_batch_at_a_time() -> None:
    kafka: Any = RecordingProducer()
    records = [Record("t", str(n).encode(), b"k") for n in range(2 * ACK_BATCH + 7)]
    assert await send_all(kafka, iter(records)) == len(records)
    assert kafka.sent == records
    assert kafka.most_outstanding == ACK_BATCH  # never more than a batch waiting
    assert all(a.awaited for a in kafka.acknowledgements)  # the last, short batch too


def test_a_command_travels_on_its_services_inbound_topic_keyed_by_its_key() -> None:
    command = Outgoing("in-via", "courses", "course-7", envelope("in-via", "enrol.v1", {}))
    record = command.record()
    assert (record.topic, record.key) == ("inbound.in-via.courses", b"course-7")
    assert dict(record.headers) == {"content-type": b"application/cloudevents+json"}
    with pytest.raises(ValueError, match="takes no commands"):
        Outgoing("in-via", "reporting", "k", command.envelope).record()
