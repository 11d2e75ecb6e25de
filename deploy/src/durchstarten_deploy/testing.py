"""pytest plugin: the real Kafka broker and PostgreSQL, started once per test session.

Set `DATABASE_URL` to use an existing PostgreSQL server (databases with a unique prefix are
created and dropped again) and `DURCHSTARTEN_TEST_KAFKA` to use an existing broker;
otherwise both are started from the machine's PostgreSQL binaries and Maven Central's jars.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator

import asyncpg
import pytest
import pytest_asyncio

from durchstarten_deploy.postgres import create_databases, with_database
from durchstarten_deploy.stack import Stack, unique_prefix

TEST_PROVIDERS = ("test-alpha", "test-beta")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Kafka + PostgreSQL + topics + one database per service, for the whole session."""
    external_db = os.environ.get("DATABASE_URL")
    started = Stack(
        state_dir=tmp_path_factory.mktemp("stack"),
        database_url=external_db,
        kafka_bootstrap=os.environ.get("DURCHSTARTEN_TEST_KAFKA"),
        providers=TEST_PROVIDERS,
        database_prefix=unique_prefix() if external_db else "durchstarten",
    )
    try:
        started.start_infrastructure()
        yield started
    finally:
        started.stop()
        if external_db:
            asyncio.run(drop_databases(external_db, started.database_prefix))


async def drop_databases(admin_url: str, prefix: str) -> None:
    """Drop every database whose name starts with `prefix_` (a test session's own)."""
    connection = await asyncpg.connect(admin_url)
    try:
        names = await connection.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", f"{prefix}\\_%"
        )
        for row in names:
            await connection.execute(f'DROP DATABASE "{row["datname"]}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest_asyncio.fixture
async def fresh_database_url(stack: Stack) -> str:
    """URL of a new, empty database for one test."""
    name = f"{stack.database_prefix}_t_{secrets.token_hex(4)}"
    await create_databases(stack.admin_url, [name])
    return with_database(stack.admin_url, name)
