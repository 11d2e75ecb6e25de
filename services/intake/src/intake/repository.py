"""Intake's database access.

Every function takes the connection first, so the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg

from durchstarten.db.sql import SqlFiles
from durchstarten.events import RegisterParticipant

SQL = SqlFiles(Path(__file__).parent / "db")


async def insert_participant(
    connection: asyncpg.Connection,
    *,
    participant_id: uuid.UUID,
    provider: str,
    command_id: str,
    command: RegisterParticipant,
) -> None:
    """Store a registered person: the only place personal identifiers are kept."""
    await connection.execute(
        SQL["participant_insert"],
        participant_id,
        provider,
        command_id,
        command.provider_reference,
        command.given_name,
        command.family_name,
        command.birth_date,
        command.sex.value,
        command.country_of_origin,
        command.residence_status.status.value,
        command.municipality.value,
        command.school_education.value,
        command.german_level.overall.value,
        command.entry_date,
    )


async def participant_by_command(
    connection: asyncpg.Connection, *, provider: str, command_id: str
) -> uuid.UUID | None:
    """The pseudonym a registration command created, if it created one."""
    value: uuid.UUID | None = await connection.fetchval(
        SQL["participant_by_command"], provider, command_id
    )
    return value
