"""The counties in reporting: their municipalities and sites, and the county lens.

The county files (`durchstarten.counties`) are copied into `public.municipalities` and
`public.sites` at every start, so the reports' SQL can name a county's rows and the courses'
counties. The lens (`db/projection_counties.sql`) is laid on every live or building
projection version then, and on each new one (`reporting.versions.create_version`).
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from durchstarten.counties import Counties
from durchstarten.db.sqlfiles import SqlFiles

SQL = SqlFiles(Path(__file__).parent / "db")


async def store_configuration(connection: asyncpg.Connection, counties: Counties) -> None:
    """Replace the stored municipalities and sites with those of `counties` (one transaction)."""
    municipalities = [
        (m.key, county.key, m.name) for county in counties.all() for m in county.municipalities
    ]
    sites = [
        (provider.id, site.id, county.key)
        for county in counties.all()
        for provider in county.providers
        for site in provider.sites
    ]
    async with connection.transaction():
        await connection.execute("DELETE FROM public.municipalities")
        await connection.executemany(SQL["municipality_insert"], municipalities)
        await connection.execute("DELETE FROM public.sites")
        await connection.executemany(SQL["site_insert"], sites)


async def lay_lens(connection: asyncpg.Connection) -> None:
    """Lay the county lens on every live or building projection version (idempotent)."""
    async with connection.transaction():
        for row in await connection.fetch(SQL["versions_current"]):
            await connection.execute(
                "SELECT set_config('search_path', $1, true)", f"{row['schema_name']}, public"
            )
            await connection.execute(SQL["projection_counties"])
