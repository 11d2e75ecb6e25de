"""The key store: every participant's own key, wrapped, in a database apart from intake's.

Intake's database holds the ciphertext, the key store the keys that open it, so a backup of
intake's data taken before an erasure stays noise once the key is destroyed here. The two
databases are written in an order that never loses a key a ciphertext needs: a new key is
stored (and committed) before the transaction that stores its ciphertext, and on erasure the
key goes first, before the ciphertext. What a crash can leave behind is a key without a
ciphertext; `sweep` destroys those once they are older than any registration in flight,
which also undoes an erasure that a restored key-store backup brought back.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg

from durchstarten.db.migrate import migrate
from durchstarten.db.pool import create_pool
from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.logging import get_logger
from intake.vault import WrappedKey

SQL = SqlFiles(Path(__file__).parent / "keystore_db")
INTAKE_SQL = SqlFiles(Path(__file__).parent / "db")
MIGRATIONS = Path(__file__).resolve().parents[2] / "keystore_migrations"
SCOPE = "keystore"
IN_FLIGHT = timedelta(hours=1)
"""A key younger than this may belong to a registration whose transaction is still open."""
_BATCH = 5000

log = get_logger(__name__)


@dataclass(frozen=True)
class Sweep:
    """What a sweep did: keys moved in from intake's table, keys that opened nothing destroyed."""

    adopted: int
    destroyed: int


class KeyStore:
    """Participant keys in their own database; every method commits on its own connection."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 4) -> None:
        """The key store at `url`; nothing connects before `open`."""
        self._url = url
        self._sizes = (min_size, max_size)
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        """The key store's connection pool, once open."""
        if self._pool is None:
            msg = "the key store is not open"
            raise RuntimeError(msg)
        return self._pool

    async def open(self) -> None:
        """Connect and bring the key store's schema to the newest version."""
        pool = await create_pool(self._url, min_size=self._sizes[0], max_size=self._sizes[1])
        try:
            async with pool.acquire() as connection:
                await migrate(connection, {SCOPE: MIGRATIONS})
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        """Close the pool (a store never opened closes quietly)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def put(self, participant_id: uuid.UUID, wrapped: WrappedKey) -> None:
        """Store a new participant key, committed before its ciphertext is (see module)."""
        await self.put_many([(participant_id, wrapped)])

    async def put_many(self, keys: list[tuple[uuid.UUID, WrappedKey]]) -> None:
        """Store keys; one already stored for a participant is kept, never replaced."""
        async with self.pool.acquire() as connection:
            await connection.execute(
                SQL["key_put"],
                [pid for pid, _ in keys],
                [wrapped.key_id for _, wrapped in keys],
                [wrapped.blob for _, wrapped in keys],
            )

    async def get(self, participant_ids: list[uuid.UUID]) -> dict[uuid.UUID, WrappedKey]:
        """The wrapped keys of these participants (an erased one has none)."""
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(SQL["key_get"], participant_ids)
        return {
            row["participant_id"]: WrappedKey(row["key_id"], row["wrapped_key"]) for row in rows
        }

    async def destroy(self, participant_ids: list[uuid.UUID]) -> None:
        """Destroy these participants' keys, committed before anything else of the erasure."""
        async with self.pool.acquire() as connection:
            await connection.execute(SQL["key_destroy"], participant_ids)

    async def keys_by_master(self) -> dict[str, int]:
        """How many participant keys each master key wraps."""
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(SQL["keys_in_use"])
        return {row["key_id"]: row["keys"] for row in rows}

    async def sweep(self, intake: asyncpg.Pool) -> Sweep:
        """Adopt keys still in intake's own database; destroy keys that open nothing.

        A key whose participant has no ciphertext in intake (erased, or a registration that
        never committed) and that is older than `IN_FLIGHT` is destroyed. Run at every start:
        after a restore of the key store from a backup, it destroys again what erasures had
        destroyed since.
        """
        adopted = await self._adopt(intake)
        async with self.pool.acquire() as connection:
            settled = [
                row["participant_id"]
                for row in await connection.fetch(SQL["keys_settled"], IN_FLIGHT)
            ]
        destroyed = 0
        for start in range(0, len(settled), _BATCH):
            batch = settled[start : start + _BATCH]
            async with intake.acquire() as connection:
                sealed = {
                    row["participant_id"]
                    for row in await connection.fetch(INTAKE_SQL["ciphertext_present"], batch)
                }
            unused = [pid for pid in batch if pid not in sealed]
            if unused:
                await self.destroy(unused)
                destroyed += len(unused)
        if adopted or destroyed:
            log.info("key store swept", adopted=adopted, destroyed=destroyed)
        return Sweep(adopted, destroyed)

    async def _adopt(self, intake: asyncpg.Pool) -> int:
        """Move the keys of the first versions, kept in intake's database, into the store."""
        adopted = 0
        while True:
            async with intake.acquire() as connection, connection.transaction():
                rows = await connection.fetch(INTAKE_SQL["legacy_keys_batch"], _BATCH)
                if not rows:
                    return adopted
                keys = [
                    (r["participant_id"], WrappedKey(r["key_id"], r["wrapped_key"])) for r in rows
                ]
                # Stored here (committed) before they leave intake: a crash in between leaves
                # a key in both places, which the next start adopts again, harmlessly.
                await self.put_many(keys)
                await connection.execute(INTAKE_SQL["legacy_keys_delete"], [pid for pid, _ in keys])
            adopted += len(keys)


async def keys_to_rewrap(
    connection: asyncpg.Connection, current: str, limit: int
) -> list[tuple[uuid.UUID, WrappedKey]]:
    """Up to `limit` keys wrapped by another master than `current`, locked for this transaction."""
    rows = await connection.fetch(SQL["key_rewrap_batch"], current, limit)
    return [(row["participant_id"], WrappedKey(row["key_id"], row["wrapped_key"])) for row in rows]


async def store_rewrapped(
    connection: asyncpg.Connection, rewrapped: list[tuple[uuid.UUID, WrappedKey]]
) -> None:
    """Store keys wrapped anew (each with the id of its master key)."""
    await connection.execute(
        SQL["key_rewrap"],
        [participant_id for participant_id, _ in rewrapped],
        [wrapped.key_id for _, wrapped in rewrapped],
        [wrapped.blob for _, wrapped in rewrapped],
    )


__all__ = [
    "IN_FLIGHT",
    "KeyStore",
    "Sweep",
    "keys_to_rewrap",
    "store_rewrapped",
]
