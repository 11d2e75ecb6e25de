"""The answers to providers' commands, kept so that a command sent again is answered again.

A provider that does not know whether its command arrived (a timeout, a crash of its own)
sends it again with the same id. It gets the reply the first one got, marked as a repeat,
not silence; and the same id with other data is refused (`id-reused-with-different-data`),
since carrying out either silently would lose the other. The answer is recorded in the
transaction that carries the command out, so a crash never leaves a command done but its
answer unknown.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg

from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.events import CloudEvent
from durchstarten.messaging.batch import pending_for

SQL = SqlFiles(Path(__file__).parent / "sql")


def fingerprint(envelope: CloudEvent) -> bytes:
    """A hash of what a command asks (its type and data), not of when it was sent."""
    canonical = json.dumps(
        {"type": envelope.type, "data": envelope.data},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).digest()


class Earlier(NamedTuple):
    """The first command with an id: whether it asked the same, and its answer if any."""

    same: bool
    reply: dict[str, Any] | None


async def record(
    connection: asyncpg.Connection, consumer: str, dedupe_key: str, envelope: CloudEvent
) -> None:
    """Note a command seen for the first time (its answer follows in `answered`)."""
    await connection.execute(SQL["answers_record"], consumer, dedupe_key, fingerprint(envelope))


async def record_many(
    connection: asyncpg.Connection, consumer: str, envelopes: Sequence[tuple[str, CloudEvent]]
) -> None:
    """Note many commands seen for the first time, as (dedupe key, envelope), in one statement."""
    if not envelopes:
        return
    await connection.execute(
        SQL["answers_record_many"],
        consumer,
        [dedupe_key for dedupe_key, _ in envelopes],
        [fingerprint(envelope) for _, envelope in envelopes],
    )


async def earlier(
    connection: asyncpg.Connection, consumer: str, dedupe_key: str, envelope: CloudEvent
) -> Earlier | None:
    """The first command with this id, compared with `envelope`; None if not kept (any more)."""
    row = await connection.fetchrow(SQL["answers_find"], consumer, dedupe_key)
    if row is None:
        return None
    return Earlier(same=bytes(row["fingerprint"]) == fingerprint(envelope), reply=row["reply"])


async def answered(
    connection: asyncpg.Connection,
    consumer: str,
    dedupe_key: str,
    reply: CloudEvent,
    participant: uuid.UUID | None,
) -> None:
    """Keep the reply a command got (in the transaction that sends it).

    Inside a batch (`batch.gathering`) it joins the batch's one update instead.
    """
    as_sent = reply.to_json()
    pending = pending_for(connection)
    if pending is not None:
        pending.add_answer(consumer, dedupe_key, participant, as_sent)
        return
    await connection.execute(
        SQL["answers_reply"],
        consumer,
        dedupe_key,
        participant,
        json.loads(as_sent),
    )


def repeat_of(reply: dict[str, Any]) -> CloudEvent:
    """The stored reply sent again: a message of its own, its data marked as a repeat."""
    return CloudEvent.model_validate(
        reply
        | {
            "id": str(uuid.uuid4()),
            "time": datetime.now(UTC).isoformat(),
            "data": reply["data"] | {"repeat": True},
        }
    )


async def purge(connection: asyncpg.Connection, older_than_s: float) -> int:
    """Remove answers past the deletion plan's period; return how many went."""
    status: str = await connection.execute(SQL["answers_purge"], older_than_s)
    return int(status.rsplit(maxsplit=1)[-1])


async def forget(connection: asyncpg.Connection, participant: uuid.UUID) -> None:
    """Remove a person's answers (their erasure)."""
    await connection.execute(SQL["answers_forget"], participant)
