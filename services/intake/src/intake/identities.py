"""The identity store: identifiers sealed per person, found again through the blind index.

The only place intake's code turns names into index tokens, seals identifiers or opens
them; registration, duplicate matching and the coordinators' search all come through here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from durchstarten import audit
from durchstarten.events import RegisterParticipant
from intake import repository
from intake.keystore import KeyStore
from intake.matching import Candidate, Identity, matching_keys, search_keys
from intake.vault import OpenedIdentity, Sealed, Vault


@dataclass(frozen=True)
class KeyRing:
    """What sealing and opening identifiers takes: the master keys and the key store."""

    vault: Vault
    keys: KeyStore

    async def load(
        self, connection: asyncpg.Connection, participant_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, Sealed]:
        """The sealed identities of these participants: ciphertext here, keys from the store.

        A participant whose key is destroyed has none, even while a ciphertext lingers.
        """
        boxes = await repository.load_ciphertexts(connection, participant_ids)
        keys = await self.keys.get(list(boxes)) if boxes else {}
        return {pid: Sealed(keys[pid], *box) for pid, box in boxes.items() if pid in keys}

    async def open(
        self, connection: asyncpg.Connection, participant_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, OpenedIdentity]:
        """These participants' identifiers, decrypted (the caller audits the read)."""
        sealed = await self.load(connection, participant_ids)
        return {pid: self.vault.open_identity(pid, box) for pid, box in sealed.items()}

    async def encrypt_for(self, participant_id: uuid.UUID, text: str) -> bytes | None:
        """`text` encrypted with the participant's key (None once the key is destroyed)."""
        found = (await self.keys.get([participant_id])).get(participant_id)
        return None if found is None else self.vault.encrypt_with(participant_id, found, text)

    async def reseal(
        self,
        connection: asyncpg.Connection,
        participant_id: uuid.UUID,
        identity: dict[str, Any],
        tokens: IndexTokens,
    ) -> bool:
        """Store a corrected identity under the person's key; False once the key is gone."""
        wrapped = (await self.keys.get([participant_id])).get(participant_id)
        if wrapped is None:
            return False
        sealed = self.vault.reseal(participant_id, wrapped, identity)
        await repository.replace_identity(
            connection, participant_id, sealed.nonce, sealed.ciphertext, tokens.stored
        )
        return True

    async def shred(self, connection: asyncpg.Connection, participant_id: uuid.UUID) -> None:
        """Erase: the key in the key store first (committed), then the ciphertext and index.

        Once the key is gone the ciphertext is noise, whatever happens to this transaction;
        a command carried out again finishes the rest.
        """
        await self.keys.destroy([participant_id])
        await repository.erase(connection, participant_id)


def identity_of(command: RegisterParticipant) -> Identity:
    """What matching compares of a registration."""
    return Identity(command.given_name, command.family_name, command.birth_date)


@dataclass(frozen=True)
class IndexTokens:
    """A person's blind-index tokens (keyed hashes of blocking keys, not names)."""

    search: list[bytes]
    """Of the name-only keys: what the coordinators' search by name looks up."""
    matching: list[bytes]
    """Of the name-and-birth-year keys: what duplicate matching looks up."""

    @property
    def stored(self) -> list[bytes]:
        """Every token the index keeps of the person."""
        return sorted({*self.search, *self.matching})


def index_tokens(vault: Vault, identity: Identity) -> IndexTokens:
    """The blind-index tokens of a person's blocking keys, both kinds."""
    return IndexTokens(
        search=[vault.index_token(key) for key in search_keys(identity)],
        matching=[vault.index_token(key) for key in matching_keys(identity)],
    )


async def index_birth_years(pool: asyncpg.Pool, ring: KeyRing, *, batch_size: int = 500) -> int:
    """Give identities indexed by name only their name-and-birth-year tokens; how many.

    Identities stored before duplicate matching looked up birth years have name tokens
    only. Intake runs this when it starts, before it takes a command, so matching never
    misses them. Each batch is opened, indexed and audited in its own transaction; an
    interrupted run goes on where it stopped. An identity whose key is destroyed (erased)
    opens to nothing and is only marked done.
    """
    done = 0
    while True:
        async with pool.acquire() as connection, connection.transaction():
            ids = await repository.indexed_by_name_only(connection, batch_size)
            if not ids:
                return done
            opened = await ring.open(connection, ids)
            pairs = [
                (pid, token)
                for pid, person in opened.items()
                for token in index_tokens(ring.vault, person.identity).stored
            ]
            await repository.add_index_tokens(connection, pairs, ids)
            if opened:
                await audit.record(
                    connection,
                    actor="intake",
                    action="identity.reindex",
                    participant_id=None,
                    purpose=f"blind index by birth year for {len(opened)} registrations",
                )
        done += len(ids)


async def open_candidates(
    connection: asyncpg.Connection, ring: KeyRing, tokens: list[bytes]
) -> list[OpenedIdentity]:
    """Every registration sharing one of `tokens`, decrypted (the caller audits the read)."""
    ids = await repository.candidates(connection, tokens)
    if not ids:
        return []
    return list((await ring.open(connection, ids)).values())


async def lock_and_compare(
    connection: asyncpg.Connection, ring: KeyRing, tokens: IndexTokens, *, actor: str
) -> list[Candidate]:
    """The earlier registrations a new one must be compared with, opened (and audited).

    They share a name token's phonetic code and the birth year (`matching_keys`). Two
    registrations of one person at the same moment must see each other: the person's
    matching keys are locked first (in one order, so two registrations never deadlock).
    """
    await repository.lock_tokens(connection, tokens.matching)
    opened = await open_candidates(connection, ring, tokens.matching)
    if opened:
        await audit.record(
            connection,
            actor=actor,
            action="identity.compare",
            participant_id=None,
            purpose=f"duplicate check against {len(opened)} registrations",
        )
    return [Candidate(o.participant_id, o.identity) for o in opened]


async def seal_and_store(
    connection: asyncpg.Connection,
    ring: KeyRing,
    participant_id: uuid.UUID,
    command: RegisterParticipant,
    tokens: IndexTokens,
) -> None:
    """Seal a registration's identifiers under the person's own key, with its index tokens.

    The key is committed to the key store first: should this transaction not commit, what
    is left is a key that opens nothing (`KeyStore.sweep` removes it), never a ciphertext
    without its key.
    """
    sealed = ring.vault.seal(
        participant_id,
        {
            "given_name": command.given_name,
            "family_name": command.family_name,
            "birth_date": command.birth_date.isoformat(),
            "phone": command.phone,
            "email": command.email,
            "provider_reference": command.provider_reference,
        },
    )
    await ring.keys.put(participant_id, sealed.wrapped_key)
    await repository.store_identity(
        connection, participant_id, sealed.nonce, sealed.ciphertext, tokens.stored
    )
