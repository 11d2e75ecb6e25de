"""The migration runner against the real PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from durchstarten.db.migrate import PLATFORM_MIGRATIONS, MigrationError, load_migrations, migrate

pytestmark = pytest.mark.integration


def write(directory: Path, name: str, sql: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(sql)


async def test_migrations_apply_once_in_order(fresh_database_url: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id integer PRIMARY KEY);")
    write(tmp_path, "0002_more.sql", "ALTER TABLE things ADD COLUMN label text;")
    connection = await asyncpg.connect(fresh_database_url)
    try:
        scopes = {"platform": PLATFORM_MIGRATIONS, "svc": tmp_path}
        first = await migrate(connection, scopes)
        platform = [f"platform/{p.stem}" for p in sorted(PLATFORM_MIGRATIONS.glob("*.sql"))]
        assert first == [*platform, "svc/0001_things", "svc/0002_more"]
        assert await migrate(connection, scopes) == []
        await connection.execute("INSERT INTO things (id, label) VALUES (1, 'x')")
        assert await connection.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await connection.close()


async def test_an_edited_applied_migration_is_refused(
    fresh_database_url: str, tmp_path: Path
) -> None:
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id integer);")
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await migrate(connection, {"svc": tmp_path})
        write(tmp_path, "0001_things.sql", "CREATE TABLE things (id bigint);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(connection, {"svc": tmp_path})
    finally:
        await connection.close()


async def test_a_failing_migration_leaves_nothing_half_applied(
    fresh_database_url: str, tmp_path: Path
) -> None:
    write(tmp_path, "0001_bad.sql", "CREATE TABLE ok (id integer); SELECT no_such_function();")
    connection = await asyncpg.connect(fresh_database_url)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate(connection, {"svc": tmp_path})
        assert await connection.fetchval("SELECT to_regclass('ok')") is None
        assert await connection.fetchval("SELECT count(*) FROM schema_migrations") == 0
    finally:
        await connection.close()


async def test_instances_starting_together_migrate_exactly_once(
    fresh_database_url: str, tmp_path: Path
) -> None:
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id integer);")
    connections = [await asyncpg.connect(fresh_database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c, {"svc": tmp_path}) for c in connections))
        assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    finally:
        for connection in connections:
            await connection.close()


def test_misnamed_migration_files_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "1_things.sql", "SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN"):
        load_migrations("svc", tmp_path)
