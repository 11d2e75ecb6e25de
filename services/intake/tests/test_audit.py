"""Intake's audit trail: the first, unkeyed log carried into the keyed trail; the check's CLI."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from durchstarten import audit
from durchstarten.db.migrate import PLATFORM_MIGRATIONS, migrate

pytestmark = [pytest.mark.integration, pytest.mark.database]

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
KEYED = "0005_audit_trail_keyed.sql"


async def test_the_first_log_moves_into_the_keyed_trail_and_tampering_is_found(
    fresh_database_url: str, tmp_path: Path
) -> None:
    before = tmp_path / "migrations"
    before.mkdir()
    for path in MIGRATIONS.glob("*.sql"):
        if path.name < KEYED:
            shutil.copy(path, before / path.name)
    connection = await asyncpg.connect(fresh_database_url)
    try:
        # An intake of the first versions, with three entries in its unkeyed log.
        await migrate(connection, {"platform": PLATFORM_MIGRATIONS, "intake": before})
        people = [uuid.uuid4() for _ in range(3)]
        await connection.executemany(
            "INSERT INTO audit_log (at, actor, action, participant_id, purpose, prev_hash, hash)"
            " VALUES (now() - $1::int * interval '1 day', $2, 'identity.read', $3, 'review',"
            " '\\x00', '\\x00')",
            [(3 - n, f"coordinator-{n}", person) for n, person in enumerate(people)],
        )
        await migrate(connection, {"platform": PLATFORM_MIGRATIONS, "intake": MIGRATIONS})
        assert await connection.fetchval("SELECT to_regclass('audit_log')") is None
        moved = await connection.fetch("SELECT * FROM audit_trail ORDER BY seq")
        assert [(e["actor"], e["participant_id"]) for e in moved] == [
            (f"coordinator-{n}", person) for n, person in enumerate(people)
        ]
        assert moved[0]["at"] < moved[1]["at"] < moved[2]["at"]  # the times came along
        async with connection.transaction():
            await audit.record(
                connection, actor="new", action="identity.write", participant_id=None, purpose="p"
            )
        checked = await audit.verify(connection)
        assert (checked.entries, checked.intact) == (4, True)

        # A superuser goes around every privilege: the check still gives it away.
        await connection.execute("UPDATE audit_trail SET purpose = 'nothing to see' WHERE seq = 3")
        assert (await audit.verify(connection)).first_broken_seq == 3
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
