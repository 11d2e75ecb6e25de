"""A projection version made from projection_schema.sql equals version 1 made by migrations."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from durchstarten.db.migrate import PLATFORM_MIGRATIONS, migrate
from reporting.app import MIGRATIONS
from reporting.versions import create_version, live_schema

pytestmark = pytest.mark.integration

COLUMNS = """
SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '')
FROM information_schema.columns WHERE table_schema = $1
ORDER BY table_name, column_name
"""
INDEXES = """
SELECT tablename, regexp_replace(indexdef, ' ON [a-z_0-9]+\\.', ' ON ') AS definition
FROM pg_indexes WHERE schemaname = $1 ORDER BY 1, 2
"""
CHECKS = """
SELECT c.relname, pg_get_constraintdef(k.oid)
FROM pg_constraint AS k JOIN pg_class AS c ON c.oid = k.conrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = $1 ORDER BY 1, 2
"""


async def test_a_new_version_has_the_tables_of_the_migrated_one(fresh_database_url: str) -> None:
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await migrate(connection, {"platform": PLATFORM_MIGRATIONS, "reporting": MIGRATIONS})
        migrated = await live_schema(connection)
        built = await create_version(connection, uuid.uuid4())
        assert (migrated, built) == ("projection_1", "projection_2")
        for query in (COLUMNS, INDEXES, CHECKS):
            old = [tuple(row) for row in await connection.fetch(query, migrated)]
            new = [tuple(row) for row in await connection.fetch(query, built)]
            assert old, query  # the query sees the tables at all
            assert old == new
        state = await connection.fetchval(
            "SELECT state FROM projection_versions WHERE schema_name = $1", built
        )
        assert state == "building"
        with pytest.raises(asyncpg.UniqueViolationError):  # one build at a time
            await create_version(connection, uuid.uuid4())
    finally:
        await connection.close()
