"""The identity vault: personal identifiers encrypted per participant (crypto-shredding).

Each participant has a key of their own (AES-256-GCM); the key is stored wrapped by a
master key (the vault key), in a table apart from the ciphertext, with the id of the master
key that wrapped it. Master keys rotate: a new one wraps every new key, and
`rewrap` moves an existing key to it (`intake.rotation` does so for all, resumably), while
the retired ones stay configured until no key needs them. Erasure deletes the key and the
ciphertext. A keyed hash (HMAC) of phonetic name codes serves as a blind index for
duplicate detection; its key is its own, so the master key can rotate without the index
changing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from intake.matching import Identity

_NONCE_BYTES = 12
LEGACY_KEY_ID = "k1"
"""The id of the master key that wrapped every key before keys had ids."""
WRAPPING = b"durchstarten key wrapping"
INDEX = b"durchstarten blind index"


@dataclass(frozen=True)
class WrappedKey:
    """A participant's key, wrapped by the master key `key_id`."""

    key_id: str
    blob: bytes


@dataclass(frozen=True)
class Sealed:
    """An encrypted identity: the wrapped participant key and the ciphertext."""

    wrapped_key: WrappedKey
    nonce: bytes
    ciphertext: bytes


class UnknownVaultKey(LookupError):
    """A key was wrapped by a master key that is not configured (retired too early?)."""


@dataclass(frozen=True)
class OpenedIdentity:
    """A participant's identifiers, decrypted: every field, and what matching compares."""

    participant_id: uuid.UUID
    fields: dict[str, Any]

    @property
    def identity(self) -> Identity:
        """Names and birth date, as duplicate matching and search compare them."""
        return Identity(
            self.fields["given_name"],
            self.fields["family_name"],
            date.fromisoformat(self.fields["birth_date"]),
        )


class Vault:
    """Encrypts and decrypts identities; holds the master keys and the blind-index key."""

    def __init__(
        self,
        vault_key_b64: str,
        *,
        key_id: str = LEGACY_KEY_ID,
        retired: Mapping[str, str] | None = None,
        index_key_b64: str | None = None,
    ) -> None:
        """`vault_key_b64`: the current master key, 32 random bytes, base64, named `key_id`.

        `retired`: older master keys by id, still needed to unwrap keys not yet re-wrapped.
        `index_key_b64`: the blind index's own key; None derives it from the current master
        key as the first version did (then the master key cannot rotate: `can_rotate`).
        """
        if index_key_b64 is None and (retired or key_id != LEGACY_KEY_ID):
            # Derived from a new master key, every stored index token would stop matching.
            msg = "a new or rotated master key needs DURCHSTARTEN_BLIND_INDEX_KEY set"
            raise ValueError(msg)
        masters = {key_id: vault_key_b64, **(retired or {})}
        if (retired or {}).get(key_id) not in (None, vault_key_b64):
            msg = f"master key {key_id!r} is both current and retired with another value"
            raise ValueError(msg)
        self.key_id = key_id
        self._wrapping = {
            name: AESGCM(_derive(_key(b64), WRAPPING)) for name, b64 in masters.items()
        }
        self.can_rotate = index_key_b64 is not None
        self._index_key = (
            _key(index_key_b64) if index_key_b64 else _derive(_key(vault_key_b64), INDEX)
        )

    @property
    def key_ids(self) -> frozenset[str]:
        """The master keys configured: the current one and the retired ones."""
        return frozenset(self._wrapping)

    def seal(self, participant_id: uuid.UUID, identity: dict[str, Any]) -> Sealed:
        """Encrypt `identity` under a new key of the participant's own."""
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = AESGCM(key).encrypt(
            nonce, json.dumps(identity, sort_keys=True).encode(), participant_id.bytes
        )
        return Sealed(self._wrap(participant_id, key), nonce, ciphertext)

    def reseal(
        self, participant_id: uuid.UUID, wrapped: WrappedKey, identity: dict[str, Any]
    ) -> Sealed:
        """Encrypt a corrected `identity` under the participant's existing key.

        The same key, so that what else it encrypts (sealed reasons) stays readable, and an
        erasure still needs to destroy one key only.
        """
        key = self._unwrap(participant_id, wrapped)
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = AESGCM(key).encrypt(
            nonce, json.dumps(identity, sort_keys=True).encode(), participant_id.bytes
        )
        return Sealed(wrapped, nonce, ciphertext)

    def open(self, participant_id: uuid.UUID, sealed: Sealed) -> dict[str, Any]:
        """Decrypt an identity; raises InvalidTag if anything was altered or swapped."""
        key = self._unwrap(participant_id, sealed.wrapped_key)
        plain = AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, participant_id.bytes)
        identity: dict[str, Any] = json.loads(plain)
        return identity

    def open_identity(self, participant_id: uuid.UUID, sealed: Sealed) -> OpenedIdentity:
        """Decrypt a participant's identifiers (the only way the service reads them)."""
        return OpenedIdentity(participant_id, self.open(participant_id, sealed))

    def encrypt_with(self, participant_id: uuid.UUID, wrapped: WrappedKey, text: str) -> bytes:
        """Encrypt a further text (e.g. an exception's reason) with the participant's key."""
        key = self._unwrap(participant_id, wrapped)
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + AESGCM(key).encrypt(nonce, text.encode(), participant_id.bytes)

    def rewrap(self, participant_id: uuid.UUID, wrapped: WrappedKey) -> WrappedKey:
        """The same participant key, wrapped by the current master key."""
        if wrapped.key_id == self.key_id:
            return wrapped
        return self._wrap(participant_id, self._unwrap(participant_id, wrapped))

    def index_token(self, value: str) -> bytes:
        """A keyed hash of a normalised value: searchable, but not reversible without the key."""
        return hmac.new(self._index_key, value.encode(), hashlib.sha256).digest()

    def _wrap(self, participant_id: uuid.UUID, key: bytes) -> WrappedKey:
        nonce = os.urandom(_NONCE_BYTES)
        body = self._wrapping[self.key_id].encrypt(nonce, key, b"key:" + participant_id.bytes)
        return WrappedKey(self.key_id, nonce + body)

    def _unwrap(self, participant_id: uuid.UUID, wrapped: WrappedKey) -> bytes:
        wrapping = self._wrapping.get(wrapped.key_id)
        if wrapping is None:
            msg = f"master key {wrapped.key_id!r} is not configured"
            raise UnknownVaultKey(msg)
        nonce, body = wrapped.blob[:_NONCE_BYTES], wrapped.blob[_NONCE_BYTES:]
        return wrapping.decrypt(nonce, body, b"key:" + participant_id.bytes)


def _key(b64: str) -> bytes:
    key = base64.b64decode(b64, validate=True)
    if len(key) != 32:
        msg = "a vault key must be 32 bytes, base64-encoded"
        raise ValueError(msg)
    return key


def derived_index_key(vault_key_b64: str) -> str:
    """The blind-index key the first version derived from the vault key, base64.

    Setting it as DURCHSTARTEN_BLIND_INDEX_KEY keeps every stored token valid and frees
    the master key to rotate.
    """
    return base64.b64encode(_derive(_key(vault_key_b64), INDEX)).decode()


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose).derive(master)


def new_vault_key() -> str:
    """A fresh vault key, base64 (for the local stack and tests)."""
    return base64.b64encode(os.urandom(32)).decode()
