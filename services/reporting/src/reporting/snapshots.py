"""Frozen reports: the quarterly table stored byte for byte as served on a reporting date."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from durchstarten.db.sqlfiles import SqlFiles

SQL = SqlFiles(Path(__file__).parent / "db")
QUARTERLY_MONITORING = "quarterly-monitoring"


async def freeze_quarterly_monitoring(
    connection: asyncpg.Connection,
    report: dict[str, Any],
    *,
    year: int,
    quarter: int,
    stichtag: date,
    frozen_by: str,
    county: str,
) -> dict[str, Any]:
    """Freeze `report`, the county's quarterly table as served, for the reporting date.

    The stored bytes never change; freezing the same report and date again stores nothing
    and returns the first snapshot. Returns the snapshot's record (id, report, period,
    Stichtag, when it was frozen, SHA-256 of the bytes) as JSON values.
    """
    body = json.dumps(
        {**report, "stichtag": stichtag.isoformat()}, sort_keys=True, separators=(",", ":")
    ).encode()
    digest = hashlib.sha256(body).hexdigest()
    await connection.execute(
        SQL["snapshot_insert"],
        uuid.uuid4(),
        QUARTERLY_MONITORING,
        year,
        quarter,
        stichtag,
        frozen_by,
        body,
        digest,
        county,
    )
    row = await connection.fetchrow(
        SQL["snapshot_find"], QUARTERLY_MONITORING, year, quarter, stichtag, county
    )
    return {k: str(v) if not isinstance(v, int) else v for k, v in dict(row).items()}


async def frozen_body(
    connection: asyncpg.Connection, snapshot_id: uuid.UUID
) -> tuple[bytes, str, str] | None:
    """A snapshot's stored bytes, their SHA-256 (hex) and its county; None for an unknown id."""
    row = await connection.fetchrow(SQL["snapshot_body"], snapshot_id)
    if row is None:
        return None
    return bytes(row["body"]), row["sha256"], row["county"]
