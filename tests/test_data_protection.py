"""Data protection on the running stack: what the services' own database roles may not do."""

from __future__ import annotations

import asyncpg
import pytest

from durchstarten_deploy.stack import SPLIT_ROLES, ServiceProcess, Stack

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", SPLIT_ROLES)
async def test_the_service_role_cannot_update_delete_or_truncate_its_audit_trail(
    stack: Stack, services: dict[str, ServiceProcess], service: str
) -> None:
    assert services[service].ready()  # the service runs with these very credentials
    env = stack.service_env(service, 0)
    connection = await asyncpg.connect(env["DURCHSTARTEN_DATABASE_URL"])
    try:
        assert (
            await connection.fetchval("SELECT current_user")
            == f"{stack.database_name(service)}_app"
        )
        for attack in (
            "UPDATE audit_trail SET purpose = 'nothing to see'",
            "DELETE FROM audit_trail",
            "TRUNCATE audit_trail",
            "SELECT key FROM audit_key",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(attack)
        checked = await connection.fetchrow("SELECT * FROM audit_verify()")
        assert checked["first_broken_seq"] is None
    finally:
        await connection.close()
