"""Which providers may enrol a participant; the caller owns the transaction (connection first).

Courses learns the links from intake's and coaching's events: the registering provider, any
assigned after a sure duplicate, any that accepted a referral. They need no order (a
referral's answer may arrive before the registration); erasure removes them.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg

from durchstarten.db.sqlfiles import SqlFiles

SQL = SqlFiles(Path(__file__).parent / "db")


async def link_provider(
    connection: asyncpg.Connection, participant_id: uuid.UUID, provider: str
) -> None:
    """Let `provider` enrol the participant (registered by it, assigned, or referred to it)."""
    await connection.execute(SQL["participant_link"], participant_id, provider)


async def linked_providers(
    connection: asyncpg.Connection, participant_id: uuid.UUID
) -> frozenset[str]:
    """The providers that may enrol the participant (none for one not known)."""
    rows = await connection.fetch(SQL["participant_providers"], participant_id)
    return frozenset(row["provider"] for row in rows)


async def unlink_others(
    connection: asyncpg.Connection, participant_id: uuid.UUID, keep: list[str]
) -> None:
    """Every provider but those in `keep` may no longer enrol the person."""
    await connection.execute(SQL["participant_unlink"], participant_id, keep)
