"""The identity vault: personal identifiers encrypted per participant (crypto-shredding).

Each participant has a key of their own (AES-256-GCM); the key is stored wrapped by the
service's vault key, in a table apart from the ciphertext. Erasure deletes the key and the
ciphertext: copies in backups can then never be read again. A keyed hash (HMAC) of
phonetic name codes serves as a blind index for duplicate detection.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from intake.matching import Identity

_NONCE_BYTES = 12


@dataclass(frozen=True)
class Sealed:
    """An encrypted identity: the wrapped participant key and the ciphertext."""

    wrapped_key: bytes
    nonce: bytes
    ciphertext: bytes


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
    """Encrypts and decrypts identities; holds only the service's vault key."""

    def __init__(self, vault_key_b64: str) -> None:
        """`vault_key_b64`: 32 random bytes, base64 (DURCHSTARTEN_VAULT_KEY)."""
        master = base64.b64decode(vault_key_b64, validate=True)
        if len(master) != 32:
            msg = "the vault key must be 32 bytes, base64-encoded"
            raise ValueError(msg)
        self._wrapping = AESGCM(_derive(master, b"durchstarten key wrapping"))
        self._index_key = _derive(master, b"durchstarten blind index")

    def seal(self, participant_id: uuid.UUID, identity: dict[str, Any]) -> Sealed:
        """Encrypt `identity` under a new key of the participant's own."""
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = AESGCM(key).encrypt(
            nonce, json.dumps(identity, sort_keys=True).encode(), participant_id.bytes
        )
        return Sealed(self._wrap(participant_id, key), nonce, ciphertext)

    def open(self, participant_id: uuid.UUID, sealed: Sealed) -> dict[str, Any]:
        """Decrypt an identity; raises InvalidTag if anything was altered or swapped."""
        key = self._unwrap(participant_id, sealed.wrapped_key)
        plain = AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext, participant_id.bytes)
        identity: dict[str, Any] = json.loads(plain)
        return identity

    def open_identity(self, participant_id: uuid.UUID, sealed: Sealed) -> OpenedIdentity:
        """Decrypt a participant's identifiers (the only way the service reads them)."""
        return OpenedIdentity(participant_id, self.open(participant_id, sealed))

    def encrypt_with(self, participant_id: uuid.UUID, wrapped_key: bytes, text: str) -> bytes:
        """Encrypt a further text (e.g. an exception's reason) with the participant's key."""
        key = self._unwrap(participant_id, wrapped_key)
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + AESGCM(key).encrypt(nonce, text.encode(), participant_id.bytes)

    def index_token(self, value: str) -> bytes:
        """A keyed hash of a normalised value: searchable, but not reversible without the key."""
        return hmac.new(self._index_key, value.encode(), hashlib.sha256).digest()

    def _wrap(self, participant_id: uuid.UUID, key: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._wrapping.encrypt(nonce, key, b"key:" + participant_id.bytes)

    def _unwrap(self, participant_id: uuid.UUID, wrapped: bytes) -> bytes:
        nonce, body = wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:]
        return self._wrapping.decrypt(nonce, body, b"key:" + participant_id.bytes)


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose).derive(master)


def new_vault_key() -> str:
    """A fresh vault key, base64 (for the local stack and tests)."""
    return base64.b64encode(os.urandom(32)).decode()
