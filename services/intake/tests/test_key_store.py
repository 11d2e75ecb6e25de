"""The key store apart from intake's data: erasure reaches a backup, a crash loses no key.

An adversary here holds a copy of intake's database taken before an erasure (a backup, a
dump) and everything that remains afterwards: the key store, the master keys, the service.
"""

from __future__ import annotations

import random
import secrets
import subprocess
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from durchstarten.db.pool import create_pool
from durchstarten.events import RegisterParticipant
from durchstarten_deploy.postgres import create_databases, find_bin_dir, with_database
from durchstarten_deploy.testing import (
    TEST_PROVIDERS,
    PostgresServer,
    fetch_rows,
    outbox_messages,
    send_command,
)
from intake import repository
from intake.handlers import IntakeHandlers
from intake.identities import KeyRing
from intake.keystore import IN_FLIGHT
from intake.vault import WrappedKey

pytestmark = [pytest.mark.integration, pytest.mark.database]  # PostgreSQL only, no broker

ALPHA = TEST_PROVIDERS[0]
REGISTER = RegisterParticipant.command_type


def someone() -> dict[str, Any]:
    """A registration of a new person (random names, so nobody matches another)."""
    suffix = "".join(random.choice("bcdfgklmnprstvwz") for _ in range(8))  # names, not secrets
    return {
        **RegisterParticipant.example,
        "given_name": f"Markervorname{suffix}",
        "family_name": f"Markerfamilie{suffix[::-1]}",
        "provider_reference": f"REF-{suffix}",
    }


async def register(handlers: IntakeHandlers) -> uuid.UUID:
    """Register someone new with the first test provider; their pseudonym."""
    _, outcome = await send_command(handlers, REGISTER, ALPHA, someone())
    assert outcome.status == "accepted", outcome
    assert outcome.decision is not None
    assert outcome.decision.participant is not None
    return outcome.decision.participant


async def erase(handlers: IntakeHandlers, participant: uuid.UUID) -> str:
    """Ask for the erasure as the registering provider; the outcome's status."""
    data = {"participant_id": str(participant), "reason": "participant-request"}
    _, outcome = await send_command(handlers, "request-erasure.v1", ALPHA, data)
    return outcome.status


def pg_tool(name: str, *args: str) -> None:
    """Run PostgreSQL's own client tool (pg_dump, pg_restore) of the server's installation."""
    result = subprocess.run(  # our own command line
        [str(find_bin_dir() / name), *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


async def restored(postgres_server: PostgresServer, dump: str) -> asyncpg.Pool:
    """A new database holding what `dump` holds, as a restore from the backup would make it."""
    name = f"{postgres_server.database_prefix}_r_{secrets.token_hex(4)}"
    await create_databases(postgres_server.admin_url, [name])
    url = with_database(postgres_server.admin_url, name)
    pg_tool("pg_restore", "--no-owner", f"--dbname={url}", dump)
    return await create_pool(url, min_size=1, max_size=2)


def every_key_that_remains(rows: list[dict[str, Any]], ring: KeyRing) -> list[bytes]:
    """Every participant key the key store still holds, unwrapped with the master keys."""
    opened = []
    for row in rows:
        wrapped = WrappedKey(row["key_id"], row["wrapped_key"])
        opened.append(ring.vault._unwrap(row["participant_id"], wrapped))  # the adversary's view
    return opened


async def test_a_dump_taken_before_an_erasure_no_longer_decrypts_afterwards(
    handlers: IntakeHandlers,
    fresh_database_url: str,
    postgres_server: PostgresServer,
    tmp_path: Any,
) -> None:
    ring = handlers.ring
    marker, bystander = await register(handlers), await register(handlers)
    dump = str(tmp_path / "intake-before-erasure.dump")
    pg_tool("pg_dump", "--format=custom", f"--file={dump}", f"--dbname={fresh_database_url}")
    # The positive control: before the erasure, the dump opens with the key store.
    before = await restored(postgres_server, dump)
    try:
        async with before.acquire() as connection:
            opened = await ring.open(connection, [marker, bystander])
        assert set(opened) == {marker, bystander}
        assert opened[marker].fields["given_name"].startswith("Markervorname")
        # The keys came from the key store: the dump itself holds none.
        assert await before.fetchval("SELECT to_regclass('participant_keys')") is None
        assert await before.fetchval("SELECT count(*) FROM legacy_participant_keys") == 0
    finally:
        await before.close()

    assert await erase(handlers, marker) == "accepted"

    after = await restored(postgres_server, dump)
    try:
        async with after.acquire() as connection:
            # Through the service's own path: the marker's ciphertext is there, its key is not.
            opened = await ring.open(connection, [marker, bystander])
            assert set(opened) == {bystander}
            (box,) = await connection.fetch(
                "SELECT nonce, ciphertext FROM identities WHERE participant_id = $1", marker
            )
    finally:
        await after.close()
    # And by force: every key that remains, tried on the marker's ciphertext.
    remaining = await fetch_rows(ring.keys.pool, "SELECT * FROM participant_keys")
    assert [row["participant_id"] for row in remaining] == [bystander]
    for key in every_key_that_remains(remaining, ring):
        with pytest.raises(InvalidTag):
            AESGCM(key).decrypt(box["nonce"], box["ciphertext"], marker.bytes)


async def test_an_erasure_killed_after_the_key_went_is_finished_by_the_command_again(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = await register(handlers)
    real_erase = repository.erase

    async def killed(*_args: Any) -> None:
        raise ConnectionResetError("killed between the key store and intake's commit")

    monkeypatch.setattr(repository, "erase", killed)
    with pytest.raises(ConnectionResetError):
        await erase(handlers, marker)
    monkeypatch.setattr(repository, "erase", real_erase)
    # The key went first: nothing opens the identity any more, though intake's transaction
    # rolled back and the erasure is not yet announced.
    assert await handlers.ring.keys.get([marker]) == {}
    async with fresh_pool.acquire() as connection:
        assert await handlers.ring.open(connection, [marker]) == {}
    # The command, delivered again, finishes: ciphertext gone, announced once.
    assert await erase(handlers, marker) == "accepted"
    assert await fetch_rows(fresh_pool, "SELECT 1 FROM identities") == []
    (row,) = await fetch_rows(fresh_pool, "SELECT status FROM participants")
    assert row["status"] == "erased"
    announced = [m.type for m in await outbox_messages(fresh_pool)]
    assert announced.count("participant.erased.v1") == 1


async def test_a_registration_killed_before_its_commit_leaves_a_key_the_sweep_removes(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = await register(handlers)
    real_store = repository.store_identity

    async def killed(*_args: Any) -> None:
        raise ConnectionResetError("killed between the key store and intake's commit")

    monkeypatch.setattr(repository, "store_identity", killed)
    with pytest.raises(ConnectionResetError):
        await register(handlers)
    monkeypatch.setattr(repository, "store_identity", real_store)
    keys = handlers.ring.keys
    stored = await fetch_rows(keys.pool, "SELECT participant_id FROM participant_keys")
    (orphan,) = {row["participant_id"] for row in stored} - {kept}
    assert (
        await fetch_rows(fresh_pool, "SELECT 1 FROM participants WHERE participant_id = $1", orphan)
        == []
    )

    # Young, it may belong to a registration in flight: the sweep leaves it.
    assert (await keys.sweep(fresh_pool)).destroyed == 0
    await keys.pool.execute(
        "UPDATE participant_keys SET stored_at = stored_at - $1::interval",
        IN_FLIGHT + timedelta(minutes=1),
    )
    swept = await keys.sweep(fresh_pool)
    assert swept.destroyed == 1
    assert set(await keys.get([kept, orphan])) == {kept}
    async with fresh_pool.acquire() as connection:
        assert set(await handlers.ring.open(connection, [kept])) == {kept}


async def test_a_key_store_restored_from_before_an_erasure_is_swept_at_the_start(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    marker, bystander = await register(handlers), await register(handlers)
    keys = handlers.ring.keys
    backup = await fetch_rows(keys.pool, "SELECT * FROM participant_keys")
    assert await erase(handlers, marker) == "accepted"
    # The key store comes back from a backup older than the erasure: the marker's key too.
    await keys.pool.execute("DELETE FROM participant_keys")
    await keys.pool.executemany(
        "INSERT INTO participant_keys (participant_id, key_id, wrapped_key, stored_at)"
        " VALUES ($1, $2, $3, $4::timestamptz - $5::interval)",
        [
            (r["participant_id"], r["key_id"], r["wrapped_key"], r["stored_at"], IN_FLIGHT * 2)
            for r in backup
        ],
    )
    assert set(await keys.get([marker, bystander])) == {marker, bystander}
    assert (await keys.sweep(fresh_pool)).destroyed == 1  # what every start runs
    assert set(await keys.get([marker, bystander])) == {bystander}


async def test_keys_the_first_versions_kept_in_intake_move_to_the_key_store(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    person = await register(handlers)
    keys = handlers.ring.keys
    (row,) = await fetch_rows(keys.pool, "SELECT * FROM participant_keys")
    # As an intake of the first versions left it: the key in intake's own database.
    await keys.pool.execute("DELETE FROM participant_keys")
    await fresh_pool.execute(
        "INSERT INTO legacy_participant_keys (participant_id, key_id, wrapped_key)"
        " VALUES ($1, $2, $3)",
        person,
        row["key_id"],
        row["wrapped_key"],
    )
    swept = await keys.sweep(fresh_pool)
    assert (swept.adopted, swept.destroyed) == (1, 0)
    assert await fetch_rows(fresh_pool, "SELECT 1 FROM legacy_participant_keys") == []
    async with fresh_pool.acquire() as connection:
        assert set(await handlers.ring.open(connection, [person])) == {person}
    assert (await keys.sweep(fresh_pool)).adopted == 0  # once moved, moved
