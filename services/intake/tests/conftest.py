"""Intake's fixtures: the key store (a database of its own beside intake's), the handlers."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import pytest_asyncio
from pydantic import SecretStr

from durchstarten.clock import Clock
from durchstarten.service import ServiceRuntime
from durchstarten_deploy.postgres import create_databases, with_database
from durchstarten_deploy.testing import TEST_PROVIDERS, PostgresServer, counties_for_tests
from intake.app import MIGRATIONS
from intake.eligibility import BUILT_IN, load_programmes
from intake.handlers import SERVICE, IntakeHandlers
from intake.identities import KeyRing
from intake.keystore import KeyStore
from intake.settings import IntakeSettings
from intake.vault import Vault, new_vault_key

TODAY = date(2022, 6, 1)
"""The handlers' today (their clock is fixed)."""


@pytest_asyncio.fixture
async def key_store_url(postgres_server: PostgresServer) -> str:
    """URL of a new, empty database for one test's key store."""
    name = f"{postgres_server.database_prefix}_k_{secrets.token_hex(4)}"
    await create_databases(postgres_server.admin_url, [name])
    return with_database(postgres_server.admin_url, name)


@pytest_asyncio.fixture
async def key_store(key_store_url: str) -> AsyncIterator[KeyStore]:
    """An open key store on its own database; closed after the test."""
    store = KeyStore(key_store_url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest_asyncio.fixture
async def handlers(
    fresh_database_url: str, fresh_pool: asyncpg.Pool, key_store: KeyStore
) -> IntakeHandlers:
    """Intake's command side on a fresh database and key store, without a broker."""
    key = new_vault_key()
    settings = IntakeSettings(
        database_url=SecretStr(fresh_database_url),
        key_store_url=SecretStr(fresh_database_url),  # unused: the fixture's store is open
        providers=list(TEST_PROVIDERS),
        counties_dir=counties_for_tests(),
        vault_key=SecretStr(key),
    )
    runtime = ServiceRuntime(
        service=SERVICE, settings=settings, migrations=MIGRATIONS, with_outbox_relay=True
    )
    await runtime.attach_database(fresh_pool)
    return IntakeHandlers(
        runtime,
        clock=Clock(TODAY),
        ring=KeyRing(Vault(key), key_store),
        programmes=load_programmes(BUILT_IN),
        active_programmes=["durchstarten", "kim"],
    )
