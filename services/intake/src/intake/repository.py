"""Intake's database access.

Every function takes the connection first, so the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.events import RegisterParticipant
from durchstarten.events.intake import ParticipantCorrected
from durchstarten.events.parts import Consent
from durchstarten.messaging import answers
from durchstarten.messaging.batch import pending_for
from durchstarten.retention import DeletionPeriods

SQL = SqlFiles(Path(__file__).parent / "db")


@dataclass(frozen=True)
class ParticipantState:
    """What intake knows of a registration, besides the identifiers."""

    participant_id: uuid.UUID
    provider: str
    status: str
    programme: str | None
    entry_date: date
    municipality: str
    county: str
    lives_in_state_reception_facility: bool
    failed_rules: list[dict[str, Any]]
    pending_event: dict[str, Any] | None
    exit_date: date | None
    sex: str
    country_of_origin: str


async def insert_participant(
    connection: asyncpg.Connection,
    *,
    participant_id: uuid.UUID,
    provider: str,
    command_id: str,
    status: str,
    programme: str | None,
    command: RegisterParticipant,
    failed_rules: list[dict[str, Any]],
    pending_event: dict[str, Any] | None,
    county: str,
) -> None:
    """Store a new registration: its state, coarse attributes and first dated histories.

    The identifiers go to the vault (`identities.seal_and_store`).
    """
    await _append(
        connection,
        SQL["participant_insert"],
        participant_id,
        provider,
        command_id,
        status,
        programme,
        command.sex.value,
        command.country_of_origin,
        command.residence_status.status.value,
        command.municipality,
        command.school_education.value,
        command.german_level.overall.value,
        command.entry_date,
        command.lives_in_state_reception_facility,
        command.employment_ban,
        failed_rules,
        pending_event,
        county,
        rank=PARTICIPANT_RANK,
    )
    await link_provider(connection, participant_id, provider, "registered")
    residence = command.residence_status
    # The first entries of the histories; the participant row holds the status already.
    await _append(
        connection,
        SQL["status_history_add"],
        participant_id,
        residence.status,
        residence.legal_basis,
        residence.since,
    )
    level = command.german_level.model_dump(mode="json")
    await _append(
        connection,
        SQL["german_history_add"],
        *_german_level_row(participant_id, level, command.entry_date, "registration"),
    )


PARTICIPANT_RANK = 0
"""A batch's new participants are written before the rows that refer to them."""


async def _append(
    connection: asyncpg.Connection, statement: str, *arguments: Any, rank: int = 1
) -> None:
    """An insert of a new person's rows in a batch (`batch.deferring`): at the flush.

    What a batch's registrations read back of each other comes from what the batch holds
    (`identities.read_ahead`); a registration matched to one of the same batch, and every
    command but a registration, writes what the batch deferred before it reads
    (`IntakeHandlers.decide_and_save`).
    """
    pending = pending_for(connection)
    if pending is None or not pending.deferring:
        await connection.execute(statement, *arguments)
    else:
        pending.defer(statement, *arguments, rank=rank)


async def load_state(
    connection: asyncpg.Connection, participant_id: uuid.UUID
) -> ParticipantState | None:
    """The registration's state, locked until the transaction ends; None if unknown."""
    row = await connection.fetchrow(SQL["participant_state"], participant_id)
    if row is None:
        return None
    return ParticipantState(**dict(row))


async def in_county(
    connection: asyncpg.Connection, participant_ids: list[uuid.UUID], county: str
) -> set[uuid.UUID]:
    """Those of `participant_ids` who live in `county`."""
    rows = await connection.fetch(SQL["participants_in_county"], participant_ids, county)
    return {row["participant_id"] for row in rows}


async def record_move(
    connection: asyncpg.Connection, participant_id: uuid.UUID, *, municipality: str, county: str
) -> None:
    """The person lives in another county now: its coordinator takes over."""
    await connection.execute(SQL["participant_move"], participant_id, municipality, county)


async def set_status(
    connection: asyncpg.Connection, participant_id: uuid.UUID, status: str
) -> None:
    """Move a registration to another status (and drop its pending event)."""
    await connection.execute(SQL["participant_set_status"], participant_id, status)


async def record_exit(
    connection: asyncpg.Connection, participant_id: uuid.UUID, exit_date: date, reason: str
) -> None:
    """Record the programme exit."""
    await connection.execute(SQL["participant_exit"], participant_id, exit_date, reason)


async def erase(connection: asyncpg.Connection, participant_id: uuid.UUID) -> None:
    """Destroy the key, the ciphertext, the blind index and encrypted reasons."""
    await connection.execute(SQL["participant_erase"], participant_id)
    await answers.forget(connection, participant_id)  # the answers to their commands


async def store_identity(
    connection: asyncpg.Connection,
    participant_id: uuid.UUID,
    nonce: bytes,
    ciphertext: bytes,
    tokens: list[bytes],
) -> None:
    """Store the sealed identifiers and their blind-index tokens (the key is in the key store)."""
    await _append(connection, SQL["vault_store"], participant_id, nonce, ciphertext)
    await _append(connection, SQL["index_store"], participant_id, tokens)


async def load_ciphertexts(
    connection: asyncpg.Connection, participant_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[bytes, bytes]]:
    """The (nonce, ciphertext) of these participants' identifiers (erased ones have none)."""
    rows = await connection.fetch(SQL["vault_load"], participant_ids)
    return {row["participant_id"]: (row["nonce"], row["ciphertext"]) for row in rows}


async def candidates(connection: asyncpg.Connection, tokens: list[bytes]) -> list[uuid.UUID]:
    """Registrations sharing blocking tokens, most shared first."""
    rows = await connection.fetch(SQL["index_candidates"], tokens)
    return [row["participant_id"] for row in rows]


async def postings(
    connection: asyncpg.Connection, tokens: list[bytes]
) -> list[tuple[bytes, uuid.UUID]]:
    """(token, registration) for every candidate registration holding one of `tokens`."""
    rows = await connection.fetch(SQL["index_postings"], tokens)
    return [(bytes(row["token"]), row["participant_id"]) for row in rows]


async def indexed_by_name_only(connection: asyncpg.Connection, limit: int) -> list[uuid.UUID]:
    """Up to `limit` identities without birth-year tokens yet, locked for this transaction."""
    rows = await connection.fetch(SQL["index_generation_1"], limit)
    return [row["participant_id"] for row in rows]


async def add_index_tokens(
    connection: asyncpg.Connection,
    tokens: list[tuple[uuid.UUID, bytes]],
    indexed: list[uuid.UUID],
) -> None:
    """Add (participant, token) pairs to the blind index; `indexed` are now indexed in full."""
    await connection.execute(
        SQL["index_store_many"], [pid for pid, _ in tokens], [t for _, t in tokens], indexed
    )


async def lock_tokens(connection: asyncpg.Connection, tokens: list[bytes]) -> None:
    """Serialise registrations sharing blocking tokens, until the transaction ends.

    One statement takes every lock, in ascending order of the lock keys: two transactions
    wanting the same keys take them in the same order, so they never deadlock each other.
    """
    keys = sorted({int.from_bytes(token[:8], "big", signed=True) for token in tokens})
    if keys:
        await connection.execute(SQL["lock_token"], keys)


async def link_provider(
    connection: asyncpg.Connection, participant_id: uuid.UUID, provider: str, relation: str
) -> None:
    """Let `provider` see and act on the participant."""
    await _append(connection, SQL["link_provider"], participant_id, provider, relation)


async def provider_linked(
    connection: asyncpg.Connection, participant_id: uuid.UUID, provider: str | None
) -> bool:
    """True when `provider` registered or was assigned the participant (None: no provider)."""
    if provider is None:
        return False
    linked: bool = await connection.fetchval(SQL["provider_linked"], participant_id, provider)
    return linked


async def add_status_history(
    connection: asyncpg.Connection,
    participant_id: uuid.UUID,
    status: str,
    legal_basis: str,
    since: date | None,
) -> None:
    """Append to the dated residence-status history."""
    await connection.execute(SQL["status_history_add"], participant_id, status, legal_basis, since)
    await connection.execute(SQL["participant_set_residence_status"], participant_id, status)


async def add_german_level(
    connection: asyncpg.Connection,
    participant_id: uuid.UUID,
    level: dict[str, Any],
    measured_on: date,
    source: str,
) -> None:
    """Append to the dated German-level history."""
    await connection.execute(
        SQL["german_history_add"], *_german_level_row(participant_id, level, measured_on, source)
    )


def _german_level_row(
    participant_id: uuid.UUID, level: dict[str, Any], measured_on: date, source: str
) -> tuple[Any, ...]:
    return (
        participant_id,
        level["overall"],
        level.get("listening"),
        level.get("reading"),
        level.get("writing"),
        level.get("speaking"),
        measured_on,
        source,
    )


async def history(connection: asyncpg.Connection, participant_id: uuid.UUID) -> dict[str, Any]:
    """Both dated histories of a participant."""
    statuses = await connection.fetch(SQL["status_history"], participant_id)
    levels = await connection.fetch(SQL["german_history"], participant_id)
    return {
        "residence_status": [dict(row) for row in statuses],
        "german_level": [dict(row) for row in levels],
    }


async def add_exception_decision(
    connection: asyncpg.Connection,
    participant_id: uuid.UUID,
    *,
    decision: str,
    rules: list[str],
    reason_encrypted: bytes | None,
    decided_by: str,
    new_status: str,
) -> None:
    """Record a coordinator's decision on an exception and the registration's new status."""
    await connection.execute(
        SQL["exception_decision_add"],
        participant_id,
        decision,
        rules,
        reason_encrypted,
        decided_by,
    )
    await set_status(connection, participant_id, new_status)


async def pending_exceptions(
    connection: asyncpg.Connection,
    *,
    after: tuple[Any, ...] = (None, None),
    limit: int | None = None,
    county: str | None = None,
) -> list[dict[str, Any]]:
    """Registrations waiting for a coordinator's decision, oldest first.

    A page: at most `limit` rows after the key `after` (registered_at, participant_id).
    """
    rows = await connection.fetch(SQL["pending_exceptions"], *after, limit, county)
    return [dict(row) for row in rows]


async def add_duplicate_review(
    connection: asyncpg.Connection, participant_id: uuid.UUID, candidate: uuid.UUID, score: float
) -> None:
    """Flag a registration as possibly the same person as `candidate`."""
    await _append(connection, SQL["duplicate_review_add"], participant_id, candidate, score)


async def add_duplicate_review_pair(
    connection: asyncpg.Connection, participant_id: uuid.UUID, other: uuid.UUID, score: float
) -> None:
    """Flag two registrations for a coordinator, the later as the possible duplicate."""
    await connection.execute(SQL["duplicate_review_pair"], participant_id, other, score)


async def decide_duplicate_review(
    connection: asyncpg.Connection,
    participant_id: uuid.UUID,
    candidate: uuid.UUID,
    status: str,
    decided_by: str,
) -> bool:
    """Close an open review; False when there was none."""
    row = await connection.fetchval(
        SQL["duplicate_review_decide"], participant_id, candidate, status, decided_by
    )
    return row is not None


async def open_duplicate_reviews(
    connection: asyncpg.Connection,
    *,
    after: tuple[Any, ...] = (None, None),
    limit: int | None = None,
    county: str | None = None,
) -> list[dict[str, Any]]:
    """Possible duplicates waiting for a coordinator.

    A page: at most `limit` rows after the key `after` (participant_id, candidate_id).
    """
    rows = await connection.fetch(SQL["duplicate_reviews_open"], *after, limit, county)
    return [dict(row) for row in rows]


async def registration_result(
    connection: asyncpg.Connection, *, provider: str, command_id: str
) -> tuple[uuid.UUID, str] | None:
    """The pseudonym and status a registration command produced, if it was one."""
    row = await connection.fetchrow(SQL["registration_result"], provider, command_id)
    return (row["participant_id"], row["status"]) if row is not None else None


async def add_registration_result(
    connection: asyncpg.Connection,
    *,
    provider: str,
    command_id: str,
    participant_id: uuid.UUID,
    status: str,
) -> None:
    """Remember what a registration command produced (read by a repeat, after the flush)."""
    await _append(
        connection, SQL["registration_result_add"], provider, command_id, participant_id, status
    )


# --- scheduled deletion ------------------------------------------------------------------


async def deletion_due(
    connection: asyncpg.Connection,
    *,
    today: date,
    periods: DeletionPeriods,
    limit: int,
) -> list[uuid.UUID]:
    """Registrations past their deletion date and under no legal hold, locked (SKIP LOCKED).

    The deletion date is the exit date plus the period after exit, or, without an exit,
    the entry date plus the period without exit (`DeletionPeriods.deletion_date`).
    """
    after_exit, without_exit = periods.after_exit, periods.without_exit
    rows = await connection.fetch(
        SQL["deletion_due"],
        today,
        after_exit.sql() if after_exit else None,
        without_exit.sql() if without_exit else None,
        limit,
    )
    return [row["participant_id"] for row in rows]


async def record_erasure(
    connection: asyncpg.Connection, participant_id: uuid.UUID, *, erased_on: date, basis: str
) -> None:
    """Keep that (and why, and when) a person's identifiers were erased; nothing else."""
    await connection.execute(SQL["erasure_record"], participant_id, erased_on, basis)


async def erasure_of(
    connection: asyncpg.Connection, participant_id: uuid.UUID
) -> dict[str, Any] | None:
    """The erasure record of a person, if their identifiers were erased."""
    row = await connection.fetchrow(SQL["erasure_of"], participant_id)
    return dict(row) if row is not None else None


async def set_legal_hold(
    connection: asyncpg.Connection, participant_id: uuid.UUID, *, reason: bytes, set_by: str
) -> bool:
    """Put a person's identifiers under a legal hold; False when one is in force already."""
    row = await connection.fetchrow(SQL["legal_hold_set"], participant_id, reason, set_by)
    return row is not None


async def release_legal_hold(
    connection: asyncpg.Connection, participant_id: uuid.UUID, *, released_by: str
) -> bool:
    """End the hold in force; False when there was none."""
    row = await connection.fetchrow(SQL["legal_hold_release"], participant_id, released_by)
    return row is not None


async def legal_hold_in_force(
    connection: asyncpg.Connection, participant_id: uuid.UUID
) -> dict[str, Any] | None:
    """The hold in force on a person (with its sealed reason), if any."""
    row = await connection.fetchrow(SQL["legal_hold_in_force"], participant_id)
    return dict(row) if row is not None else None


async def open_legal_holds(
    connection: asyncpg.Connection,
    *,
    after: int | None = None,
    limit: int | None = None,
    county: str | None = None,
) -> list[dict[str, Any]]:
    """Holds in force, oldest first, for a coordinator's review (without their reasons).

    `county`: only that county's people (None: every county).
    """
    rows = await connection.fetch(SQL["legal_holds_open"], after, limit, county)
    return [dict(row) for row in rows]


async def provider_links(
    connection: asyncpg.Connection, participant_id: uuid.UUID
) -> list[dict[str, Any]]:
    """Every provider linked to the person (registered or assigned), oldest first."""
    rows = await connection.fetch(SQL["provider_links"], participant_id)
    return [dict(row) for row in rows]


# --- rectification -------------------------------------------------------------------------


async def replace_identity(
    connection: asyncpg.Connection,
    participant_id: uuid.UUID,
    nonce: bytes,
    ciphertext: bytes,
    tokens: list[bytes],
) -> None:
    """Store a corrected identity (same key) and rebuild its blind-index tokens."""
    await connection.execute(SQL["vault_replace"], participant_id, nonce, ciphertext)
    await connection.execute(SQL["index_store"], participant_id, tokens)


async def correct_participant(
    connection: asyncpg.Connection, participant_id: uuid.UUID, *, sex: str, country: str
) -> None:
    """Correct the record's reported attributes."""
    await connection.execute(SQL["participant_correct"], participant_id, sex, country)


async def correct_pending_event(
    connection: asyncpg.Connection, correction: ParticipantCorrected
) -> None:
    """A waiting registration's event takes the corrected attributes (announced later)."""
    await connection.execute(
        SQL["pending_event_correct"],
        correction.participant_id,
        correction.age_at_entry,
        correction.sex.value,
        correction.country_of_origin,
    )


async def add_rectification(
    connection: asyncpg.Connection,
    participant_id: uuid.UUID,
    *,
    fields: list[str],
    reason: bytes | None,
    corrected_by: str,
) -> None:
    """Record which fields were corrected, by whom and why (the reason sealed)."""
    await connection.execute(SQL["rectification_add"], participant_id, fields, reason, corrected_by)


# --- consent -----------------------------------------------------------------------------


async def consent_of(connection: asyncpg.Connection, participant_id: uuid.UUID) -> Consent | None:
    """The consent the person gave (latest), if any."""
    row = await connection.fetchrow(SQL["consent_of"], participant_id)
    return Consent.model_validate(dict(row)) if row is not None else None


async def store_consent(
    connection: asyncpg.Connection, participant_id: uuid.UUID, consent: Consent, *, by: str
) -> None:
    """Keep `consent` as what the person consented to now (it replaces the one held)."""
    await _append(
        connection,
        SQL["consent_store"],
        participant_id,
        [scope.value for scope in consent.scopes],
        consent.given_on,
        consent.expires_on,
        by,
    )


async def overrides_in_force(
    connection: asyncpg.Connection, participant_id: uuid.UUID, today: date
) -> list[tuple[str, date]]:
    """(provider, last day) of each coordinator's override that still lasts."""
    rows = await connection.fetch(SQL["consent_overrides_in_force"], participant_id, today)
    return [(row["provider"], row["until"]) for row in rows]


async def add_override(
    connection: asyncpg.Connection,
    participant_id: uuid.UUID,
    *,
    provider: str,
    until: date,
    reason: bytes | None,
    decided_by: str,
) -> None:
    """Record a coordinator's break-glass override (the reason sealed)."""
    await connection.execute(
        SQL["consent_override_add"], participant_id, provider, until, reason, decided_by
    )


async def open_overrides(
    connection: asyncpg.Connection,
    *,
    today: date,
    after: int | None,
    limit: int,
    county: str | None = None,
) -> list[dict[str, Any]]:
    """Every override in order of decision, with whether it still lasts (for review)."""
    rows = await connection.fetch(SQL["consent_overrides_open"], today, after, limit, county)
    return [dict(row) for row in rows]


async def unlink_unshared(
    connection: asyncpg.Connection, participant_id: uuid.UUID, keep: list[str]
) -> None:
    """Unlink every provider but the registering one and those in `keep`."""
    await connection.execute(SQL["links_unshared"], participant_id, keep)


async def consent_changes_due(
    connection: asyncpg.Connection, *, today: date, limit: int
) -> list[uuid.UUID]:
    """People whose consent expired or override ended, not yet announced (SKIP LOCKED)."""
    rows = await connection.fetch(SQL["consent_changes_due"], today, limit)
    return [row["participant_id"] for row in rows]


async def consent_changes_announced(
    connection: asyncpg.Connection, participant_id: uuid.UUID, today: date
) -> None:
    """Mark what ran out before `today` as announced."""
    await connection.execute(SQL["consent_changes_announced"], participant_id, today)
