"""The audit trail against the real PostgreSQL, as an adversary holding the service's role.

The service works as its runtime role; the database's owner ran the migrations. With the
runtime role's credentials nothing changes, removes, forges or backdates an entry, and the
trail's key cannot be read; what the owner (or a superuser) does behind the service's back
is detected: a changed entry, and entries deleted from the end.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from pydantic import SecretStr

from durchstarten import audit
from durchstarten.db.pool import create_pool
from durchstarten.service import ServiceRuntime
from durchstarten.settings import ServiceSettings
from durchstarten_deploy.postgres import ServiceRoles, create_databases, create_service_roles
from durchstarten_deploy.testing import PostgresServer

pytestmark = [pytest.mark.integration, pytest.mark.database]  # PostgreSQL only, no broker

REFUSED = asyncpg.InsufficientPrivilegeError


async def verified(pool: asyncpg.Pool) -> audit.Verification:
    """The trail's check, as the service runs it."""
    async with pool.acquire() as connection:
        return await audit.verify(connection)


@pytest_asyncio.fixture
async def roles(postgres_server: PostgresServer) -> AsyncIterator[ServiceRoles]:
    """A database with an owner and a runtime role, as the stack and compose make them."""
    name = f"{postgres_server.database_prefix}_a_{secrets.token_hex(4)}"
    await create_databases(postgres_server.admin_url, [name])
    made = await create_service_roles(
        postgres_server.admin_url,
        name,
        owner_password=secrets.token_urlsafe(16),
        runtime_password=secrets.token_urlsafe(16),
    )
    yield made
    admin = await asyncpg.connect(postgres_server.admin_url)
    try:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE "{name}_app"')
        await admin.execute(f'DROP ROLE "{name}_owner"')
    finally:
        await admin.close()


@pytest_asyncio.fixture
async def runtime_pool(roles: ServiceRoles, tmp_path: Path) -> AsyncIterator[asyncpg.Pool]:
    """The runtime role's pool on a database the owner migrated (the platform's schema)."""
    settings = ServiceSettings(
        database_url=SecretStr(roles.runtime_url),
        database_owner_url=SecretStr(roles.owner_url),
    )
    runtime = ServiceRuntime(
        service="audited", settings=settings, migrations=tmp_path, with_outbox_relay=False
    )
    pool = await create_pool(roles.runtime_url, min_size=1, max_size=2)
    try:
        await runtime.attach_database(pool)
        yield pool
    finally:
        await pool.close()


async def append(pool: asyncpg.Pool, count: int) -> list[uuid.UUID]:
    """`count` entries, each about a participant of its own, each in its own transaction."""
    people = [uuid.uuid4() for _ in range(count)]
    for number, person in enumerate(people):
        async with pool.acquire() as connection, connection.transaction():
            await audit.record(
                connection,
                actor=f"coordinator-{number}",
                action="identity.read",
                participant_id=person,
                purpose="case review",
            )
    return people


async def test_the_runtime_role_can_neither_change_nor_forge_nor_read_the_key(
    runtime_pool: asyncpg.Pool,
) -> None:
    people = await append(runtime_pool, 3)
    checked = await verified(runtime_pool)
    assert (checked.entries, checked.head_seq, checked.intact) == (3, 3, True)
    async with runtime_pool.acquire() as connection:
        assert [e["actor"] for e in await audit.entries_about(connection, people[1])] == [
            "coordinator-1"
        ]
        for attack in (
            "UPDATE audit_trail SET purpose = 'nothing to see' WHERE seq = 2",
            "DELETE FROM audit_trail WHERE seq = 3",
            "TRUNCATE audit_trail",
            "INSERT INTO audit_trail VALUES (4, now(), 'x', 'y', NULL, 'z', '\\x00', '\\x00')",
            "SELECT key FROM audit_key",
            "UPDATE audit_head SET seq = 2",
            "SELECT audit_chain(now() - interval '1 year', 'x', 'y', NULL, 'backdated')",
            "DROP TABLE audit_trail",
            "ALTER TABLE audit_trail DISABLE TRIGGER ALL",
            "CREATE TABLE audit_trail_copy (seq bigint)",
            "UPDATE schema_migrations SET checksum = 'x'",
        ):
            with pytest.raises(REFUSED):
                await connection.execute(attack)
        # The positive control: the service's own tables are its to work with.
        await connection.execute(
            "INSERT INTO processed_messages (consumer, message_id) VALUES ('c', 'm')"
        )
        await connection.execute("DELETE FROM processed_messages")
    after = await verified(runtime_pool)
    assert (after.entries, after.intact) == (3, True)


async def test_what_the_owner_does_behind_the_services_back_is_detected(
    roles: ServiceRoles, runtime_pool: asyncpg.Pool
) -> None:
    await append(runtime_pool, 5)
    owner = await asyncpg.connect(roles.owner_url)
    try:
        # The newest two entries deleted: the rest of the chain is whole, the head is not.
        await owner.execute("DELETE FROM audit_trail WHERE seq >= 4")
        truncated = await verified(runtime_pool)
        assert (truncated.entries, truncated.head_seq) == (3, 5)
        assert truncated.first_broken_seq == 4
        # An entry rewritten, even with a MAC recomputed without the key, breaks there.
        await owner.execute(
            "UPDATE audit_trail SET purpose = 'nothing to see',"
            " mac = sha256(mac || 'forged'::bytea) WHERE seq = 2"
        )
        assert (await verified(runtime_pool)).first_broken_seq == 2
    finally:
        await owner.close()


async def test_entries_past_the_plans_period_go_from_the_oldest_end_and_the_rest_verifies(
    roles: ServiceRoles, runtime_pool: asyncpg.Pool
) -> None:
    owner = await asyncpg.connect(roles.owner_url)
    try:
        # The shipped plan's period is set at start (two years); entries made three and one
        # year ago, as a re-chained older trail would have them (only the owner can date).
        assert await owner.fetchval("SELECT keep FROM audit_policy") == timedelta(days=730)
        for years in (3, 3, 1):
            await owner.execute(
                "SELECT audit_chain(now() - make_interval(years => $1), 'c', 'identity.read',"
                " NULL, 'old case review')",
                years,
            )
    finally:
        await owner.close()
    await append(runtime_pool, 2)
    async with runtime_pool.acquire() as connection:
        for attack in (
            "UPDATE audit_policy SET keep = interval '1 second'",
            "UPDATE audit_base SET seq = 4",
        ):
            with pytest.raises(REFUSED):
                await connection.execute(attack)
        assert await audit.purge(connection) == 2  # the two of three years ago
        assert await audit.purge(connection) == 0  # nothing else is old enough
        left = [row["seq"] for row in await connection.fetch("SELECT seq FROM audit_trail")]
    assert sorted(left) == [3, 4, 5]
    checked = await verified(runtime_pool)
    assert (checked.entries, checked.head_seq, checked.intact) == (3, 5, True)
    # Removing an entry by hand is still found, in the middle as at the end.
    owner = await asyncpg.connect(roles.owner_url)
    try:
        await owner.execute("DELETE FROM audit_trail WHERE seq = 4")
    finally:
        await owner.close()
    broken = await verified(runtime_pool)
    assert broken.first_broken_seq == 4


async def test_a_trail_kept_forever_loses_nothing_to_the_purge(
    roles: ServiceRoles, runtime_pool: asyncpg.Pool
) -> None:
    owner = await asyncpg.connect(roles.owner_url)
    try:
        await audit.set_retention(owner, None)  # a county's plan: "forever"
        await owner.execute(
            "SELECT audit_chain(now() - interval '30 years', 'c', 'a', NULL, 'very old')"
        )
    finally:
        await owner.close()
    async with runtime_pool.acquire() as connection:
        assert await audit.purge(connection) == 0
    assert (await verified(runtime_pool)).entries == 1
