"""Projection versions (blue-green): which schema serves, and how a new one is made.

Each version is a PostgreSQL schema (`projection_<n>`) holding the projection tables and that
version's own checkpoints and processed event ids; `projection_versions` names the live one.
Every read and every live projection batch sets its transaction's `search_path` to the live
schema, so a switch (one row update, under an exclusive advisory lock that live batches take
shared) moves readers and the live projector together, between two transactions.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from durchstarten.db.sqlfiles import SqlFiles
from reporting.counties import lens_sql

SQL = SqlFiles(Path(__file__).parent / "db")

SWITCH_LOCK = 0x5245504F52540001
"""Advisory lock: live projection batches hold it shared, a switch holds it exclusively."""

REBUILD_LOCK = 0x5245504F52540002
"""Advisory lock held by the one rebuild running (across all reporting instances)."""

_SCHEMA_NAME = re.compile(r"^projection_[0-9]+$")


class NoLiveVersion(RuntimeError):
    """The database has no live projection version (migrations have not run)."""


def _checked(schema: str) -> str:
    # The name goes into search_path: accept only what this module itself generates.
    if not _SCHEMA_NAME.match(schema):
        msg = f"not a projection schema name: {schema!r}"
        raise ValueError(msg)
    return schema


async def live_schema(connection: asyncpg.Connection) -> str:
    """The schema of the live projection version."""
    schema: str | None = await connection.fetchval(SQL["versions_live"])
    if schema is None:
        raise NoLiveVersion("no live projection version")
    return _checked(schema)


async def use_schema(connection: asyncpg.Connection, schema: str) -> None:
    """Point unqualified table names at `schema` until the transaction ends."""
    await connection.execute(SQL["versions_use"], f"{_checked(schema)}, public")


async def use_live_for_writing(connection: asyncpg.Connection) -> str:
    """Inside a live projection batch: wait out a switch, then use the live schema.

    The shared lock keeps a switch from happening between reading the live schema and the
    batch's commit, so no batch is written into a version that has just been retired.
    """
    await connection.execute(SQL["versions_lock_shared"], SWITCH_LOCK)
    schema = await live_schema(connection)
    await use_schema(connection, schema)
    return schema


@asynccontextmanager
async def reading(
    pool: asyncpg.Pool, *, writes: bool = False, county: str | None = None
) -> AsyncIterator[asyncpg.Connection]:
    """A connection in a repeatable-read transaction on the live version.

    One snapshot for the whole report, so its tables agree with each other; read-only
    unless the caller stores something of its own (a frozen snapshot). `county`: the
    county lens (row-level security shows that county's people only); None: statewide.
    """
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=not writes),
    ):
        await through_lens(connection, await live_schema(connection), county)
        yield connection


async def through_lens(connection: asyncpg.Connection, schema: str, county: str | None) -> None:
    """Read `schema` through `county`'s lens (its people only) until the transaction ends.

    None: statewide, the projection's own tables. Switching within one transaction keeps
    its snapshot: every county and the state are read at the same moment.
    """
    if county is None:
        await use_schema(connection, schema)
    else:
        # The county's lens first: its views hide the other counties' people.
        await connection.execute(SQL["versions_use"], f"lens_{_checked(schema)}, {schema}, public")
    await connection.execute(SQL["versions_county"], county or "")


async def create_version(connection: asyncpg.Connection, rebuild_id: uuid.UUID) -> str:
    """Create the next version's schema and tables, registered as `building`.

    Raises asyncpg.UniqueViolationError when another version is being built.
    """
    async with connection.transaction():
        number: int = await connection.fetchval(SQL["versions_next_number"])
        schema = _checked(f"projection_{number}")
        await connection.execute(SQL["versions_register"], schema, rebuild_id)
        await connection.execute(f"CREATE SCHEMA {schema}")
        await use_schema(connection, schema)
        await connection.execute(SQL["projection_schema"])
        await connection.execute(lens_sql(schema))
    return schema
