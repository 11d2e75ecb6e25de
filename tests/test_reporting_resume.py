"""Reporting restored from an older backup reads again what the backup lacks, once.

Kafka's group offset says the projection is at the end of every partition; the restored
database says it is not. Reporting resumes from the database's checkpoints, so the events
the backup lacks are applied again, and those it holds are not applied twice.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from tests.support import (
    FRESH_REPORTS,
    projected_ids,
    register_accepted,
    reporting_connection,
    wait_projected,
)

from durchstarten_deploy.stack import ServiceProcess, Stack
from durchstarten_deploy.testing import TEST_PROVIDERS

pytestmark = pytest.mark.integration

ALPHA, _ = TEST_PROVIDERS


async def _tables(connection: Any) -> list[str]:
    schema = await connection.fetchval("SELECT current_schema()")
    rows = await connection.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", schema
    )
    return [f"{schema}.{row['tablename']}" for row in rows]


async def test_a_projection_restored_from_an_older_backup_catches_up_exactly_once(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    before_backup = await register_accepted(stack, ALPHA, 3)
    await wait_projected(stack, before_backup, what="the first participants projected")

    services["reporting"].stop()
    connection = await reporting_connection(stack)
    try:
        tables = await _tables(connection)
        for table in tables:  # the "backup": a copy of every table of the live version
            await connection.execute(
                f"CREATE TEMP TABLE {table.replace('.', '_')}_backup AS TABLE {table}"
            )
        stack.start_service("reporting", extra_env=FRESH_REPORTS)
        after_backup = await register_accepted(stack, ALPHA, 3)
        await wait_projected(stack, after_backup, what="the later participants projected")
        services["reporting"].stop()

        async with connection.transaction():  # the "restore"
            await connection.execute(f"TRUNCATE {', '.join(tables)}")
            for table in tables:
                await connection.execute(
                    f"INSERT INTO {table} TABLE {table.replace('.', '_')}_backup"
                )
        restored = set(await projected_ids(stack))
        assert before_backup <= restored
        assert not after_backup & restored  # the restore really lost them
    finally:
        await connection.close()
        if stack.services["reporting"].process.poll() is not None:
            stack.start_service("reporting", extra_env=FRESH_REPORTS)

    # Kafka's group offsets are past every one of these events; only the checkpoints
    # in the database can bring them back.
    await wait_projected(stack, after_backup, what="the lost participants read again")
    counted = Counter(await projected_ids(stack))
    assert all(counted[p] == 1 for p in before_backup | after_backup)
