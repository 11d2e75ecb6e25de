"""Courses' pure rules: enrolment, attendance, the DTZ rule and the funding facts.

Enrolment respects capacity and the waitlist; attendance stays within the plan. No I/O, no
clock: the handlers pass what is needed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from durchstarten.domain import NotKnownYet, RuleViolation, not_in_future
from durchstarten.events.courses import (
    AttendanceRecorded,
    CertificateRecorded,
    CompleteParticipation,
    CoursePartFact,
    CourseScheduled,
    DropOut,
    Enrol,
    ExamResultRecorded,
    FundingAccrued,
    ParticipantDroppedOut,
    ParticipantEnrolled,
    ParticipantWaitlisted,
    ParticipationCompleted,
    RecordAttendance,
    RecordCertificate,
    RecordExamResult,
    ScheduleCourse,
)
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.values import (
    DtzLevel,
    DtzOverall,
    FundingKind,
    ModuleCode,
    PlacementCategory,
)

IN_WORK_OR_TRAINING = frozenset(
    {
        PlacementCategory.EMPLOYMENT,
        PlacementCategory.AUSBILDUNG_COMPANY,
        PlacementCategory.AUSBILDUNG_SCHOOL,
        PlacementCategory.QUALIFICATION_MEASURE,  # internships are recorded as such
    }
)
ACTIVE = frozenset({"enrolled", "completed"})
__all__ = ["NotKnownYet", "RuleViolation"]  # raised by the rules below


@dataclass(frozen=True)
class CourseView:
    """A course as stored."""

    course_id: uuid.UUID
    provider: str
    course_type: str
    module: str
    site: str
    start_date: date
    end_date: date
    parts: list[dict[str, Any]]
    target_level: str | None
    capacity: int | None

    def planned(self, part: str) -> int | None:
        """Planned UE of a part, None when the course has no such part."""
        return next((p["planned_ue"] for p in self.parts if p["name"] == part), None)


@dataclass(frozen=True)
class ParticipantView:
    """What courses knows of a participant."""

    participant_id: uuid.UUID
    employment_ban: bool
    current_placement: str | None


def dtz_overall(listening_reading: DtzLevel, writing: DtzLevel, speaking: DtzLevel) -> DtzOverall:
    """The overall DTZ result from the three skills.

    B1 needs B1 in speaking plus B1 in listening/reading or in writing; A2 likewise at A2 or
    better; otherwise below A2.
    """

    def at_least(level: DtzLevel, floor: DtzLevel) -> bool:
        order = [DtzLevel.BELOW_A2, DtzLevel.A2, DtzLevel.B1]
        return order.index(level) >= order.index(floor)

    for floor, result in ((DtzLevel.B1, DtzOverall.B1), (DtzLevel.A2, DtzOverall.A2)):
        if at_least(speaking, floor) and (
            at_least(listening_reading, floor) or at_least(writing, floor)
        ):
            return result
    return DtzOverall.BELOW_A2


def own_course(course: CourseView | None, provider: str) -> CourseView:
    """The provider's own course, or a rejection that reveals nothing of others' courses."""
    if course is None or course.provider != provider:
        raise RuleViolation(
            ReasonCode.UNKNOWN_COURSE,
            "course_id",
            "No course with this id is known to you.",
            "Ein Kurs mit dieser Kennung ist Ihnen nicht bekannt.",
        )
    return course


def _inside(day: date, course: CourseView, field: str, today: date) -> None:
    not_in_future(day, today, field)
    if not course.start_date <= day <= course.end_date:
        raise RuleViolation(
            ReasonCode.DATE_OUTSIDE_COURSE,
            field,
            f"The course runs from {course.start_date} to {course.end_date}.",
            f"Der Kurs läuft vom {course.start_date} bis {course.end_date}.",
        )


def _enrolled(status: str | None, *, allowed: frozenset[str] = ACTIVE) -> None:
    if status not in allowed:
        raise RuleViolation(
            ReasonCode.NOT_ENROLLED,
            "participant_id",
            "The participant has no place in this course.",
            "Die Person hat keinen Platz in diesem Kurs.",
        )


def decide_schedule(command: ScheduleCourse, *, provider: str, exists: bool) -> CourseScheduled:
    """Put a course into the catalogue (its id must be new)."""
    if exists:
        raise RuleViolation(
            ReasonCode.DUPLICATE_ID,
            "course_id",
            "This id is in use already; choose a new UUID.",
            "Diese Kennung ist schon vergeben; wählen Sie eine neue UUID.",
        )
    return CourseScheduled(
        course_id=command.course_id,
        provider=provider,
        course_type=command.course_type,
        module=command.module,
        site=command.site,
        start_date=command.start_date,
        end_date=command.end_date,
        parts=[CoursePartFact(name=p.name, planned_ue=p.planned_ue) for p in command.parts],
        target_level=command.target_level,
        capacity=command.capacity,
    )


def decide_enrol(
    command: Enrol,
    *,
    provider: str,
    course: CourseView | None,
    participant: ParticipantView | None,
    linked_providers: frozenset[str],
    status: str | None,
    places_taken: int,
    waiting: int,
) -> ParticipantEnrolled | ParticipantWaitlisted:
    """A place if one is free, else the end of the waitlist; F2 needs work or training.

    `linked_providers` may enrol the participant: the one that registered them, any
    assigned after a sure duplicate, any that accepted a referral. Anyone else is answered
    like a participant not known yet, before any rule that would tell of the person (their
    places, employment ban or placement): held, since the link may still be on its way,
    then `unknown-participant`.
    """
    own = own_course(course, provider)
    if participant is None or provider not in linked_providers:
        raise NotKnownYet(f"participant:{command.participant_id}")
    if status in {"enrolled", "waitlisted", "completed"}:
        raise RuleViolation(
            ReasonCode.ALREADY_ENROLLED,
            "participant_id",
            f"The participant is {status} in this course already.",
            "Die Person ist bereits in diesem Kurs.",
        )
    if own.module == ModuleCode.F2:
        if participant.employment_ban:
            raise RuleViolation(
                ReasonCode.EMPLOYMENT_BAN,
                "participant_id",
                "Module F2 excludes persons under a legal ban on employment.",
                "Baustein F2 schließt Personen mit Beschäftigungsverbot aus.",
            )
        if participant.current_placement not in IN_WORK_OR_TRAINING:
            raise RuleViolation(
                ReasonCode.NEEDS_WORK_OR_TRAINING,
                "participant_id",
                "Module F2 is for persons in work, training or an internship.",
                "Baustein F2 richtet sich an Personen in Arbeit, Ausbildung oder Praktikum.",
            )
    if own.capacity is None or places_taken < own.capacity:
        return ParticipantEnrolled(
            course_id=own.course_id,
            participant_id=command.participant_id,
            provider=provider,
            module=ModuleCode(own.module),
            enrolled_on=command.requested_on,
        )
    return ParticipantWaitlisted(
        course_id=own.course_id,
        participant_id=command.participant_id,
        provider=provider,
        position=waiting + 1,
        waitlisted_on=command.requested_on,
    )


def decide_attendance(
    command: RecordAttendance,
    *,
    provider: str,
    course: CourseView | None,
    status: str | None,
    attended_in_part: int,
    today: date,
) -> AttendanceRecorded:
    """Attendance of an enrolled participant, never beyond the part's planned UE."""
    own = own_course(course, provider)
    _enrolled(status, allowed=frozenset({"enrolled"}))
    planned = own.planned(command.part)
    if planned is None:
        raise RuleViolation(
            ReasonCode.UNKNOWN_PART,
            "part",
            f"The course's parts are: {', '.join(p['name'] for p in own.parts)}.",
            f"Die Teile des Kurses sind: {', '.join(p['name'] for p in own.parts)}.",
        )
    _inside(command.date, own, "date", today)
    if attended_in_part + command.ue > planned:
        raise RuleViolation(
            ReasonCode.ATTENDANCE_BEYOND_PLAN,
            "ue",
            f"Part {command.part} plans {planned} UE; {attended_in_part} are recorded already.",
            f"Teil {command.part} sieht {planned} UE vor; {attended_in_part} sind erfasst.",
        )
    return AttendanceRecorded(
        course_id=own.course_id,
        participant_id=command.participant_id,
        provider=provider,
        module=ModuleCode(own.module),
        part=command.part,
        date=command.date,
        ue=command.ue,
    )


def decide_exam(
    command: RecordExamResult,
    *,
    provider: str,
    course: CourseView | None,
    status: str | None,
    today: date,
) -> ExamResultRecorded:
    """A DTZ result of a participant with a place, the overall result by the DTZ rule."""
    own = own_course(course, provider)
    _enrolled(status)
    _inside(command.exam_date, own, "exam_date", today)
    if command.did_not_sit:
        overall = DtzOverall.DID_NOT_SIT
    else:
        skills = (command.listening_reading, command.writing, command.speaking)
        if None in skills:  # the command model requires all three; this keeps mypy honest
            raise ValueError(skills)
        overall = dtz_overall(*skills)  # type: ignore[arg-type]  # None excluded just above
    return ExamResultRecorded(
        course_id=own.course_id,
        participant_id=command.participant_id,
        provider=provider,
        exam_date=command.exam_date,
        listening_reading=command.listening_reading,
        writing=command.writing,
        speaking=command.speaking,
        overall=overall,
    )


def decide_certificate(
    command: RecordCertificate,
    *,
    provider: str,
    course: CourseView | None,
    status: str | None,
    today: date,
) -> CertificateRecorded:
    """A certificate of a participant with a place (issued up to today)."""
    own = own_course(course, provider)
    _enrolled(status)
    if command.issued_on > today or command.issued_on < own.start_date:
        raise RuleViolation(
            ReasonCode.DATE_OUTSIDE_COURSE,
            "issued_on",
            "A certificate is issued after the course began and not in the future.",
            "Ein Zertifikat wird nach Kursbeginn und nicht in der Zukunft ausgestellt.",
        )
    return CertificateRecorded(
        course_id=own.course_id,
        participant_id=command.participant_id,
        provider=provider,
        certificate=command.certificate,
        issued_on=command.issued_on,
    )


def decide_completion(
    command: CompleteParticipation,
    *,
    provider: str,
    course: CourseView | None,
    status: str | None,
    today: date,
) -> ParticipationCompleted:
    """An enrolled participant completed the course."""
    own = own_course(course, provider)
    _enrolled(status, allowed=frozenset({"enrolled"}))
    _inside(command.completed_on, own, "completed_on", today)
    return ParticipationCompleted(
        course_id=own.course_id,
        participant_id=command.participant_id,
        provider=provider,
        module=ModuleCode(own.module),
        completed_on=command.completed_on,
    )


def decide_drop_out(
    command: DropOut, *, provider: str, course: CourseView | None, status: str | None, today: date
) -> tuple[ParticipantDroppedOut, bool]:
    """A participant (or waitlisted person) leaves; True when a place becomes free."""
    own = own_course(course, provider)
    _enrolled(status, allowed=frozenset({"enrolled", "waitlisted"}))
    not_in_future(command.dropped_on, today, "dropped_on")
    event = ParticipantDroppedOut(
        course_id=own.course_id,
        participant_id=command.participant_id,
        provider=provider,
        module=ModuleCode(own.module),
        dropped_on=command.dropped_on,
        reason=command.reason,
    )
    return event, status == "enrolled"


def promotion(course: CourseView, participant_id: uuid.UUID, on: date) -> ParticipantEnrolled:
    """The first person on the waitlist gets the freed place."""
    return ParticipantEnrolled(
        course_id=course.course_id,
        participant_id=participant_id,
        provider=course.provider,
        module=ModuleCode(course.module),
        enrolled_on=on,
        from_waitlist=True,
    )


def ue_funding(
    course: CourseView, *, delivered_before: int, delivered_now: int, on: date, ue_cents: int
) -> FundingAccrued | None:
    """The lump sum for teaching units newly delivered on a day, if any."""
    new_ue = delivered_now - delivered_before
    if new_ue <= 0:
        return None
    return FundingAccrued(
        course_id=course.course_id,
        provider=course.provider,
        module=ModuleCode(course.module),
        kind=FundingKind.UE_LUMP_SUM,
        accrued_on=on,
        ue=new_ue,
        amount_cents=new_ue * ue_cents,
    )


def exam_funding(
    result: ExamResultRecorded, course: CourseView, fee_cents: int
) -> FundingAccrued | None:
    """The exam fee, at cost, for an exam that was sat."""
    if result.overall is DtzOverall.DID_NOT_SIT:
        return None
    return FundingAccrued(
        course_id=course.course_id,
        participant_id=result.participant_id,
        provider=course.provider,
        module=ModuleCode(course.module),
        kind=FundingKind.EXAM_FEE,
        accrued_on=result.exam_date,
        amount_cents=fee_cents,
    )
