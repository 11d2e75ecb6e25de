"""Exactly-once projections of the domain events into reporting's tables.

A batch of records is applied in one transaction: checkpoints skip offsets already applied,
event ids skip re-published duplicates, and only what passes both guards changes the
tables. The Kafka offset is committed after the transaction, so a crash anywhere replays
the batch and the guards make the replay a no-op.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
from faststream.exceptions import NackMessage
from pydantic import ValidationError

from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.events import EVENTS, CloudEvent, Event, ParticipantRegistered, read_event
from durchstarten.events.coaching import CaseOpened, FollowUpRecorded, PlacementRecorded
from durchstarten.events.courses import (
    ExamResultRecorded,
    FundingAccrued,
    ParticipantDroppedOut,
    ParticipantEnrolled,
    ParticipationCompleted,
)
from durchstarten.events.intake import DuplicateConfirmed, ParticipantErased, ParticipantExited
from durchstarten.events.upcasting import current_type
from durchstarten.logging import get_logger
from durchstarten.messaging.broker import with_retries
from durchstarten.messaging.inbox import claim_new_offsets, first_times, position_of
from durchstarten.service import ServiceRuntime
from reporting.versions import use_live_for_writing, use_schema

log = get_logger(__name__)
SQL = SqlFiles(Path(__file__).parent / "db")
PROJECTION = "reporting.projection.v1"

PROJECTED_EVENTS: tuple[type[Event], ...] = (
    ParticipantRegistered,
    ParticipantExited,
    ParticipantErased,
    DuplicateConfirmed,
    CaseOpened,
    PlacementRecorded,
    FollowUpRecorded,
    ParticipantEnrolled,
    ParticipationCompleted,
    ParticipantDroppedOut,
    ExamResultRecorded,
    FundingAccrued,
)
"""The events whose facts the projection keeps; `_write_effects` handles exactly these."""


_PROJECTED_TYPES = frozenset(
    type_
    for type_ in EVENTS
    if current_type(type_) in {model.event_type for model in PROJECTED_EVENTS}
)


class Parsed(NamedTuple):
    """A record that parsed, with its envelope and (if the projection keeps it) its event."""

    record: Any
    envelope: CloudEvent
    event: Event | None


class Projector:
    """Applies batches of domain-event records to the projection tables of one version."""

    def __init__(self, runtime: ServiceRuntime, *, schema: str | None = None) -> None:
        """Bind to the runtime's pool, dead letters and metrics.

        `schema` None follows the live version (the service's consumer); a rebuild names
        the version it is building.
        """
        self._runtime = runtime
        self._schema = schema

    @property
    def schema(self) -> str | None:
        """The version this projector writes into (None: whichever is live)."""
        return self._schema

    async def apply_batch(self, records: Sequence[Any]) -> None:
        """Apply a batch exactly once; records that cannot be used are dead-lettered.

        If the batch as a whole fails for a reason other than a transient fault, the records
        are applied one at a time, so a single bad record is parked (and its offset passed)
        instead of stopping every partition in the batch.
        """
        await self.apply_parsed(records, await self.parse_batch(records))

    async def parse_batch(self, records: Sequence[Any]) -> list[Parsed]:
        """The records that parse; the others are dead-lettered (their offsets still pass).

        Apart from `apply_parsed` so that a replay can parse the next batch while the
        database applies this one.
        """
        parsed: list[Parsed] = []
        for record in records:
            outcome = _parse(record)
            if isinstance(outcome, Parsed):
                parsed.append(outcome)
            else:
                await self._park(record, *outcome)
        return parsed

    async def apply_parsed(self, records: Sequence[Any], parsed: list[Parsed]) -> None:
        """Apply a parsed batch exactly once (one transaction; one by one if that fails)."""
        try:
            await self._apply_in_transaction(records, parsed)
        except NackMessage:
            raise
        except Exception as error:
            log.error(  # the class only: the text may quote event data
                "batch could not be applied; applying one by one",
                error_class=type(error).__name__,
            )
            by_position = {position_of(item.record): item for item in parsed}
            for record in records:
                item = by_position.get(position_of(record))
                await self._apply_one_or_park(record, item)

    async def _apply_in_transaction(self, records: Sequence[Any], parsed: list[Parsed]) -> None:
        async def work() -> None:
            async with self._runtime.pool.acquire() as connection, connection.transaction():
                if self._schema is None:
                    await use_live_for_writing(connection)
                else:
                    await use_schema(connection, self._schema)
                await self._apply(connection, records, parsed)

        await with_retries(work, what=f"projection batch of {len(records)}")

    async def _apply_one_or_park(self, record: Any, item: Parsed | None) -> None:
        try:
            await self._apply_in_transaction([record], [item] if item is not None else [])
        except NackMessage:
            raise
        except Exception as error:
            await self._runtime.dead_letters.park(
                record, error_class=type(error).__name__, error_message="could not be applied"
            )
            self._runtime.metrics.messages.labels(record.topic, "dead-lettered").inc()
            await self._apply_in_transaction([record], [])  # pass its offset, no effect

    async def _park(self, record: Any, error_class: str, message: str) -> None:
        await self._runtime.dead_letters.park(
            record, error_class=error_class, error_message=message
        )
        self._runtime.metrics.messages.labels(record.topic, "dead-lettered").inc()

    async def _apply(
        self, connection: asyncpg.Connection, records: Sequence[Any], parsed: list[Parsed]
    ) -> None:
        fresh_positions = await claim_new_offsets(
            connection, PROJECTION, [position_of(record) for record in records]
        )
        candidates: dict[str, Parsed] = {}
        for item in parsed:  # first occurrence wins within a batch, too
            if position_of(item.record) in fresh_positions:
                candidates.setdefault(item.envelope.id, item)
        new_ids = await first_times(connection, PROJECTION, list(candidates))
        to_apply = [item for event_id, item in candidates.items() if event_id in new_ids]
        await _write_effects(connection, to_apply)
        skipped = len(records) - len(to_apply)
        for topic, count in Counter(item.record.topic for item in to_apply).items():
            self._runtime.metrics.messages.labels(topic, "projected").inc(count)
        if skipped:
            log.debug("records skipped as already applied or unknown", count=skipped)


async def _write_effects(connection: asyncpg.Connection, to_apply: list[Parsed]) -> None:
    """Write a batch's new facts, kind by kind, set-wise (one statement per kind)."""
    registrations = [
        (item.envelope.id, item.event)
        for item in to_apply
        if isinstance(item.event, ParticipantRegistered)
    ]
    if registrations:
        await _insert_participants(connection, registrations)
    exits = [item.event for item in to_apply if isinstance(item.event, ParticipantExited)]
    if exits:
        await connection.execute(
            SQL["exits_upsert"],
            [e.participant_id for e in exits],
            [e.exit_date for e in exits],
            [e.reason.value for e in exits],
        )
    starts = [_module_start(item.event) for item in to_apply]
    starts_known = [s for s in starts if s is not None]
    if starts_known:
        await connection.execute(
            SQL["modules_upsert"],
            [s[0] for s in starts_known],
            [s[1] for s in starts_known],
            [s[2] for s in starts_known],
            [s[3] for s in starts_known],
        )
    placements = [i.event for i in to_apply if isinstance(i.event, PlacementRecorded)]
    if placements:
        await connection.execute(
            SQL["placements_upsert"],
            [e.placement_id for e in placements],
            [e.participant_id for e in placements],
            [e.provider for e in placements],
            [e.site for e in placements],
            [e.category.value for e in placements],
            [e.start_date for e in placements],
            [e.employment_kind.value if e.employment_kind else None for e in placements],
        )
    exams = [i.event for i in to_apply if isinstance(i.event, ExamResultRecorded)]
    if exams:
        await connection.execute(
            SQL["exams_upsert"],
            [e.course_id for e in exams],
            [e.participant_id for e in exams],
            [e.exam_date for e in exams],
            [e.overall.value for e in exams],
            [e.provider for e in exams],
        )
    course_facts = [f for f in (_course_fact(i.event) for i in to_apply) if f is not None]
    if course_facts:
        await connection.execute(
            SQL["course_participations_upsert"],
            *[list(column) for column in zip(*course_facts, strict=True)],
        )
    funds = [(i.envelope.id, i.event) for i in to_apply if isinstance(i.event, FundingAccrued)]
    if funds:
        await connection.execute(
            SQL["funding_upsert"],
            [event_id for event_id, _ in funds],
            [e.course_id for _, e in funds],
            [e.module.value for _, e in funds],
            [e.kind.value for _, e in funds],
            [e.accrued_on for _, e in funds],
            [e.ue for _, e in funds],
            [e.amount_cents for _, e in funds],
            [e.provider for _, e in funds],
        )
    follow_ups = _last_per_key(
        [i.event for i in to_apply if isinstance(i.event, FollowUpRecorded)],
        key=lambda e: (e.participant_id, e.window, e.observed_on),
    )
    if follow_ups:
        await connection.execute(
            SQL["follow_ups_upsert"],
            [e.participant_id for e in follow_ups],
            [e.window.value for e in follow_ups],
            [e.observed_on for e in follow_ups],
            [e.provider for e in follow_ups],
            [e.category.value for e in follow_ups],
            [e.employment_kind.value if e.employment_kind else None for e in follow_ups],
        )
    # Applied after the registrations of the same batch: one person's events share a
    # partition, so an erasure never precedes its registration.
    erased = [item.event for item in to_apply if isinstance(item.event, ParticipantErased)]
    if erased:
        await connection.execute(
            SQL["participants_erase"],
            [e.participant_id for e in erased],
            [e.erased_on for e in erased],
        )
    merged = [item.event for item in to_apply if isinstance(item.event, DuplicateConfirmed)]
    if merged:
        await connection.execute(
            SQL["participants_merge"],
            [e.participant_id for e in merged],
            [e.duplicate_of for e in merged],
        )


def _parse(record: Any) -> Parsed | tuple[str, str]:
    """The record's envelope, and its event if the projection keeps that event's facts.

    Only the events the projection uses are validated in full (old versions upcast): the
    rest are known facts it does not need (a coaching session, an attendance), read
    tolerantly and recorded as seen. A type the contract does not know, or an event that
    fails validation, gives (error class, message) for its dead letter instead.
    Synchronous on purpose: it runs for every record of every batch.
    """
    try:
        envelope = CloudEvent.from_json(record.value or b"")
        if envelope.type not in EVENTS:
            return "unknown-type", "not an event type of the contract"
        event = read_event(envelope) if envelope.type in _PROJECTED_TYPES else None
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        return "invalid-event", f"{first['type']} at {where}"
    return Parsed(record=record, envelope=envelope, event=event)


def _last_per_key(
    events: list[FollowUpRecorded], *, key: Callable[[FollowUpRecorded], Hashable]
) -> list[FollowUpRecorded]:
    """One event per key, the last in batch order (an upsert may touch a row only once)."""
    return list({key(event): event for event in events}.values())


CourseFact = tuple[uuid.UUID, uuid.UUID, str, str, date, str]


def _course_fact(event: Event | None) -> CourseFact | None:
    """(course, participant, module, what, day, provider) for enrolments, completions, drop-outs."""
    match event:
        case ParticipantEnrolled():
            what, day = "enrolled", event.enrolled_on
        case ParticipationCompleted():
            what, day = "completed", event.completed_on
        case ParticipantDroppedOut():
            what, day = "dropped-out", event.dropped_on
        case _:
            return None
    return (event.course_id, event.participant_id, event.module.value, what, day, event.provider)


def _module_start(event: Event | None) -> tuple[uuid.UUID, str, str, date] | None:
    """(participant, module, provider, start) when the event starts a module participation."""
    match event:
        case CaseOpened():
            return event.participant_id, event.module.value, event.provider, event.opened_on
        case ParticipantEnrolled():
            return event.participant_id, event.module.value, event.provider, event.enrolled_on
        case _:
            return None


async def _insert_participants(
    connection: asyncpg.Connection, rows: list[tuple[str, ParticipantRegistered]]
) -> None:
    await connection.execute(
        SQL["participants_upsert"],
        [event.participant_id for _, event in rows],
        [event.provider for _, event in rows],
        [event.entry_date for _, event in rows],
        [event.age_at_entry for _, event in rows],
        [event.sex.value for _, event in rows],
        [event.country_of_origin for _, event in rows],
        [event.residence_status.status.value for _, event in rows],
        [event.municipality.value for _, event in rows],
        [event.school_education.value for _, event in rows],
        [event.german_level_at_entry.overall.value for _, event in rows],
        [event_id for event_id, _ in rows],
    )


async def participant_count(connection: asyncpg.Connection) -> int:
    """Number of participants registered (not yet disclosure-controlled)."""
    count: int = await connection.fetchval(SQL["participants_count"])
    return count
