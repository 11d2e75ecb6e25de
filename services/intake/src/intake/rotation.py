"""Master-key rotation: every participant key re-wrapped by the current master key.

The operator configures a new master key as the current one (`DURCHSTARTEN_VAULT_KEY`,
`DURCHSTARTEN_VAULT_KEY_ID`) and the old one as retired (`DURCHSTARTEN_VAULT_RETIRED_KEYS`),
restarts intake (new keys are wrapped by the new master at once) and runs
`python -m intake rotate-vault-key`. It re-wraps in batches, each its own transaction, so
an interruption leaves every key readable (by the old master or the new) and running it
again goes on where it stopped. Once `python -m intake vault-keys` shows no key left under
the old master, the old one may be removed from the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake import keystore
from intake.keystore import KeyStore
from intake.vault import UnknownVaultKey, Vault


@dataclass(frozen=True)
class Rotation:
    """What a rotation run did."""

    rewrapped: int
    remaining: dict[str, int]
    """Keys still wrapped by another master than the current one, by master key id."""


class RotationRefused(RuntimeError):
    """The configuration does not allow a rotation (the message says what to set)."""


async def check_configured(keys: KeyStore, vault: Vault) -> None:
    """Refuse to run while keys are wrapped by a master key that is not configured."""
    missing = sorted(set(await keys.keys_by_master()) - vault.key_ids)
    if missing:
        msg = (
            f"participant keys are wrapped by master keys that are not configured: {missing};"
            " add them to DURCHSTARTEN_VAULT_RETIRED_KEYS until a rotation has moved them"
        )
        raise UnknownVaultKey(msg)


async def rotate(
    keys: KeyStore, vault: Vault, *, batch_size: int = 500, max_batches: int | None = None
) -> Rotation:
    """Re-wrap keys by the current master key, `batch_size` per transaction.

    `max_batches` stops early (what an interruption does; tests use it). Keys wrapped by a
    master key that is not configured are not touched: `check_configured` names them.
    """
    if not vault.can_rotate:
        msg = (
            "the blind index's key is still derived from the vault key: set"
            " DURCHSTARTEN_BLIND_INDEX_KEY to `python -m intake blind-index-key` first"
        )
        raise RotationRefused(msg)
    await check_configured(keys, vault)
    done = batches = 0
    while max_batches is None or batches < max_batches:
        async with keys.pool.acquire() as connection, connection.transaction():
            found = await keystore.keys_to_rewrap(connection, vault.key_id, batch_size)
            if not found:
                break
            rewrapped = [(pid, vault.rewrap(pid, wrapped)) for pid, wrapped in found]
            await keystore.store_rewrapped(connection, rewrapped)
        done += len(found)
        batches += 1
    remaining = {k: n for k, n in (await keys.keys_by_master()).items() if k != vault.key_id}
    return Rotation(done, remaining)


__all__ = ["Rotation", "RotationRefused", "check_configured", "rotate"]
