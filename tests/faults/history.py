"""The history of a fault run and its checker, in the manner of Jepsen.

The client side records every command it sent. Afterwards the checker reads what the
system wrote to Kafka (every reply on the providers' outbound topics, every domain event)
and judges each acknowledged command on its own:

- lost: accepted, yet no domain event names it as its cause (its effect never happened,
  or happened and was rolled back after the reply went out);
- applied twice: two events of the same type caused by it, under different event ids
  (carried out twice; a relay's re-send keeps the id and is not counted). No command of
  the scenario announces two events of one type;
- reply missing: sent, never answered; reply doubled: two first answers with different ids
  (a repeat, marked `repeat`, is the answer to a command sent again and is fine).

The reports are compared with the oracle separately (`durchstarten_simulator.check`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer

from durchstarten.events.topics import (
    COACHING_EVENTS,
    COURSES_EVENTS,
    INTAKE_EVENTS,
    ServiceName,
    outbound,
)
from durchstarten.messaging.access import KafkaAccess
from durchstarten.messaging.replay import all_partitions
from durchstarten_simulator.wire import KafkaTransport, Outgoing, Reply

DOMAIN_TOPICS = (INTAKE_EVENTS, COACHING_EVENTS, COURSES_EVENTS)
WRITE_SERVICES: tuple[ServiceName, ...] = ("intake", "coaching", "courses")
NO_EVENT_UNTIL_DECIDED = frozenset({"pending-exception"})
"""Accepted registrations that announce nothing until a coordinator decides."""


class RecordingTransport:
    """The simulator's Kafka transport, keeping every command it sends."""

    def __init__(self, inner: KafkaTransport) -> None:
        """Wrap `inner`; `sent` fills as commands go out."""
        self.inner = inner
        self.sent: dict[str, Outgoing] = {}

    async def start(self) -> None:
        """Connect."""
        await self.inner.start()

    async def send(self, commands: list[Outgoing]) -> None:
        """Record, then send."""
        for command in commands:
            self.sent[command.id] = command
        await self.inner.send(commands)

    async def wait(self, ids: set[str], timeout_s: float) -> dict[str, Reply]:
        """The replies, as the transport waits for them."""
        return await self.inner.wait(ids, timeout_s)

    async def stop(self) -> None:
        """Disconnect."""
        await self.inner.stop()


async def read_everything(access: KafkaAccess, topics: Iterable[str]) -> list[dict[str, Any]]:
    """Every record's JSON value on `topics`, from the earliest offset to the current end."""
    # Earliest from the start: a reset to the latest offset still in flight when we seek
    # to the beginning would win, and the read would start at the end.
    consumer = AIOKafkaConsumer(
        *topics, enable_auto_commit=False, auto_offset_reset="earliest", **access.options()
    )
    await consumer.start()
    try:
        partitions = await all_partitions(consumer, topics)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        values: list[dict[str, Any]] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in partitions])

        while await behind():
            batch = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batch.values():
                values += [json.loads(r.value) for r in records if r.value]
        return values
    finally:
        await consumer.stop()


@dataclass
class Verdict:
    """What the checker found; `line()` is the run's one-line result."""

    sent: int = 0
    acked: int = 0
    lost: list[str] = field(default_factory=list)
    double: list[str] = field(default_factory=list)
    replies_missing: list[str] = field(default_factory=list)
    replies_doubled: list[str] = field(default_factory=list)
    report_failures: list[Any] = field(default_factory=list)
    repeated: set[str] = field(default_factory=set)
    """Commands answered again as repeats: sent again, or redelivered after a crash."""

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing doubled, every command answered once, reports as the oracle."""
        return self.acked > 0 and not (
            self.lost
            or self.double
            or self.replies_missing
            or self.replies_doubled
            or self.report_failures
        )

    def line(self) -> str:
        """`acked N, lost 0, double 0, ...`."""
        reports = (
            "equal to the oracle"
            if not self.report_failures
            else f"{len(self.report_failures)} figures differ"
        )
        return (
            f"acked {self.acked}, lost {len(self.lost)}, double {len(self.double)}, "
            f"replies missing {len(self.replies_missing)}, "
            f"replies doubled {len(self.replies_doubled)}, reports {reports} "
            f"(sent {self.sent}, answered again as repeats {len(self.repeated)})"
        )


def judge(
    sent: dict[str, Outgoing], replies: list[dict[str, Any]], events: list[dict[str, Any]]
) -> Verdict:
    """Judge every sent command by the replies and events read back from Kafka."""
    verdict = Verdict(sent=len(sent))
    first_answers: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for reply in replies:
        data = reply.get("data") or {}
        command_id = data.get("command_id")
        if command_id not in sent:
            continue
        if data.get("repeat"):
            verdict.repeated.add(command_id)
        else:
            first_answers[command_id][reply["id"]] = reply  # a relay's re-send: same id
    caused: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for event in events:
        cause = event.get("causationid")
        if cause in sent:
            caused[cause][event["type"]].add(event["id"])
    for command_id in sent:
        answers = list(first_answers.get(command_id, {}).values())
        if not answers:
            verdict.replies_missing.append(command_id)
            continue
        if len(answers) > 1:
            verdict.replies_doubled.append(command_id)
        answer = answers[0]
        if not str(answer["type"]).startswith("command.accepted."):
            continue
        verdict.acked += 1
        effects = caused.get(command_id, {})
        if any(len(ids) > 1 for ids in effects.values()):
            verdict.double.append(command_id)
        if not effects and answer["data"].get("status") not in NO_EVENT_UNTIL_DECIDED:
            verdict.lost.append(command_id)
    return verdict


def reply_topics(providers: Iterable[str]) -> list[str]:
    """Every outbound topic of `providers`."""
    return [outbound(p, s) for p in providers for s in WRITE_SERVICES]
