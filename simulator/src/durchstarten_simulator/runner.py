"""Replay a history through Kafka or HTTP, stage by stage, as the providers' systems would.

Within a stage commands go out in calendar order; the next stage starts once every reply
of this one is in (a provider needs the pseudonym before it can open a case). `speed` paces
each stage at that many simulated days per second; 0 sends as fast as the services take it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import groupby
from typing import Protocol

import structlog

from durchstarten_simulator.generate import NAMES_PARTICIPANT, History, Planned
from durchstarten_simulator.wire import Outgoing, Reply, envelope

log = structlog.get_logger(__name__)

RETRY_REASONS = frozenset({"needs-work-or-training"})
"""Rejections that a provider's system retries: courses learns of a placement from coaching's
events a moment after coaching accepted it, so an F2 enrolment may come too early."""


class Transport(Protocol):
    """Kafka or HTTP: sends commands and hands back their replies."""

    async def start(self) -> None:
        """Connect."""

    async def send(self, commands: list[Outgoing]) -> None:
        """Send in order."""

    async def wait(self, ids: set[str], timeout_s: float) -> dict[str, Reply]:
        """The replies to `ids`."""

    async def stop(self) -> None:
        """Disconnect."""


@dataclass
class RunResult:
    """What happened to the commands of one replay."""

    sent: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    registrations: Counter[str] = field(default_factory=Counter)
    retried: int = 0
    skipped: int = 0
    seconds: float = 0.0
    participants: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        """Counts only (no pseudonyms), for logs and the command line."""
        return {
            "sent": self.sent,
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "registrations": dict(self.registrations),
            "retried": self.retried,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 1),
        }


async def replay(
    history: History,
    transport: Transport,
    *,
    speed: float = 0.0,
    stage_timeout_s: float = 180.0,
    retries: int = 40,
    retry_delay_s: float = 0.5,
) -> RunResult:
    """Send every command of `history`; return what the services answered."""
    result = RunResult()
    started = time.monotonic()
    await transport.start()
    try:
        for stage, planned in groupby(history.commands, key=lambda c: c.stage):
            await _stage(
                list(planned),
                transport,
                result,
                speed=speed,
                timeout_s=stage_timeout_s,
                retries=retries,
                delay_s=retry_delay_s,
            )
            result.seconds = time.monotonic() - started
            log.info("stage done", stage=stage.name.lower(), **result.summary())
    finally:
        await transport.stop()
    result.seconds = time.monotonic() - started
    return result


async def _stage(
    planned: list[Planned],
    transport: Transport,
    result: RunResult,
    *,
    speed: float,
    timeout_s: float,
    retries: int,
    delay_s: float,
) -> None:
    outgoing: list[tuple[Planned, Outgoing]] = []
    for command in planned:
        ready = _outgoing(command, result.participants)
        if ready is None:
            result.skipped += 1  # its registration was refused: a provider sends nothing more
        else:
            outgoing.append((command, ready))
    first_day = planned[0].day if planned else None
    start = time.monotonic()
    for day, same_day in groupby(outgoing, key=lambda c: c[0].day):
        if speed > 0 and first_day is not None:
            due = start + (day - first_day).days / speed
            await asyncio.sleep(max(0.0, due - time.monotonic()))
        await transport.send([o for _, o in same_day])
    result.sent += len(outgoing)
    replies = await transport.wait({o.id for _, o in outgoing}, timeout_s)
    for attempt in range(retries + 1):
        again: list[tuple[Planned, Outgoing]] = []
        for command, sent in outgoing:
            reply = replies[sent.id]
            if not reply.accepted and reply.reason in RETRY_REASONS and attempt < retries:
                again.append((command, _resend(sent)))
                continue
            _count(command, reply, result)
        if not again:
            return
        result.retried += len(again)
        await asyncio.sleep(delay_s)
        await transport.send([o for _, o in again])
        result.sent += len(again)
        replies = await transport.wait({o.id for _, o in again}, timeout_s)
        outgoing = again


def _outgoing(command: Planned, participants: dict[str, str]) -> Outgoing | None:
    data = dict(command.data)
    if command.type in NAMES_PARTICIPANT:
        if command.person not in participants:
            return None
        data["participant_id"] = participants[command.person]
    return Outgoing(
        provider=command.provider,
        service=command.service,
        key=command.key,
        envelope=envelope(command.provider, command.type, data),
    )


def _resend(sent: Outgoing) -> Outgoing:
    """The same command as a new message: a repeated id would only be answered as seen."""
    fresh = envelope(sent.provider, sent.envelope["type"], sent.envelope["data"])
    return Outgoing(sent.provider, sent.service, sent.key, fresh)


def _count(command: Planned, reply: Reply, result: RunResult) -> None:
    if not reply.accepted:
        result.rejected[str(reply.reason)] += 1
        if command.type.startswith("register-participant"):
            result.registrations["rejected"] += 1
        return
    result.accepted += 1
    if command.type.startswith("register-participant"):
        result.registrations[str(reply.status)] += 1
        reference = command.data["provider_reference"]
        if reply.participant_id and reply.status != "pending-exception":
            result.participants[f"{command.provider}/{reference}"] = reply.participant_id
