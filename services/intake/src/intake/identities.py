"""The identity store: identifiers sealed per person, found again through the blind index.

The only place intake's code turns names into index tokens, seals identifiers or opens
them; registration, duplicate matching and the coordinators' search all come through here.
"""

from __future__ import annotations

import uuid

import asyncpg

from durchstarten.events import RegisterParticipant
from intake import audit, repository
from intake.matching import Candidate, Identity, blocking_keys
from intake.vault import OpenedIdentity, Vault


def identity_of(command: RegisterParticipant) -> Identity:
    """What matching compares of a registration."""
    return Identity(command.given_name, command.family_name, command.birth_date)


def index_tokens(vault: Vault, identity: Identity) -> list[bytes]:
    """The blind-index tokens of a person's blocking keys (keyed hashes, not names)."""
    return [vault.index_token(key) for key in blocking_keys(identity)]


async def open_candidates(
    connection: asyncpg.Connection, vault: Vault, tokens: list[bytes]
) -> list[OpenedIdentity]:
    """Every registration sharing one of `tokens`, decrypted (the caller audits the read)."""
    ids = await repository.candidates(connection, tokens)
    if not ids:
        return []
    sealed = await repository.load_sealed(connection, ids)
    return [vault.open_identity(pid, box) for pid, box in sealed.items()]


async def lock_and_compare(
    connection: asyncpg.Connection, vault: Vault, tokens: list[bytes], *, actor: str
) -> list[Candidate]:
    """The earlier registrations a new one must be compared with, opened (and audited).

    Two registrations of one person at the same moment must see each other: the person's
    blocking keys are locked first (sorted, so two registrations never deadlock).
    """
    await repository.lock_tokens(connection, sorted(tokens))
    opened = await open_candidates(connection, vault, tokens)
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
    vault: Vault,
    participant_id: uuid.UUID,
    command: RegisterParticipant,
    tokens: list[bytes],
) -> None:
    """Seal a registration's identifiers under the person's own key, with its index tokens."""
    sealed = vault.seal(
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
    await repository.store_identity(connection, participant_id, sealed, tokens)
