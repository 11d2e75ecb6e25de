"""Commands to and events of the courses service (modules F2, F3 and F4).

A participant's place in a course is identified by the pair (course_id, participant_id).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from durchstarten.events.base import Command, Event, Part, TolerantPart
from durchstarten.events.values import (
    CefrLevel,
    Cents,
    CertificateType,
    CourseType,
    DomainDate,
    DropOutReason,
    DtzLevel,
    DtzOverall,
    FundingKind,
    ModuleCode,
    ProviderId,
    SiteId,
    TeachingUnits,
)

CourseModule = Literal[ModuleCode.F2, ModuleCode.F3, ModuleCode.F4]
PartName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$"),
    Field(description="Name of a course part, a slug such as `basis-1` or `orientation`."),
]

_PARTICIPANT = "6f1c1a52-8d1b-4a8e-9a55-0f1d64c3c0de"
_COURSE = "2c5e7a90-1b3d-4f6a-8c0e-9d1f3a5b7c9e"


class CoursePart(Part):
    """A part of a course with its planned teaching units."""

    name: PartName
    planned_ue: TeachingUnits


class CoursePartFact(TolerantPart):
    """A course part as events carry it."""

    name: str
    planned_ue: int


# --- commands ---------------------------------------------------------------------------------


class ScheduleCourse(Command):
    """Put a course into the catalogue."""

    command_type: ClassVar[str] = "schedule-course.v1"

    course_id: uuid.UUID
    course_type: CourseType
    module: CourseModule
    site: SiteId
    start_date: DomainDate
    end_date: DomainDate
    parts: list[CoursePart] = Field(min_length=1, max_length=12)
    target_level: CefrLevel | None = None
    capacity: int | None = Field(
        default=None, ge=1, le=100, description="Places; none for individual tutoring."
    )

    example: ClassVar[dict[str, Any]] = {
        "course_id": _COURSE,
        "course_type": "jugendintegrationskurs",
        "module": "F4",
        "site": "herford",
        "start_date": "2022-03-01",
        "end_date": "2023-02-28",
        "parts": [
            {"name": "basis-1", "planned_ue": 300},
            {"name": "aufbau-1", "planned_ue": 300},
            {"name": "aufbau-2", "planned_ue": 300},
            {"name": "orientation", "planned_ue": 100},
        ],
        "target_level": "B1",
        "capacity": 20,
    }

    @field_validator("end_date")
    @classmethod
    def _ends_after_start(cls, end_date: date, info: ValidationInfo) -> date:
        start_date = info.data.get("start_date")
        if start_date is not None and end_date < start_date:
            msg = "the end date lies before the start date"
            raise ValueError(msg)
        return end_date

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len({part.name for part in self.parts}) != len(self.parts):
            msg = "part names must be unique"
            raise ValueError(msg)
        return self


class Enrol(Command):
    """Ask for a place for a participant; with no place free, the participant is waitlisted."""

    command_type: ClassVar[str] = "enrol.v1"

    course_id: uuid.UUID
    participant_id: uuid.UUID
    requested_on: DomainDate

    example: ClassVar[dict[str, Any]] = {
        "course_id": _COURSE,
        "participant_id": _PARTICIPANT,
        "requested_on": "2022-02-15",
    }


class RecordAttendance(Command):
    """Record the teaching units a participant attended on one day in one part."""

    command_type: ClassVar[str] = "record-attendance.v1"

    course_id: uuid.UUID
    participant_id: uuid.UUID
    part: PartName
    date: DomainDate
    ue: int = Field(ge=1, le=12, description="Teaching units attended that day (1-12).")

    example: ClassVar[dict[str, Any]] = {
        "course_id": _COURSE,
        "participant_id": _PARTICIPANT,
        "part": "basis-1",
        "date": "2022-03-02",
        "ue": 5,
    }


class RecordExamResult(Command):
    """Record a DTZ result per skill, or that the participant did not sit the exam.

    The overall result is derived by the courses service (the DTZ rule), never sent.
    """

    command_type: ClassVar[str] = "record-exam-result.v1"

    course_id: uuid.UUID
    participant_id: uuid.UUID
    exam_date: DomainDate
    did_not_sit: bool = False
    listening_reading: DtzLevel | None = None
    writing: DtzLevel | None = None
    speaking: DtzLevel | None = None

    example: ClassVar[dict[str, Any]] = {
        "course_id": _COURSE,
        "participant_id": _PARTICIPANT,
        "exam_date": "2023-02-10",
        "listening_reading": "B1",
        "writing": "A2",
        "speaking": "B1",
    }

    @model_validator(mode="after")
    def _skills_or_absent(self) -> Self:
        skills = (self.listening_reading, self.writing, self.speaking)
        if self.did_not_sit and any(skill is not None for skill in skills):
            msg = "a participant who did not sit has no skill results"
            raise ValueError(msg)
        if not self.did_not_sit and any(skill is None for skill in skills):
            msg = "listening_reading, writing and speaking are all required"
            raise ValueError(msg)
        return self


class RecordCertificate(Command):
    """Record a certificate a participant obtained (e.g. the Hauptschulabschluss)."""

    command_type: ClassVar[str] = "record-certificate.v1"

    course_id: uuid.UUID
    participant_id: uuid.UUID
    certificate: CertificateType
    issued_on: DomainDate

    example: ClassVar[dict[str, Any]] = {
        "course_id": _COURSE,
        "participant_id": _PARTICIPANT,
        "certificate": "dtz",
        "issued_on": "2023-03-01",
    }


class CompleteParticipation(Command):
    """Record that a participant completed the course."""

    command_type: ClassVar[str] = "complete-participation.v1"

    course_id: uuid.UUID
    participant_id: uuid.UUID
    completed_on: DomainDate

    example: ClassVar[dict[str, Any]] = {
        "course_id": _COURSE,
        "participant_id": _PARTICIPANT,
        "completed_on": "2023-02-28",
    }


class DropOut(Command):
    """Record that a participant left the course early."""

    command_type: ClassVar[str] = "drop-out.v1"

    course_id: uuid.UUID
    participant_id: uuid.UUID
    dropped_on: DomainDate
    reason: DropOutReason

    example: ClassVar[dict[str, Any]] = {
        "course_id": _COURSE,
        "participant_id": _PARTICIPANT,
        "dropped_on": "2022-06-30",
        "reason": "placed",
    }


# --- events -----------------------------------------------------------------------------------


class CourseScheduled(Event):
    """A course was put into the catalogue."""

    event_type: ClassVar[str] = "course.scheduled.v1"

    course_id: uuid.UUID
    provider: ProviderId
    course_type: CourseType
    module: ModuleCode
    site: SiteId
    start_date: DomainDate
    end_date: DomainDate
    parts: list[CoursePartFact]
    target_level: CefrLevel | None = None
    capacity: int | None = None

    example: ClassVar[dict[str, Any]] = ScheduleCourse.example | {"provider": "awo-owl"}


class ParticipantEnrolled(Event):
    """A participant got a place (directly, or promoted from the waitlist)."""

    event_type: ClassVar[str] = "course.participant-enrolled.v1"

    course_id: uuid.UUID
    participant_id: uuid.UUID
    provider: ProviderId
    module: ModuleCode
    enrolled_on: DomainDate
    from_waitlist: bool = False

    example: ClassVar[dict[str, Any]] = {
        "course_id": _COURSE,
        "participant_id": _PARTICIPANT,
        "provider": "awo-owl",
        "module": "F4",
        "enrolled_on": "2022-02-15",
        "from_waitlist": False,
    }


class ParticipantWaitlisted(Event):
    """No place was free: the participant waits, in order of request."""

    event_type: ClassVar[str] = "course.participant-waitlisted.v1"

    course_id: uuid.UUID
    participant_id: uuid.UUID
    provider: ProviderId
    position: int = Field(ge=1)
    waitlisted_on: DomainDate

    example: ClassVar[dict[str, Any]] = {
        "course_id": _COURSE,
        "participant_id": _PARTICIPANT,
        "provider": "awo-owl",
        "position": 3,
        "waitlisted_on": "2022-02-20",
    }


class AttendanceRecorded(Event):
    """A participant attended teaching units."""

    event_type: ClassVar[str] = "course.attendance-recorded.v1"

    course_id: uuid.UUID
    participant_id: uuid.UUID
    provider: ProviderId
    module: ModuleCode
    part: str
    date: DomainDate
    ue: int

    example: ClassVar[dict[str, Any]] = RecordAttendance.example | {
        "provider": "awo-owl",
        "module": "F4",
    }


class ExamResultRecorded(Event):
    """A DTZ result, with the overall result derived by the DTZ rule."""

    event_type: ClassVar[str] = "course.exam-result-recorded.v1"

    course_id: uuid.UUID
    participant_id: uuid.UUID
    provider: ProviderId
    exam_date: DomainDate
    listening_reading: DtzLevel | None = None
    writing: DtzLevel | None = None
    speaking: DtzLevel | None = None
    overall: DtzOverall

    example: ClassVar[dict[str, Any]] = {
        "course_id": _COURSE,
        "participant_id": _PARTICIPANT,
        "provider": "awo-owl",
        "exam_date": "2023-02-10",
        "listening_reading": "B1",
        "writing": "A2",
        "speaking": "B1",
        "overall": "B1",
    }


class CertificateRecorded(Event):
    """A participant obtained a certificate."""

    event_type: ClassVar[str] = "course.certificate-recorded.v1"

    course_id: uuid.UUID
    participant_id: uuid.UUID
    provider: ProviderId
    certificate: CertificateType
    issued_on: DomainDate

    example: ClassVar[dict[str, Any]] = RecordCertificate.example | {"provider": "awo-owl"}


class ParticipationCompleted(Event):
    """A participant completed a course."""

    event_type: ClassVar[str] = "course.participation-completed.v1"

    course_id: uuid.UUID
    participant_id: uuid.UUID
    provider: ProviderId
    module: ModuleCode
    completed_on: DomainDate

    example: ClassVar[dict[str, Any]] = CompleteParticipation.example | {
        "provider": "awo-owl",
        "module": "F4",
    }


class ParticipantDroppedOut(Event):
    """A participant left a course early."""

    event_type: ClassVar[str] = "course.participant-dropped-out.v1"

    course_id: uuid.UUID
    participant_id: uuid.UUID
    provider: ProviderId
    module: ModuleCode
    dropped_on: DomainDate
    reason: DropOutReason

    example: ClassVar[dict[str, Any]] = DropOut.example | {"provider": "awo-owl", "module": "F4"}


class FundingAccrued(Event):
    """Money the programme owes for delivered teaching units or an exam (funding facts)."""

    event_type: ClassVar[str] = "course.funding-accrued.v1"

    course_id: uuid.UUID
    participant_id: uuid.UUID | None = Field(
        default=None, description="Set for per-person amounts such as exam fees."
    )
    provider: ProviderId
    module: ModuleCode
    kind: FundingKind
    accrued_on: DomainDate
    ue: int | None = Field(default=None, ge=0, description="Teaching units paid for.")
    amount_cents: Cents

    example: ClassVar[dict[str, Any]] = {
        "course_id": _COURSE,
        "participant_id": None,
        "provider": "awo-owl",
        "module": "F4",
        "kind": "ue-lump-sum",
        "accrued_on": "2022-03-02",
        "ue": 5,
        "amount_cents": 18750,
    }
