"""Courses' database access; the caller owns the transaction (connection first).

Inside a batch (`durchstarten.messaging.batch`), the courses, standings, attended UE and
delivered days the batch's commands name are read ahead in one statement each
(`read_ahead`); the readers below answer from there, the writers keep it up to date, and
attendance is written at the flush.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from courses.domain import CourseView, ParticipantView
from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.events.courses import AttendanceRecorded, CourseScheduled, ExamResultRecorded
from durchstarten.messaging import answers, batch
from durchstarten.messaging.batch import pending_for

SQL = SqlFiles(Path(__file__).parent / "db")
COURSES, STANDINGS, ATTENDED, DAYS = "courses", "standings", "attended", "days"
"""The kinds of state a batch reads ahead (`PendingWrites.known`)."""


async def read_ahead(
    connection: asyncpg.Connection,
    *,
    courses: Iterable[uuid.UUID],
    places: Iterable[tuple[uuid.UUID, uuid.UUID]],
    attendance: Iterable[tuple[uuid.UUID, uuid.UUID, str, date]],
) -> None:
    """Read the named courses (locked), standings, attended UE and delivered days.

    `places` are (course, participant) pairs; `attendance` (course, participant, part, day).
    Outside a batch nothing is read.
    """
    pending = pending_for(connection)
    if pending is None:
        return
    found: dict[uuid.UUID, CourseView | None] = dict.fromkeys(sorted(set(courses)))
    if found:
        for row in await connection.fetch(SQL["course_view_many"], list(found)):
            found[row["course_id"]] = CourseView(**dict(row))
    standings: dict[tuple[uuid.UUID, uuid.UUID], str | None] = dict.fromkeys(set(places))
    if standings:
        pairs = list(standings)
        for row in await connection.fetch(
            SQL["enrolment_status_many"], [c for c, _ in pairs], [p for _, p in pairs]
        ):
            standings[(row["course_id"], row["participant_id"])] = row["status"]
    wanted = list(attendance)
    attended: dict[tuple[uuid.UUID, uuid.UUID, str], int] = {
        (course, person, part): 0 for course, person, part, _ in wanted
    }
    days: dict[tuple[uuid.UUID, str, date], int] = {
        (course, part, day): 0 for course, _, part, day in wanted
    }
    if wanted:
        course_ids, people, parts, dates = (list(column) for column in zip(*wanted, strict=True))
        for row in await connection.fetch(SQL["attended_in_part_many"], course_ids, people, parts):
            attended[(row["course_id"], row["participant_id"], row["part"])] = int(row["ue"])
        for row in await connection.fetch(SQL["course_days_many"], course_ids, parts, dates):
            days[(row["course_id"], row["part"], row["date"])] = int(row["ue"])
    pending.known.update({COURSES: found, STANDINGS: standings, ATTENDED: attended, DAYS: days})


async def upsert_participant(
    connection: asyncpg.Connection,
    participant_id: uuid.UUID,
    entry_date: date,
    employment_ban: bool,
) -> None:
    """Learn of a registered participant (from intake)."""
    await connection.execute(SQL["participant_upsert"], participant_id, entry_date, employment_ban)


async def set_placement(
    connection: asyncpg.Connection, participant_id: uuid.UUID, category: str
) -> None:
    """The participant's newest placement (from coaching)."""
    await connection.execute(SQL["participant_placement"], participant_id, category)


async def erase(connection: asyncpg.Connection, participant_id: uuid.UUID) -> None:
    """Remove every person-level row of the participant."""
    batch.forget(connection)
    await connection.execute(SQL["participant_erase"], participant_id)
    await answers.forget(connection, participant_id)  # the answers to their commands


async def participant(
    connection: asyncpg.Connection, participant_id: uuid.UUID
) -> ParticipantView | None:
    """What courses knows of the participant."""
    row = await connection.fetchrow(SQL["participant_view"], participant_id)
    return ParticipantView(**dict(row)) if row is not None else None


async def course(connection: asyncpg.Connection, course_id: uuid.UUID) -> CourseView | None:
    """A course, locked for the transaction."""
    known = batch.known(connection, COURSES)
    if course_id in known:
        found: CourseView | None = known[course_id]
        return found
    row = await connection.fetchrow(SQL["course_view"], course_id)
    return CourseView(**dict(row)) if row is not None else None


async def insert_course(connection: asyncpg.Connection, event: CourseScheduled) -> None:
    """Store a scheduled course (the batch reads it from the table from here on)."""
    batch.known(connection, COURSES).pop(event.course_id, None)
    await connection.execute(
        SQL["course_insert"],
        event.course_id,
        event.provider,
        event.course_type.value,
        event.module.value,
        event.site,
        event.start_date,
        event.end_date,
        [part.model_dump() for part in event.parts],
        event.target_level.value if event.target_level else None,
        event.capacity,
    )


async def status(
    connection: asyncpg.Connection, course_id: uuid.UUID, participant_id: uuid.UUID
) -> str | None:
    """The participant's standing in the course (None: never asked for a place)."""
    known = batch.known(connection, STANDINGS)
    if (course_id, participant_id) in known:
        standing: str | None = known[(course_id, participant_id)]
        return standing
    value: str | None = await connection.fetchval(
        SQL["enrolment_status"], course_id, participant_id
    )
    return value


async def counts(connection: asyncpg.Connection, course_id: uuid.UUID) -> tuple[int, int]:
    """Places taken and people waiting."""
    row = await connection.fetchrow(SQL["enrolment_counts"], course_id)
    return int(row["taken"]), int(row["waiting"])


async def request_place(
    connection: asyncpg.Connection,
    course_id: uuid.UUID,
    participant_id: uuid.UUID,
    *,
    state: str,
    requested_on: date,
) -> None:
    """Store a request: enrolled now, or on the waitlist."""
    enrolled_on = requested_on if state == "enrolled" else None
    await connection.execute(
        SQL["enrolment_upsert"], course_id, participant_id, state, requested_on, enrolled_on
    )
    batch.known(connection, STANDINGS)[(course_id, participant_id)] = state


async def set_state(
    connection: asyncpg.Connection,
    course_id: uuid.UUID,
    participant_id: uuid.UUID,
    state: str,
    day: date,
    *,
    reason: str | None = None,
) -> None:
    """Move an enrolment to another state on `day`."""
    await connection.execute(SQL["enrolment_set"], course_id, participant_id, state, day, reason)
    standings = batch.known(connection, STANDINGS)
    # As the statement: only an enrolment that exists moves.
    if standings.get((course_id, participant_id)) is not None:
        standings[(course_id, participant_id)] = state


async def first_waiting(connection: asyncpg.Connection, course_id: uuid.UUID) -> uuid.UUID | None:
    """Who waits longest for a place."""
    value: uuid.UUID | None = await connection.fetchval(SQL["waitlist_first"], course_id)
    return value


async def attended(
    connection: asyncpg.Connection, course_id: uuid.UUID, participant_id: uuid.UUID, part: str
) -> int:
    """UE the participant attended in a part so far."""
    known = batch.known(connection, ATTENDED)
    if (course_id, participant_id, part) in known:
        so_far: int = known[(course_id, participant_id, part)]
        return so_far
    value: int = await connection.fetchval(SQL["attended_in_part"], course_id, participant_id, part)
    return value


async def add_attendance(
    connection: asyncpg.Connection, event: AttendanceRecorded
) -> tuple[int, int]:
    """Store attendance; return the UE delivered that day before and after it.

    In a batch that read the day ahead, from what it holds, and written at the flush.
    """
    row = (event.course_id, event.participant_id, event.part, event.date, event.ue)
    pending = pending_for(connection)
    attended = batch.known(connection, ATTENDED)
    days = batch.known(connection, DAYS)
    person = (event.course_id, event.participant_id, event.part)
    day = (event.course_id, event.part, event.date)
    if pending is not None and person in attended and day in days:
        attended[person] += event.ue
        before = days[day]
        days[day] = max(before, event.ue)
        pending.defer(SQL["attendance_insert"], *row)
        pending.defer(SQL["course_day_raise"], event.course_id, event.part, event.date, event.ue)
        return before, days[day]
    await connection.execute(SQL["attendance_insert"], *row)
    delivered = await connection.fetchrow(
        SQL["course_day_upsert"], event.course_id, event.part, event.date, event.ue
    )
    return int(delivered["before"]), int(delivered["now"])


async def add_exam(connection: asyncpg.Connection, event: ExamResultRecorded) -> None:
    """Store an exam result."""
    await connection.execute(
        SQL["exam_insert"],
        event.course_id,
        event.participant_id,
        event.exam_date,
        event.listening_reading.value if event.listening_reading else None,
        event.writing.value if event.writing else None,
        event.speaking.value if event.speaking else None,
        event.overall.value,
    )


async def add_certificate(
    connection: asyncpg.Connection,
    course_id: uuid.UUID,
    participant_id: uuid.UUID,
    certificate: str,
    issued_on: date,
) -> None:
    """Store a certificate."""
    await connection.execute(
        SQL["certificate_insert"], course_id, participant_id, certificate, issued_on
    )


async def roster(connection: asyncpg.Connection, course_id: uuid.UUID) -> dict[str, Any]:
    """Places and waitlist in order, and the teaching delivered per part."""
    rows = await connection.fetch(SQL["course_roster"], course_id)
    delivered = await connection.fetch(SQL["course_delivered"], course_id)
    return {
        "participants": [dict(row) for row in rows],
        "delivered_ue": {row["part"]: int(row["ue"]) for row in delivered},
    }
