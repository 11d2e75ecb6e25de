"""Intake's reads: a participant's record and the coordinators' search, both audited.

Every read of identifiers is recorded in the audit trail with the caller and the purpose
they gave; a provider sees only the participants linked to it.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import asyncpg

from durchstarten import audit
from durchstarten.messaging.commands import Actor
from durchstarten.pagination import PageRequest
from durchstarten.retention import DeletionPeriods
from intake import domain, identities, repository
from intake.identities import KeyRing
from intake.matching import Identity, name_similarity

SEARCH_SIMILARITY = 0.85
PROVIDER_PRIVATE = ("phone", "email", "provider_reference")
"""What only the registering provider (and county staff) sees of a person's identifiers."""


async def participant_record(
    connection: asyncpg.Connection,
    ring: KeyRing,
    participant_id: uuid.UUID,
    *,
    actor: Actor,
    purpose: str,
    periods: DeletionPeriods,
    action: str = "identity.read",
) -> dict[str, Any] | None:
    """A participant's identifiers, status and dated histories; None if not visible to actor.

    None is the answer for an unknown id and for another provider's participant alike.
    `periods`: the deletion plan's, after exit and without one.
    `action`: what the audit trail records (a read, an access export).
    """
    state = await repository.load_state(connection, participant_id)
    linked = await repository.provider_linked(connection, participant_id, actor.provider)
    if state is None or not domain.may_act_on(actor, linked=linked, county=state.county):
        return None
    opened = (await ring.open(connection, [participant_id])).get(participant_id)
    identity = opened.fields if opened else None
    if identity is not None and not actor.coordinator and actor.provider != state.provider:
        # Assigned later (the same person registered twice): names and birth date to
        # recognise them, but not the registering provider's contact data or reference.
        identity = {k: v for k, v in identity.items() if k not in PROVIDER_PRIVATE}
    await audit.record(
        connection,
        actor=actor.subject,
        action=action,
        participant_id=participant_id,
        purpose=purpose,
    )
    return {
        "participant_id": str(participant_id),
        "status": state.status,
        "programme": state.programme,
        "county": state.county,
        "municipality": state.municipality,
        "entry_date": state.entry_date.isoformat(),
        "exit_date": state.exit_date.isoformat() if state.exit_date else None,
        "identity": identity,
        "history": await repository.history(connection, participant_id),
        "deletion": await deletion_status(connection, state, periods, show_hold=actor.coordinator),
    }


async def deletion_status(
    connection: asyncpg.Connection,
    state: repository.ParticipantState,
    periods: DeletionPeriods,
    *,
    show_hold: bool,
) -> dict[str, Any]:
    """When the identifiers go (or went, and on what basis), and the legal hold in force.

    The hold (a legal claim may be behind it) is for county staff only (`show_hold`).
    """
    erasure = await repository.erasure_of(connection, state.participant_id)
    hold = await repository.legal_hold_in_force(connection, state.participant_id)
    due = None
    if erasure is None:
        due = periods.deletion_date(entry_date=state.entry_date, exit_date=state.exit_date)
    return {
        "deletion_date": due.isoformat() if due else None,
        "legal_hold": (
            {"set_by": hold["set_by"], "set_at": hold["set_at"].isoformat()}
            if hold and show_hold
            else None
        ),
        "erased": (
            {"on": erasure["erased_on"].isoformat(), "basis": erasure["basis"]} if erasure else None
        ),
    }


async def search(
    connection: asyncpg.Connection,
    ring: KeyRing,
    *,
    name: str,
    birth_date: date | None,
    subject: str,
    purpose: str,
    page: PageRequest,
    county: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Registrations whose names are like `name` (born in `birth_date`'s year, if given).

    One page of them in pseudonym order, and the cursor of the next page. The candidates
    come from the blocking index (a handful per name) and are compared once decrypted, so a
    page is cut from the compared candidates; only the page's identifiers leave, and the
    audit trail counts those. `county`: a coordinator's, whose search finds only the
    people of that county (None: every county, for an administrator).
    """
    probe = Identity(name, "", birth_date or date(1950, 1, 1))
    after = page.after[0] if page.after is not None else None
    found = []
    for opened in await identities.open_candidates(
        connection, ring, identities.index_tokens(ring.vault, probe).search
    ):
        other = opened.identity
        if after is not None and opened.participant_id <= after:
            continue
        if name_similarity(probe, other) < SEARCH_SIMILARITY:
            continue
        if birth_date is not None and other.birth_date.year != birth_date.year:
            continue
        found.append(opened)
    if county is not None:
        ours = await repository.in_county(connection, [o.participant_id for o in found], county)
        found = [o for o in found if o.participant_id in ours]
    found.sort(key=lambda opened: opened.participant_id)
    shown, next_cursor = page.page(found[: page.fetch_limit()], lambda o: (o.participant_id,))
    await audit.record(
        connection,
        actor=subject,
        action="identity.search",
        participant_id=None,
        purpose=f"{purpose} ({len(shown)} found)",
    )
    results = [{"participant_id": str(o.participant_id), "identity": o.fields} for o in shown]
    return results, next_cursor
