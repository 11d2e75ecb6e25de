"""The identity store: identifiers sealed per person, found again through the blind index.

The only place intake's code turns names into index tokens, seals identifiers or opens
them; registration, duplicate matching and the coordinators' search all come through here.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from durchstarten import audit
from durchstarten.events import RegisterParticipant
from durchstarten.messaging import batch
from durchstarten.messaging.batch import pending_for
from durchstarten.messaging.commands import InboundCommand
from intake import repository
from intake.keystore import KeyStore
from intake.matching import Candidate, Identity, matching_keys, search_keys
from intake.vault import OpenedIdentity, Sealed, Vault, WrappedKey

NEW_KEYS = "intake.new-keys"
"""The keys a batch made (`PendingWrites.known`): committed to the key store at its flush."""
POSTINGS, OPENED, MADE, PREPARED = (
    "intake.postings",
    "intake.opened",
    "intake.made",
    "intake.prepared",
)
"""What a batch of registrations read ahead (`read_ahead`): each matching token's
registrations, their identities opened, the batch's own registrations, and each command's
identity and tokens."""
CANDIDATES = 50
"""Registrations compared at most, those sharing the most tokens first (as `index_candidates`)."""


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
        made: dict[uuid.UUID, WrappedKey] = batch.known(connection, NEW_KEYS)  # not stored yet
        stored = [pid for pid in boxes if pid not in made]
        keys = {**(await self.keys.get(stored) if stored else {}), **made}
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


async def read_ahead(
    connection: asyncpg.Connection, ring: KeyRing, commands: Sequence[InboundCommand]
) -> None:
    """Lock, look up and open every candidate of a batch's registrations, once for all.

    `commands` are the batch's new commands; only its registrations are read ahead.

    One statement takes every matching token's lock (ascending, as `lock_tokens`), one
    reads the registrations holding them, and the candidates are opened together: each
    once, however many of the batch's registrations it is compared with. The batch's own
    registrations join the postings as they are stored (`seal_and_store`), so a person
    registered twice in one batch is found as one at a time would find them.
    """
    pending = pending_for(connection)
    if pending is None:
        return
    prepared = {
        inbound.dedupe_key: _identity_and_tokens(ring.vault, inbound.command)
        for inbound in commands
        if isinstance(inbound.command, RegisterParticipant)
    }
    if not prepared:
        return
    every = sorted({token for _, tokens in prepared.values() for token in tokens.matching})
    await repository.lock_tokens(connection, every)
    postings: dict[bytes, list[uuid.UUID]] = {token: [] for token in every}
    for token, participant_id in await repository.postings(connection, every):
        postings[token].append(participant_id)
    named = list({pid: None for held in postings.values() for pid in held})
    opened = await ring.open(connection, named) if named else {}
    pending.known.update(
        {
            PREPARED: prepared,
            POSTINGS: postings,
            OPENED: {pid: found.identity for pid, found in opened.items()},
            MADE: {},
        }
    )


def forget_read_ahead(connection: asyncpg.Connection) -> None:
    """Drop what the batch read ahead: from here on every registration reads the index."""
    pending = pending_for(connection)
    if pending is not None:
        pending.forget(PREPARED, POSTINGS, OPENED, MADE)


def prepared(
    connection: asyncpg.Connection,
    vault: Vault,
    inbound: InboundCommand,
    command: RegisterParticipant,
) -> tuple[Identity, IndexTokens]:
    """The registration's identity and index tokens (worked out once in a batch)."""
    found = batch.known(connection, PREPARED).get(inbound.dedupe_key)
    return found if found is not None else _identity_and_tokens(vault, command)


def made_in_batch(connection: asyncpg.Connection, participant_id: uuid.UUID) -> bool:
    """Whether the participant was registered by this batch (rows not written yet)."""
    return participant_id in batch.known(connection, MADE)


def _identity_and_tokens(vault: Vault, command: Any) -> tuple[Identity, IndexTokens]:
    identity = identity_of(command)
    return identity, index_tokens(vault, identity)


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
    found = _read_ahead_candidates(connection, tokens.matching)
    if found is None:
        await repository.lock_tokens(connection, tokens.matching)
        found = [
            Candidate(o.participant_id, o.identity)
            for o in await open_candidates(connection, ring, tokens.matching)
        ]
    if found:
        await audit.add(
            connection,
            actor=actor,
            action="identity.compare",
            participant_id=None,
            purpose=f"duplicate check against {len(found)} registrations",
        )
    return found


def _read_ahead_candidates(
    connection: asyncpg.Connection, tokens: list[bytes]
) -> list[Candidate] | None:
    """The candidates from what the batch read ahead; None if it did not read these tokens."""
    pending = pending_for(connection)
    postings = pending.known.get(POSTINGS) if pending is not None else None
    if pending is None or postings is None or not all(token in postings for token in tokens):
        return None
    opened = pending.known[OPENED]
    shared = Counter(pid for token in tokens for pid in postings[token] if pid in opened)
    chosen = sorted(shared, key=lambda pid: (-shared[pid], str(pid)))[:CANDIDATES]
    return [Candidate(pid, opened[pid]) for pid in chosen]


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
    without its key. In a batch, every key it made is committed in one key-store
    transaction at the batch's flush, still before the batch commits; until then the
    batch opens its own registrations with the keys it holds.
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
    pending = pending_for(connection)
    if pending is None:
        await ring.keys.put(participant_id, sealed.wrapped_key)
    else:
        made: dict[uuid.UUID, WrappedKey] = pending.known.setdefault(NEW_KEYS, {})
        made[participant_id] = sealed.wrapped_key

        async def commit_keys() -> None:
            await ring.keys.put_many(list(made.items()))
            made.clear()

        pending.before_rows(NEW_KEYS, commit_keys)
    await repository.store_identity(
        connection, participant_id, sealed.nonce, sealed.ciphertext, tokens.stored
    )
    if pending is not None and POSTINGS in pending.known:
        # Later registrations of the batch compare with this one, as with any stored.
        for token in tokens.matching:
            pending.known[POSTINGS].setdefault(token, []).append(participant_id)
        pending.known[OPENED][participant_id] = identity_of(command)
        pending.known[MADE][participant_id] = True
