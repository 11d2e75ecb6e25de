"""Exactly-once projections of the domain events into reporting's tables.

A batch of records is applied in one transaction: checkpoints skip offsets already applied,
event ids skip re-published duplicates, and only what passes both guards changes the
tables. The Kafka offset is committed after the transaction, so a crash anywhere replays
the batch and the guards make the replay a no-op.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import asyncpg
from faststream.exceptions import NackMessage
from pydantic import ValidationError

from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.events import EVENTS, CloudEvent, Event, ParticipantRegistered, read_event
from durchstarten.events.coaching import CaseOpened, FollowUpRecorded, PlacementRecorded
from durchstarten.events.courses import (
    CourseScheduled,
    ExamResultRecorded,
    FundingAccrued,
    ParticipantDroppedOut,
    ParticipantEnrolled,
    ParticipationCompleted,
)
from durchstarten.events.intake import (
    DuplicateConfirmed,
    ParticipantCorrected,
    ParticipantErased,
    ParticipantExited,
    ParticipantMoved,
)
from durchstarten.events.upcasting import current_type
from durchstarten.logging import get_logger
from durchstarten.messaging.broker import with_retries
from durchstarten.messaging.inbox import claim_new_offsets, first_times, position_of
from durchstarten.messaging.records import KafkaRecord
from durchstarten.service import ServiceRuntime
from reporting.versions import use_live_for_writing, use_schema

log = get_logger(__name__)
SQL = SqlFiles(Path(__file__).parent / "db")
PROJECTION = "reporting.projection.v1"

E = TypeVar("E", bound=Event)
Row = tuple[Any, ...]
"""The columns one event gives a statement, in the order of the statement's parameters."""
RowOf = Callable[[Any, str], Row]
"""(event, its envelope's id) -> its row."""


def _rows(
    event: type[E], rows: Mapping[str, Callable[[E, str], Row]]
) -> tuple[type[Event], Mapping[str, RowOf]]:
    """One entry of EFFECTS, typed so that mypy checks each row against the event's model."""
    return event, rows


EFFECTS: dict[type[Event], Mapping[str, RowOf]] = dict(
    (
        _rows(
            ParticipantRegistered,
            {
                "participants_upsert": lambda e, event_id: (
                    e.participant_id,
                    e.provider,
                    e.entry_date,
                    e.age_at_entry,
                    e.sex.value,
                    e.country_of_origin,
                    e.residence_status.status.value,
                    e.municipality,
                    e.county,
                    e.school_education.value,
                    e.german_level_at_entry.overall.value,
                    event_id,
                )
            },
        ),
        _rows(
            ParticipantExited,
            {"exits_upsert": lambda e, _: (e.participant_id, e.exit_date, e.reason.value)},
        ),
        _rows(
            CaseOpened,
            {
                "modules_upsert": lambda e, _: (
                    e.participant_id,
                    e.module.value,
                    e.provider,
                    e.opened_on,
                )
            },
        ),
        _rows(
            PlacementRecorded,
            {
                "placements_upsert": lambda e, _: (
                    e.placement_id,
                    e.participant_id,
                    e.provider,
                    e.site,
                    e.category.value,
                    e.start_date,
                    e.employment_kind.value if e.employment_kind else None,
                )
            },
        ),
        _rows(
            ExamResultRecorded,
            {
                "exams_upsert": lambda e, _: (
                    e.course_id,
                    e.participant_id,
                    e.exam_date,
                    e.overall.value,
                    e.provider,
                )
            },
        ),
        _rows(
            ParticipantEnrolled,
            {
                # An enrolment starts a module participation as well as being a course fact.
                "modules_upsert": lambda e, _: (
                    e.participant_id,
                    e.module.value,
                    e.provider,
                    e.enrolled_on,
                ),
                "course_participations_upsert": lambda e, _: (
                    e.course_id,
                    e.participant_id,
                    e.module.value,
                    "enrolled",
                    e.enrolled_on,
                    e.provider,
                ),
            },
        ),
        _rows(
            ParticipationCompleted,
            {
                "course_participations_upsert": lambda e, _: (
                    e.course_id,
                    e.participant_id,
                    e.module.value,
                    "completed",
                    e.completed_on,
                    e.provider,
                )
            },
        ),
        _rows(
            ParticipantDroppedOut,
            {
                "course_participations_upsert": lambda e, _: (
                    e.course_id,
                    e.participant_id,
                    e.module.value,
                    "dropped-out",
                    e.dropped_on,
                    e.provider,
                )
            },
        ),
        _rows(
            ParticipantMoved,
            {
                "moves_upsert": lambda e, event_id: (
                    event_id,
                    e.participant_id,
                    e.moved_on,
                    e.from_county,
                    e.to_county,
                    e.municipality,
                )
            },
        ),
        _rows(
            CourseScheduled,
            {"courses_upsert": lambda e, _: (e.course_id, e.provider, e.site)},
        ),
        _rows(
            FundingAccrued,
            {
                "funding_upsert": lambda e, event_id: (
                    event_id,
                    e.course_id,
                    e.module.value,
                    e.kind.value,
                    e.accrued_on,
                    e.ue,
                    e.amount_cents,
                    e.provider,
                )
            },
        ),
        _rows(
            FollowUpRecorded,
            {
                "follow_ups_upsert": lambda e, _: (
                    e.participant_id,
                    e.window.value,
                    e.observed_on,
                    e.provider,
                    e.category.value,
                    e.employment_kind.value if e.employment_kind else None,
                )
            },
        ),
        _rows(
            ParticipantCorrected,
            {
                "participants_correct": lambda e, _: (
                    e.participant_id,
                    e.age_at_entry,
                    e.sex.value,
                    e.country_of_origin,
                )
            },
        ),
        _rows(
            ParticipantErased,
            {"participants_erase": lambda e, _: (e.participant_id, e.erased_on)},
        ),
        _rows(
            DuplicateConfirmed,
            {"participants_merge": lambda e, _: (e.participant_id, e.duplicate_of)},
        ),
    )
)
"""Event type -> SQL file -> the row one event of that type gives the file's statement.

The events whose facts the projection keeps are exactly these; every other known event is
only recorded as seen.
"""

APPLIED_LAST = ("participants_erase", "participants_merge")
"""Run after every other statement of a batch, erasures first: one person's events share a
partition, so an erasure or a merge never precedes the facts it removes, and whatever the
same batch wrote for the person is removed with the rest."""

_FED = dict.fromkeys(name for rows in EFFECTS.values() for name in rows)
STATEMENTS: dict[str, str] = {
    name: SQL[name]  # looked up here: a missing file fails at import, not in a batch
    for name in (*(name for name in _FED if name not in APPLIED_LAST), *APPLIED_LAST)
}
"""SQL file -> its text, in the order a batch runs them: as EFFECTS first names them, except
for APPLIED_LAST."""

LAST_ROW_PER_KEY = {"follow_ups_upsert": 3, "participants_correct": 1}
"""Statements that update on conflict may touch a row only once: of the rows whose first N
columns (the conflict key) agree, the last in batch order is written (the later observation
of the same day counts)."""

_PROJECTED_TYPES = frozenset(
    type_ for type_ in EVENTS if current_type(type_) in {model.event_type for model in EFFECTS}
)
"""The envelope types validated in full: the projected events, old versions included."""


class Parsed(NamedTuple):
    """A record that parsed, with its envelope and (if the projection keeps it) its event."""

    record: KafkaRecord
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

    async def apply_batch(self, records: Sequence[KafkaRecord]) -> None:
        """Apply a batch exactly once; records that cannot be used are dead-lettered.

        If the batch as a whole fails for a reason other than a transient fault, the records
        are applied one at a time, so a single bad record is parked (and its offset passed)
        instead of stopping every partition in the batch.
        """
        await self.apply_parsed(records, await self.parse_batch(records))

    async def parse_batch(self, records: Sequence[KafkaRecord]) -> list[Parsed]:
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

    async def apply_parsed(self, records: Sequence[KafkaRecord], parsed: list[Parsed]) -> None:
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

    async def _apply_in_transaction(
        self, records: Sequence[KafkaRecord], parsed: list[Parsed]
    ) -> None:
        async def work() -> None:
            async with self._runtime.pool.acquire() as connection, connection.transaction():
                if self._schema is None:
                    await use_live_for_writing(connection)
                else:
                    await use_schema(connection, self._schema)
                await self._apply(connection, records, parsed)

        await with_retries(work, what=f"projection batch of {len(records)}")

    async def _apply_one_or_park(self, record: KafkaRecord, item: Parsed | None) -> None:
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

    async def _park(self, record: KafkaRecord, error_class: str, message: str) -> None:
        await self._runtime.dead_letters.park(
            record, error_class=error_class, error_message=message
        )
        self._runtime.metrics.messages.labels(record.topic, "dead-lettered").inc()

    async def _apply(
        self, connection: asyncpg.Connection, records: Sequence[KafkaRecord], parsed: list[Parsed]
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
    """Write a batch's new facts set-wise: one statement per SQL file, in STATEMENTS' order.

    Each statement gets its rows in batch order (where rows clash, a `DO NOTHING` upsert
    keeps the first), as columns: one array per parameter.
    """
    rows: dict[str, list[Row]] = {name: [] for name in STATEMENTS}
    for item in to_apply:
        if item.event is not None:
            for name, row_of in EFFECTS[type(item.event)].items():
                rows[name].append(row_of(item.event, item.envelope.id))
    for name, statement in STATEMENTS.items():
        batch = rows[name]
        if name in LAST_ROW_PER_KEY:
            batch = _last_per_key(batch, LAST_ROW_PER_KEY[name])
        if batch:
            await connection.execute(
                statement, *[list(column) for column in zip(*batch, strict=True)]
            )


def _parse(record: KafkaRecord) -> Parsed | tuple[str, str]:
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


def _last_per_key(rows: list[Row], key_columns: int) -> list[Row]:
    """One row per key (its first `key_columns` columns), the last in batch order."""
    return list({row[:key_columns]: row for row in rows}.values())


async def participant_count(connection: asyncpg.Connection) -> int:
    """Number of participants registered (not yet disclosure-controlled)."""
    count: int = await connection.fetchval(SQL["participants_count"])
    return count
