"""The audit trail of every read and write of identifiers: append-only and hash-chained.

Each entry's hash covers the previous entry's hash and its own fields, so changing or
removing any entry breaks every hash after it; `verify` finds the first broken link.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from durchstarten.db.sqlfiles import SqlFiles

SQL = SqlFiles(Path(__file__).parent / "db")
GENESIS = b"\x00" * 32


def entry_hash(
    prev_hash: bytes,
    *,
    at: datetime,
    actor: str,
    action: str,
    participant_id: uuid.UUID | None,
    purpose: str,
) -> bytes:
    """SHA-256 over the previous hash and the entry's fields, unambiguously separated."""
    fields = [at.astimezone(UTC).isoformat(), actor, action, str(participant_id or ""), purpose]
    digest = hashlib.sha256(prev_hash)
    for value in fields:
        encoded = value.encode()
        digest.update(len(encoded).to_bytes(4, "big") + encoded)
    return digest.digest()


async def record(
    connection: asyncpg.Connection,
    *,
    actor: str,
    action: str,
    participant_id: uuid.UUID | None,
    purpose: str,
) -> None:
    """Append an entry inside the caller's transaction (it commits with the access)."""
    await connection.execute(SQL["audit_lock"])
    prev = await connection.fetchval(SQL["audit_last_hash"]) or GENESIS
    at = datetime.now(UTC)
    digest = entry_hash(
        prev, at=at, actor=actor, action=action, participant_id=participant_id, purpose=purpose
    )
    await connection.execute(
        SQL["audit_append"], at, actor, action, participant_id, purpose, prev, digest
    )


@dataclass(frozen=True)
class Verification:
    """The outcome of checking the chain."""

    entries: int
    first_broken_seq: int | None

    @property
    def intact(self) -> bool:
        """True when every link holds."""
        return self.first_broken_seq is None


async def verify(connection: asyncpg.Connection) -> Verification:
    """Recompute the chain from the start; report the first entry that does not fit."""
    prev = GENESIS
    rows: list[Any] = await connection.fetch(SQL["audit_all"])
    for row in rows:
        expected = entry_hash(
            prev,
            at=row["at"],
            actor=row["actor"],
            action=row["action"],
            participant_id=row["participant_id"],
            purpose=row["purpose"],
        )
        if row["prev_hash"] != prev or row["hash"] != expected:
            return Verification(len(rows), row["seq"])
        prev = row["hash"]
    return Verification(len(rows), None)
