"""Master-key rotation on the real PostgreSQL: resumable, and never a key left unreadable."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr

from durchstarten.events import RegisterParticipant
from durchstarten.service import ServiceRuntime
from intake import keystore, repository
from intake.app import MIGRATIONS
from intake.handlers import SERVICE
from intake.identities import KeyRing
from intake.keystore import KeyStore
from intake.rotation import RotationRefused, check_configured, rotate
from intake.settings import IntakeSettings
from intake.vault import LEGACY_KEY_ID, UnknownVaultKey, Vault, derived_index_key, new_vault_key

pytestmark = [pytest.mark.integration, pytest.mark.database]  # PostgreSQL only, no broker

PEOPLE = 5


async def _seeded(
    url: str, pool: asyncpg.Pool, keys: KeyStore, vault: Vault
) -> dict[uuid.UUID, dict[str, Any]]:
    """Five registrations sealed by `vault`, stored as intake stores them."""
    settings = IntakeSettings(
        database_url=SecretStr(url),
        key_store_url=SecretStr(url),  # unused: the test opens the key store itself
        vault_key=SecretStr(new_vault_key()),
    )
    runtime = ServiceRuntime(
        service=SERVICE, settings=settings, migrations=MIGRATIONS, with_outbox_relay=False
    )
    await runtime.attach_database(pool)  # intake's schema, migrations included
    command = RegisterParticipant.model_validate(RegisterParticipant.example)
    people: dict[uuid.UUID, dict[str, Any]] = {}
    async with pool.acquire() as connection:
        for number in range(PEOPLE):
            pid = uuid.uuid4()
            await repository.insert_participant(
                connection,
                participant_id=pid,
                provider="test-alpha",
                command_id=f"command-{number}",
                status="registered",
                programme="durchstarten",
                command=command,
                failed_rules=[],
                pending_event=None,
                county="05758",
            )
            identity = {"given_name": f"Testvorname{number}", "family_name": "Familientestname"}
            sealed = vault.seal(pid, identity)
            await keys.put(pid, sealed.wrapped_key)
            await repository.store_identity(connection, pid, sealed.nonce, sealed.ciphertext, [])
            people[pid] = identity
    return people


async def _opened(
    pool: asyncpg.Pool, keys: KeyStore, vault: Vault, people: list[uuid.UUID]
) -> list[Any]:
    async with pool.acquire() as connection:
        opened = await KeyRing(vault, keys).open(connection, people)
    return [opened[pid].fields for pid in people]


async def test_an_interrupted_rotation_leaves_every_key_readable_and_resumes(
    fresh_database_url: str,
    fresh_pool: asyncpg.Pool,
    key_store: KeyStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old, new, index = new_vault_key(), new_vault_key(), derived_index_key(new_vault_key())
    people = await _seeded(
        fresh_database_url, fresh_pool, key_store, Vault(old, index_key_b64=index)
    )
    ids = sorted(people)
    rotating = Vault(new, key_id="k2", retired={LEGACY_KEY_ID: old}, index_key_b64=index)

    # A crash in the middle of a batch: after the new keys are written, before the commit.
    real_store = keystore.store_rewrapped

    async def crash(*args: Any, **kwargs: Any) -> None:
        await real_store(*args, **kwargs)
        raise ConnectionResetError("killed mid-batch")

    monkeypatch.setattr(keystore, "store_rewrapped", crash)
    with pytest.raises(ConnectionResetError):
        await rotate(key_store, rotating, batch_size=2)
    monkeypatch.setattr(keystore, "store_rewrapped", real_store)
    assert await key_store.keys_by_master() == {LEGACY_KEY_ID: PEOPLE}  # rolled back, all old
    assert await _opened(fresh_pool, key_store, Vault(old, index_key_b64=index), ids) == [
        people[p] for p in ids
    ]

    # Stopped after one batch: some keys under each master, every one readable.
    first = await rotate(key_store, rotating, batch_size=2, max_batches=1)
    assert (first.rewrapped, first.remaining) == (2, {LEGACY_KEY_ID: PEOPLE - 2})
    assert await _opened(fresh_pool, key_store, rotating, ids) == [people[p] for p in ids]
    without_old = Vault(new, key_id="k2", index_key_b64=index)
    with pytest.raises(UnknownVaultKey, match="k1"):
        await check_configured(key_store, without_old)  # intake refuses to start so

    # Run again: it goes on where it stopped, and the old master is no longer needed.
    rest = await rotate(key_store, rotating, batch_size=2)
    assert (rest.rewrapped, rest.remaining) == (PEOPLE - 2, {})
    assert await key_store.keys_by_master() == {"k2": PEOPLE}
    await check_configured(key_store, without_old)
    assert await _opened(fresh_pool, key_store, without_old, ids) == [people[p] for p in ids]
    # The old master alone opens nothing any more.
    with pytest.raises(UnknownVaultKey):
        await _opened(fresh_pool, key_store, Vault(old, index_key_b64=index), ids)


async def test_a_rotation_is_refused_while_the_index_key_derives_from_the_vault_key(
    fresh_database_url: str, fresh_pool: asyncpg.Pool, key_store: KeyStore
) -> None:
    old = new_vault_key()
    await _seeded(fresh_database_url, fresh_pool, key_store, Vault(old))
    with pytest.raises(RotationRefused, match="DURCHSTARTEN_BLIND_INDEX_KEY"):
        await rotate(key_store, Vault(old))  # the index key still derived from it
    assert await key_store.keys_by_master() == {LEGACY_KEY_ID: PEOPLE}


async def test_two_rotations_at_once_share_the_work_and_rewrap_each_key_once(
    fresh_database_url: str, fresh_pool: asyncpg.Pool, key_store: KeyStore
) -> None:
    old, new, index = new_vault_key(), new_vault_key(), derived_index_key(new_vault_key())
    people = await _seeded(
        fresh_database_url, fresh_pool, key_store, Vault(old, index_key_b64=index)
    )
    rotating = Vault(new, key_id="k2", retired={LEGACY_KEY_ID: old}, index_key_b64=index)
    first, second = await asyncio.gather(
        rotate(key_store, rotating, batch_size=1), rotate(key_store, rotating, batch_size=1)
    )
    # A key locked by one run is skipped by the other, and once moved it is not picked again.
    assert first.rewrapped + second.rewrapped == PEOPLE
    assert await key_store.keys_by_master() == {"k2": PEOPLE}
    ids = sorted(people)
    only_new = Vault(new, key_id="k2", index_key_b64=index)
    assert await _opened(fresh_pool, key_store, only_new, ids) == [people[p] for p in ids]
