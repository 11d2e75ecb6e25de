"""Coaching's database access; the caller owns the transaction (connection first).

Inside a batch (`durchstarten.messaging.batch`), the cases, participants, open modules and
session ids the batch's commands name are read ahead in one statement each (`read_ahead`);
the readers below answer from there, and the writers keep it up to date or forget it.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from coaching.domain import CaseView, ParticipantView, ReferralView
from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.events.coaching import (
    CaseClosed,
    CaseOpened,
    FollowUpRecorded,
    PlacementRecorded,
    ReferralAnswered,
    ReferralMade,
    SessionRecorded,
)
from durchstarten.events.parts import ConsentFact
from durchstarten.events.values import ConsentScope
from durchstarten.messaging import answers, batch
from durchstarten.messaging.batch import pending_for

SHARING = ConsentScope.DATA_SHARING_BETWEEN_PROVIDERS
SQL = SqlFiles(Path(__file__).parent / "db")
CASES, PARTICIPANTS, OPEN_MODULES, SESSIONS = "cases", "participants", "open_modules", "sessions"
"""The kinds of state a batch reads ahead (`PendingWrites.known`)."""
CASE_RANK = 0
"""Deferred cases are written before their sessions (`PendingWrites.defer`)."""


async def read_ahead(
    connection: asyncpg.Connection,
    *,
    case_ids: Iterable[uuid.UUID],
    participant_ids: Iterable[uuid.UUID],
    session_ids: Iterable[uuid.UUID],
) -> None:
    """Read the named cases (locked), participants, open modules and sessions for the batch.

    Outside a batch nothing is read: every reader asks the database itself.
    """
    pending = pending_for(connection)
    if pending is None:
        return
    cases: dict[uuid.UUID, CaseView | None] = dict.fromkeys(sorted(set(case_ids)))
    if cases:
        for row in await connection.fetch(SQL["case_view_many"], list(cases)):
            cases[row["case_id"]] = CaseView(**dict(row))
    people: dict[uuid.UUID, ParticipantView | None] = dict.fromkeys(set(participant_ids))
    modules: dict[uuid.UUID, set[str]] = {person: set() for person in people}
    if people:
        for row in await connection.fetch(SQL["participant_view_many"], list(people)):
            people[row["participant_id"]] = _participant_view(row)
        for row in await connection.fetch(SQL["open_modules_many"], list(people)):
            modules[row["participant_id"]].add(row["module"])
    sessions: dict[uuid.UUID, bool] = dict.fromkeys(set(session_ids), False)
    if sessions:
        for row in await connection.fetch(SQL["sessions_existing"], list(sessions)):
            sessions[row["session_id"]] = True
    pending.known.update(
        {CASES: cases, PARTICIPANTS: people, OPEN_MODULES: modules, SESSIONS: sessions}
    )


async def upsert_participant(
    connection: asyncpg.Connection, participant_id: uuid.UUID, provider: str, entry_date: date
) -> None:
    """Learn of a registered participant (from intake)."""
    batch.forget(connection, PARTICIPANTS)
    await connection.execute(SQL["participant_upsert"], participant_id, provider, entry_date)


async def grant_access(
    connection: asyncpg.Connection, participant_id: uuid.UUID, provider: str
) -> None:
    """Let another provider act for the participant."""
    batch.forget(connection, PARTICIPANTS)
    await connection.execute(SQL["access_grant"], participant_id, provider)


async def record_exit(connection: asyncpg.Connection, participant_id: uuid.UUID, day: date) -> None:
    """Record the exit and schedule the follow-ups."""
    batch.forget(connection, PARTICIPANTS)
    await connection.execute(SQL["participant_exit"], participant_id, day)


async def erase(connection: asyncpg.Connection, participant_id: uuid.UUID) -> None:
    """Remove every person-level row of the participant."""
    batch.forget(connection)
    await connection.execute(SQL["participant_erase"], participant_id)
    await answers.forget(connection, participant_id)  # the answers to their commands


async def participant(
    connection: asyncpg.Connection, participant_id: uuid.UUID
) -> ParticipantView | None:
    """What coaching knows of the participant."""
    known = batch.known(connection, PARTICIPANTS)
    if participant_id in known:
        found: ParticipantView | None = known[participant_id]
        return found
    row = await connection.fetchrow(SQL["participant_view"], participant_id)
    return _participant_view(row) if row is not None else None


def _participant_view(row: asyncpg.Record) -> ParticipantView:
    return ParticipantView(
        row["participant_id"], row["entry_date"], row["exit_date"], frozenset(row["providers"])
    )


async def case(connection: asyncpg.Connection, case_id: uuid.UUID) -> CaseView | None:
    """A case, locked for the transaction."""
    known = batch.known(connection, CASES)
    if case_id in known:
        found: CaseView | None = known[case_id]
        return found
    row = await connection.fetchrow(SQL["case_view"], case_id)
    return CaseView(**dict(row)) if row is not None else None


async def open_modules(connection: asyncpg.Connection, participant_id: uuid.UUID) -> set[str]:
    """Modules in which the participant has an open case."""
    known = batch.known(connection, OPEN_MODULES)
    if participant_id in known:
        return set(known[participant_id])
    return {row["module"] for row in await connection.fetch(SQL["open_modules"], participant_id)}


async def referral(connection: asyncpg.Connection, referral_id: uuid.UUID) -> ReferralView | None:
    """A referral, locked for the transaction."""
    row = await connection.fetchrow(SQL["referral_view"], referral_id)
    return ReferralView(**dict(row)) if row is not None else None


async def insert_case(connection: asyncpg.Connection, event: CaseOpened) -> None:
    """Store a new case; in a batch that read its id ahead, at the flush."""
    row = (
        event.case_id,
        event.participant_id,
        event.provider,
        event.module.value,
        event.site,
        event.opened_on,
    )
    pending = pending_for(connection)
    if pending is not None and event.case_id in pending.known.get(CASES, {}):
        # Known not to exist (the rule refused one that does): its sessions follow it.
        pending.defer(SQL["case_insert"], *row, rank=CASE_RANK)
    else:
        await connection.execute(SQL["case_insert"], *row)
    # The batch reads the new case from here on (outside one, `batch.known` is a throwaway).
    batch.known(connection, CASES)[event.case_id] = CaseView(*row, None)
    modules = batch.known(connection, OPEN_MODULES)
    if event.participant_id in modules:
        modules[event.participant_id].add(event.module.value)


async def close_case(connection: asyncpg.Connection, event: CaseClosed) -> None:
    """Close a case."""
    await connection.execute(SQL["case_close"], event.case_id, event.closed_on, event.reason.value)
    cases = batch.known(connection, CASES)
    closed = cases.get(event.case_id)
    if closed is not None:
        cases[event.case_id] = dataclasses.replace(closed, closed_on=event.closed_on)
    batch.forget(connection, OPEN_MODULES)


async def insert_session(connection: asyncpg.Connection, event: SessionRecorded) -> bool:
    """Store a session; False when its id exists already.

    In a batch that read the session's id ahead, the row is written at the flush.
    """
    row = (
        event.session_id,
        event.case_id,
        event.date,
        event.minutes,
        list(event.languages),
        [topic.value for topic in event.topics],
        event.coach_id,
    )
    pending = pending_for(connection)
    sessions = batch.known(connection, SESSIONS)
    if pending is not None and event.session_id in sessions:
        if sessions[event.session_id]:
            return False
        sessions[event.session_id] = True
        pending.defer(SQL["session_insert_new"], *row, rank=CASE_RANK + 1)
        return True
    inserted = await connection.fetchval(SQL["session_insert"], *row)
    return inserted is not None


async def insert_referral(connection: asyncpg.Connection, event: ReferralMade) -> bool:
    """Store a referral; False when its id exists already."""
    target = event.target
    inserted = await connection.fetchval(
        SQL["referral_insert"],
        event.referral_id,
        event.case_id,
        event.participant_id,
        event.provider,
        event.made_on,
        target.kind.value,
        target.course_type.value if target.course_type else None,
        target.provider,
        target.service.value if target.service else None,
    )
    return inserted is not None


async def answer_referral(connection: asyncpg.Connection, event: ReferralAnswered) -> None:
    """Record the answer to a referral."""
    await connection.execute(
        SQL["referral_answer"],
        event.referral_id,
        event.answer.value,
        event.answered_on,
        event.answered_by,
    )


async def insert_placement(connection: asyncpg.Connection, event: PlacementRecorded) -> bool:
    """Store a placement; False when its id exists already."""
    inserted = await connection.fetchval(
        SQL["placement_insert"],
        event.placement_id,
        event.case_id,
        event.participant_id,
        event.category.value,
        event.start_date,
        event.employment_kind.value if event.employment_kind else None,
    )
    return inserted is not None


async def insert_follow_up(connection: asyncpg.Connection, event: FollowUpRecorded) -> None:
    """Store a follow-up observation (the last in its window counts)."""
    await connection.execute(
        SQL["follow_up_insert"],
        event.participant_id,
        event.window.value,
        event.case_id,
        event.observed_on,
        event.category.value,
        event.employment_kind.value if event.employment_kind else None,
    )


async def due_referrals(
    connection: asyncpg.Connection,
    on: date,
    answer_days: int,
    provider: str | None,
    *,
    after: tuple[Any, ...] = (None, None),
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Referrals still unanswered `answer_days` after they were made.

    A page: at most `limit` rows after the key `after` (made_on, referral_id).
    """
    rows = await connection.fetch(SQL["due_referrals"], on, answer_days, provider, *after, limit)
    return [dict(row) for row in rows]


async def due_follow_ups(
    connection: asyncpg.Connection,
    on: date,
    provider: str | None,
    *,
    after: tuple[Any, ...] = (None, None, None),
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Follow-ups due by `on` and not yet recorded.

    A page: at most `limit` rows after the key `after` (due_on, participant_id, time_window).
    """
    rows = await connection.fetch(SQL["due_follow_ups"], on, provider, *after, limit)
    return [dict(row) for row in rows]


async def case_details(connection: asyncpg.Connection, case_id: uuid.UUID) -> dict[str, Any] | None:
    """A case with its sessions summed, its referrals, placements and follow-ups."""
    row = await connection.fetchrow(SQL["case_details"], case_id)
    if row is None:
        return None
    details = dict(row)
    placements = [dict(r) for r in await connection.fetch(SQL["case_placements"], case_id)]
    details["placements"] = placements
    details["current_placement"] = placements[0] if placements else None
    details["referrals"] = [dict(r) for r in await connection.fetch(SQL["case_referrals"], case_id)]
    details["follow_ups"] = [
        dict(r) for r in await connection.fetch(SQL["case_follow_ups"], row["participant_id"])
    ]
    return details


# --- consent -----------------------------------------------------------------------------


async def set_consent(
    connection: asyncpg.Connection, participant_id: uuid.UUID, consent: ConsentFact | None
) -> None:
    """Keep whether (and until when) the person consented to data sharing between providers."""
    shares = consent is not None and SHARING in consent.scopes
    expires_on = consent.expires_on if consent else None
    await connection.execute(SQL["participant_consent"], participant_id, shares, expires_on)


async def replace_overrides(
    connection: asyncpg.Connection, participant_id: uuid.UUID, overrides: list[tuple[str, date]]
) -> None:
    """The coordinators' overrides that last, as intake announced them."""
    await connection.execute(
        SQL["consent_overrides_replace"],
        participant_id,
        [provider for provider, _ in overrides],
        [until for _, until in overrides],
    )


async def may_share(
    connection: asyncpg.Connection, participant_id: uuid.UUID, provider: str, day: date
) -> bool:
    """Whether the person's data may go to `provider` on `day` (consent or override)."""
    allowed: bool | None = await connection.fetchval(
        SQL["may_share"], participant_id, provider, day
    )
    return bool(allowed)


async def revoke_unshared(
    connection: asyncpg.Connection, participant_id: uuid.UUID, keep: list[str]
) -> None:
    """Other providers lose access, but the registering one and those in `keep`."""
    await connection.execute(SQL["access_unshared"], participant_id, keep)
