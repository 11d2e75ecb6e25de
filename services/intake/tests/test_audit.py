"""The audit trail's hash chain against the real PostgreSQL, including tampering."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from durchstarten.db.migrate import PLATFORM_MIGRATIONS, migrate
from intake import audit

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


async def test_the_chain_holds_and_tampering_is_detected(fresh_database_url: str) -> None:
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await migrate(connection, {"platform": PLATFORM_MIGRATIONS, "intake": MIGRATIONS})
        for number in range(5):
            async with connection.transaction():
                await audit.record(
                    connection,
                    actor=f"coordinator-{number}",
                    action="identity.read",
                    participant_id=uuid.uuid4(),
                    purpose="case review",
                )
        assert (await audit.verify(connection)).intact
        assert (await audit.verify(connection)).entries == 5

        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await connection.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3")
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await connection.execute("DELETE FROM audit_log WHERE seq = 4")

        # A superuser can switch the trigger off: the chain still gives it away.
        await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
        await connection.execute("UPDATE audit_log SET purpose = 'nothing to see' WHERE seq = 3")
        result = await audit.verify(connection)
        assert not result.intact
        assert result.first_broken_seq == 3

        command = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "intake.verify_audit",
            env={**os.environ, "DURCHSTARTEN_DATABASE_URL": fresh_database_url},
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(command.communicate(), timeout=60)
        assert command.returncode == 1
        assert "BROKEN at entry 3" in stderr.decode()
    finally:
        await connection.close()


async def test_a_deleted_entry_breaks_the_chain(fresh_database_url: str) -> None:
    connection = await asyncpg.connect(fresh_database_url)
    try:
        await migrate(connection, {"platform": PLATFORM_MIGRATIONS, "intake": MIGRATIONS})
        for _ in range(3):
            async with connection.transaction():
                await audit.record(
                    connection, actor="a", action="identity.write", participant_id=None, purpose="p"
                )
        await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
        await connection.execute("DELETE FROM audit_log WHERE seq = 2")
        assert (await audit.verify(connection)).first_broken_seq == 3
    finally:
        await connection.close()
