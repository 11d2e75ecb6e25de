"""The catalogue of every message: who owns it, on which channel it travels, which version.

The JSON Schemas, the AsyncAPI document, the services' parsers and the contract tests are all
derived from this one list.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from durchstarten.events import coaching, courses, intake, replies
from durchstarten.events.base import Command, Event
from durchstarten.events.topics import WRITE_SERVICES, ServiceName
from durchstarten.events.upcasting import UPCASTERS


class Kind(StrEnum):
    """What a message is."""

    COMMAND = "command"
    EVENT = "event"
    REPLY = "reply"


@dataclass(frozen=True)
class Entry:
    """One message type in the catalogue."""

    model: type[Command] | type[Event]
    kind: Kind
    service: ServiceName | None  # the owner; None for replies, which every write service sends

    @property
    def type(self) -> str:
        """The wire type, e.g. `participant.registered.v2`."""
        if issubclass(self.model, Command):
            return self.model.command_type
        return self.model.event_type

    @property
    def name(self) -> str:
        """The type without its version suffix."""
        return self.type.rsplit(".v", 1)[0]

    @property
    def version(self) -> int:
        """The version number."""
        return int(self.type.rsplit(".v", 1)[1])

    @property
    def current(self) -> bool:
        """False for an old version that an upcaster turns into a newer one."""
        return self.type not in UPCASTERS


def _commands(service: ServiceName, *models: type[Command]) -> list[Entry]:
    return [Entry(model, Kind.COMMAND, service) for model in models]


def _events(service: ServiceName, *models: type[Event]) -> list[Entry]:
    return [Entry(model, Kind.EVENT, service) for model in models]


CATALOGUE: tuple[Entry, ...] = (
    *_commands(
        "intake",
        intake.RegisterParticipant,
        intake.RegisterParticipantV2,
        intake.RegisterParticipantV1,
        intake.RecordResidenceStatusChange,
        intake.RecordProgrammeExit,
        intake.RequestErasure,
        intake.CorrectIdentity,
        intake.RecordConsent,
        intake.WithdrawConsent,
        intake.OverrideConsent,
        intake.ApproveEligibilityException,
        intake.DenyEligibilityException,
        intake.ResolveDuplicate,
    ),
    *_events(
        "intake",
        intake.ParticipantRegistered,
        intake.ParticipantRegisteredV2,
        intake.ParticipantRegisteredV1,
        intake.ResidenceStatusChanged,
        intake.ParticipantExited,
        intake.ParticipantErased,
        intake.EligibilityExceptionApproved,
        intake.DuplicateConfirmed,
        intake.ProviderAssigned,
        intake.ParticipantMoved,
        intake.ParticipantCorrected,
        intake.ConsentChanged,
    ),
    *_commands(
        "coaching",
        coaching.OpenCase,
        coaching.RecordSession,
        coaching.MakeReferral,
        coaching.AnswerReferral,
        coaching.RecordPlacement,
        coaching.RecordFollowUp,
        coaching.CloseCase,
    ),
    *_events(
        "coaching",
        coaching.CaseOpened,
        coaching.SessionRecorded,
        coaching.ReferralMade,
        coaching.ReferralAnswered,
        coaching.PlacementRecorded,
        coaching.FollowUpRecorded,
        coaching.CaseClosed,
    ),
    *_commands(
        "courses",
        courses.ScheduleCourse,
        courses.Enrol,
        courses.RecordAttendance,
        courses.RecordExamResult,
        courses.RecordCertificate,
        courses.CompleteParticipation,
        courses.DropOut,
    ),
    *_events(
        "courses",
        courses.CourseScheduled,
        courses.ParticipantEnrolled,
        courses.ParticipantWaitlisted,
        courses.AttendanceRecorded,
        courses.ExamResultRecorded,
        courses.CertificateRecorded,
        courses.ParticipationCompleted,
        courses.ParticipantDroppedOut,
        courses.FundingAccrued,
    ),
    Entry(replies.CommandAccepted, Kind.REPLY, None),
    Entry(replies.CommandRejected, Kind.REPLY, None),
)

BY_TYPE: dict[str, Entry] = {entry.type: entry for entry in CATALOGUE}


def commands_of(service: ServiceName) -> list[Entry]:
    """Every command type (all versions) the service accepts."""
    return [e for e in CATALOGUE if e.kind is Kind.COMMAND and e.service == service]


def events_of(service: ServiceName) -> list[Entry]:
    """Every event type (all versions) the service publishes on its domain topic."""
    return [e for e in CATALOGUE if e.kind is Kind.EVENT and e.service == service]


def _check() -> None:
    """Refuse a catalogue that contradicts itself, the upcasters or the write services."""
    if len(BY_TYPE) != len(CATALOGUE):
        msg = "two catalogue entries share a type"
        raise ValueError(msg)
    for old, (new, _) in UPCASTERS.items():
        if old not in BY_TYPE or new not in BY_TYPE:
            msg = f"upcaster {old} -> {new} names a type outside the catalogue"
            raise ValueError(msg)
    owners = {e.service for e in CATALOGUE if e.service}
    if owners != set(WRITE_SERVICES):
        msg = (
            f"the catalogue's owners {sorted(owners)} are not the write services "
            f"{sorted(WRITE_SERVICES)}: each write service owns messages, and only they do"
        )
        raise ValueError(msg)


_check()  # at import: no part of the project may run on an inconsistent contract
