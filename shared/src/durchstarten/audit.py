"""The audit trail of person-level reads and writes, shared by every service that holds them.

The trail lives in each service's own database (platform migration 0004): an HMAC chain
whose key the service's runtime role cannot read, in a table it can read but not change.
Entries are appended through a function that runs with the owner's rights, in the caller's
transaction, so a read or write and its audit entry commit together or not at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import Header

from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.messaging.batch import pending_for

SQL = SqlFiles(Path(__file__).parent / "db" / "sql")


async def record(
    connection: asyncpg.Connection,
    *,
    actor: str,
    action: str,
    participant_id: uuid.UUID | None,
    purpose: str,
) -> int:
    """Append an entry inside the caller's transaction; its sequence number."""
    seq: int = await connection.fetchval(
        SQL["audit_append"], actor, action, participant_id, purpose
    )
    return seq


async def add(
    connection: asyncpg.Connection,
    *,
    actor: str,
    action: str,
    participant_id: uuid.UUID | None,
    purpose: str,
) -> None:
    """Append an entry inside the caller's transaction; inside a batch, at its flush.

    For the entries of a batch of commands (`durchstarten.messaging.batch`): they are
    written in the order they were made, with one round trip for all of them, before the
    batch commits.
    """
    pending = pending_for(connection)
    if pending is None:
        await connection.execute(SQL["audit_append"], actor, action, participant_id, purpose)
    else:
        pending.defer(SQL["audit_append"], actor, action, participant_id, purpose)


async def record_reads(
    connection: asyncpg.Connection,
    *,
    actor: str,
    action: str,
    participant_ids: list[uuid.UUID],
    purpose: str,
) -> None:
    """One entry per participant whose rows a read showed (a case, a roster, a due list)."""
    if participant_ids:
        unique = list(dict.fromkeys(participant_ids))  # one entry per person, first seen first
        await connection.execute(SQL["audit_append_many"], actor, action, unique, purpose)


def purpose_header() -> Any:
    """The `X-Purpose` header of a person-level read: why it is made, kept in the trail.

    FastAPI takes no default inside `Annotated`: the endpoint's parameter gives it.
    """
    return Header(
        alias="X-Purpose",
        min_length=3,
        max_length=200,
        description="Why the person-level rows are read; kept in the audit trail.",
    )


@dataclass(frozen=True)
class Verification:
    """The outcome of checking the chain."""

    entries: int
    first_broken_seq: int | None
    head_seq: int
    """The newest entry's number as the trail's head remembers it."""

    @property
    def intact(self) -> bool:
        """True when every link holds and no entry is missing at the end."""
        return self.first_broken_seq is None


async def verify(connection: asyncpg.Connection) -> Verification:
    """Recompute the chain with its key (inside the database); the first entry that does not fit."""
    row = await connection.fetchrow(SQL["audit_verify"])
    return Verification(row["entries"], row["first_broken_seq"], row["head_seq"])


async def set_retention(owner: asyncpg.Connection, keep: timedelta | None) -> None:
    """Keep entries `keep` long (None: forever); the owner's to set, from the deletion plan."""
    await owner.execute(SQL["audit_policy_set"], keep)


async def purge(connection: asyncpg.Connection) -> int:
    """Remove the entries past the policy's period, oldest first; how many went."""
    removed: int = await connection.fetchval(SQL["audit_purge"])
    return removed


async def entries_about(
    connection: asyncpg.Connection, participant_id: uuid.UUID
) -> list[dict[str, object]]:
    """Who read or wrote this participant's data, when and why (for an access request)."""
    rows = await connection.fetch(SQL["audit_about"], participant_id)
    return [dict(row) for row in rows]
