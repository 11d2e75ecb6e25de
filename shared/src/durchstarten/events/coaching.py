"""Commands to and events of the coaching service (modules F1 and F6).

Ids of new cases, sessions, referrals and placements are UUIDs chosen by the provider's
system, so a command can be retried safely and referred to before its reply arrives.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any, ClassVar, Literal, Self

from pydantic import Field, model_validator

from durchstarten.events.base import Command, Event, Part, TolerantPart
from durchstarten.events.parts import Employment, check_employment
from durchstarten.events.values import (
    CaseCloseReason,
    CourseType,
    DomainDate,
    EmploymentKind,
    FollowUpWindow,
    LanguageCode,
    Minutes,
    ModuleCode,
    PlacementCategory,
    ProviderId,
    ReferralAnswer,
    RegularService,
    SessionTopic,
    SiteId,
    StaffId,
)

CoachingModule = Literal[ModuleCode.F1, ModuleCode.F6]

_PARTICIPANT = "6f1c1a52-8d1b-4a8e-9a55-0f1d64c3c0de"
_CASE = "0b6f0f56-3f5c-4d0e-8d8e-5f0b7f3f9a11"
_REFERRAL = "8c9d2b1e-7a44-4c5f-9f0e-2b3c4d5e6f70"


class ReferralTargetKind(StrEnum):
    """What a referral points to."""

    COURSE_TYPE = "course-type"
    PROVIDER = "provider"
    REGULAR_SERVICE = "regular-service"


class ReferralTarget(Part):
    """Where a case refers the participant: a course type, another provider, or a service."""

    kind: ReferralTargetKind
    course_type: CourseType | None = None
    provider: ProviderId | None = None
    service: RegularService | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        given = {
            ReferralTargetKind.COURSE_TYPE: self.course_type,
            ReferralTargetKind.PROVIDER: self.provider,
            ReferralTargetKind.REGULAR_SERVICE: self.service,
        }
        if given[self.kind] is None or any(
            value is not None for kind, value in given.items() if kind != self.kind
        ):
            msg = f"a referral of kind {self.kind} names exactly its own target field"
            raise ValueError(msg)
        return self


class ReferralTargetFact(TolerantPart):
    """A referral target as events carry it."""

    kind: ReferralTargetKind
    course_type: CourseType | None = None
    provider: ProviderId | None = None
    service: RegularService | None = None


# --- commands ---------------------------------------------------------------------------------


class OpenCase(Command):
    """Open a coaching (F1) or participation-management (F6) case at one of the provider's sites."""

    command_type: ClassVar[str] = "open-case.v1"

    case_id: uuid.UUID
    participant_id: uuid.UUID
    module: CoachingModule
    site: SiteId
    opened_on: DomainDate

    example: ClassVar[dict[str, Any]] = {
        "case_id": _CASE,
        "participant_id": _PARTICIPANT,
        "module": "F1",
        "site": "buende",
        "opened_on": "2022-03-02",
    }


class RecordSession(Command):
    """Record one coaching session."""

    command_type: ClassVar[str] = "record-session.v1"

    session_id: uuid.UUID
    case_id: uuid.UUID
    date: DomainDate
    minutes: Minutes
    languages: list[LanguageCode] = Field(min_length=1, max_length=5)
    topics: list[SessionTopic] = Field(min_length=1, max_length=len(SessionTopic))
    coach_id: StaffId

    example: ClassVar[dict[str, Any]] = {
        "session_id": "d3b07384-d9a0-4c9b-8f6e-1a2b3c4d5e6f",
        "case_id": _CASE,
        "date": "2022-03-09",
        "minutes": 60,
        "languages": ["de", "ar"],
        "topics": ["training-search", "residence-law"],
        "coach_id": "dia-coach-07",
    }

    @model_validator(mode="after")
    def _no_repeats(self) -> Self:
        if len(set(self.topics)) != len(self.topics) or len(set(self.languages)) != len(
            self.languages
        ):
            msg = "topics and languages are each named once"
            raise ValueError(msg)
        return self


class MakeReferral(Command):
    """Refer the participant of a case onward (a warm hand-over)."""

    command_type: ClassVar[str] = "make-referral.v1"

    referral_id: uuid.UUID
    case_id: uuid.UUID
    made_on: DomainDate
    target: ReferralTarget

    example: ClassVar[dict[str, Any]] = {
        "referral_id": _REFERRAL,
        "case_id": _CASE,
        "made_on": "2022-04-01",
        "target": {"kind": "course-type", "course_type": "jugendintegrationskurs"},
    }


class AnswerReferral(Command):
    """The receiving side accepts or declines a referral."""

    command_type: ClassVar[str] = "answer-referral.v1"

    referral_id: uuid.UUID
    answer: ReferralAnswer
    answered_on: DomainDate

    example: ClassVar[dict[str, Any]] = {
        "referral_id": _REFERRAL,
        "answer": "accepted",
        "answered_on": "2022-04-05",
    }


class RecordPlacement(Command):
    """Record where the participant went (Verbleib); the latest counts as current status."""

    command_type: ClassVar[str] = "record-placement.v1"

    placement_id: uuid.UUID
    case_id: uuid.UUID
    category: PlacementCategory
    start_date: DomainDate
    employment: Employment | None = Field(
        default=None, description="Required for, and only for, category `employment`."
    )

    example: ClassVar[dict[str, Any]] = {
        "placement_id": "5a8c2d4e-6f70-4b1a-9c3d-2e4f6a8b0c1d",
        "case_id": _CASE,
        "category": "employment",
        "start_date": "2022-09-01",
        "employment": {"kind": "marginal"},
    }

    @model_validator(mode="after")
    def _employment_fits(self) -> Self:
        check_employment(self.category, self.employment)
        return self


class RecordFollowUp(Command):
    """Record what became of a participant 4 weeks or 6 months after exit (ESF+)."""

    command_type: ClassVar[str] = "record-follow-up.v1"

    case_id: uuid.UUID
    window: FollowUpWindow
    observed_on: DomainDate
    category: PlacementCategory
    employment: Employment | None = None

    example: ClassVar[dict[str, Any]] = {
        "case_id": _CASE,
        "window": "6-months",
        "observed_on": "2023-06-30",
        "category": "ausbildung-company",
    }

    @model_validator(mode="after")
    def _employment_fits(self) -> Self:
        check_employment(self.category, self.employment)
        return self


class CloseCase(Command):
    """Close a case, with a reason."""

    command_type: ClassVar[str] = "close-case.v1"

    case_id: uuid.UUID
    closed_on: DomainDate
    reason: CaseCloseReason

    example: ClassVar[dict[str, Any]] = {
        "case_id": _CASE,
        "closed_on": "2022-12-20",
        "reason": "goal-reached",
    }


# --- events -----------------------------------------------------------------------------------


class CaseOpened(Event):
    """A case was opened."""

    event_type: ClassVar[str] = "case.opened.v1"

    case_id: uuid.UUID
    participant_id: uuid.UUID
    provider: ProviderId
    module: ModuleCode
    site: SiteId
    opened_on: DomainDate

    example: ClassVar[dict[str, Any]] = OpenCase.example | {"provider": "diakonie-herford"}


class SessionRecorded(Event):
    """A coaching session took place."""

    event_type: ClassVar[str] = "case.session-recorded.v1"

    session_id: uuid.UUID
    case_id: uuid.UUID
    participant_id: uuid.UUID
    provider: ProviderId
    date: DomainDate
    minutes: int
    languages: list[LanguageCode]
    topics: list[SessionTopic]
    coach_id: StaffId

    example: ClassVar[dict[str, Any]] = RecordSession.example | {
        "participant_id": _PARTICIPANT,
        "provider": "diakonie-herford",
    }


class ReferralMade(Event):
    """A case referred its participant onward."""

    event_type: ClassVar[str] = "case.referral-made.v1"

    referral_id: uuid.UUID
    case_id: uuid.UUID
    participant_id: uuid.UUID
    provider: ProviderId
    made_on: DomainDate
    target: ReferralTargetFact

    example: ClassVar[dict[str, Any]] = MakeReferral.example | {
        "participant_id": _PARTICIPANT,
        "provider": "diakonie-herford",
    }


class ReferralAnswered(Event):
    """The receiving side answered a referral."""

    event_type: ClassVar[str] = "case.referral-answered.v1"

    referral_id: uuid.UUID
    participant_id: uuid.UUID
    answered_by: ProviderId
    answer: ReferralAnswer
    answered_on: DomainDate

    example: ClassVar[dict[str, Any]] = AnswerReferral.example | {
        "participant_id": _PARTICIPANT,
        "answered_by": "awo-owl",
    }


class PlacementRecorded(Event):
    """A participant was placed (or their whereabouts became known)."""

    event_type: ClassVar[str] = "case.placement-recorded.v1"

    placement_id: uuid.UUID
    case_id: uuid.UUID
    participant_id: uuid.UUID
    provider: ProviderId
    site: SiteId
    category: PlacementCategory
    start_date: DomainDate
    employment_kind: EmploymentKind | None = None

    example: ClassVar[dict[str, Any]] = {
        "placement_id": "5a8c2d4e-6f70-4b1a-9c3d-2e4f6a8b0c1d",
        "case_id": _CASE,
        "participant_id": _PARTICIPANT,
        "provider": "diakonie-herford",
        "site": "buende",
        "category": "employment",
        "start_date": "2022-09-01",
        "employment_kind": "marginal",
    }


class FollowUpRecorded(Event):
    """A follow-up after exit was recorded."""

    event_type: ClassVar[str] = "case.follow-up-recorded.v1"

    case_id: uuid.UUID
    participant_id: uuid.UUID
    provider: ProviderId
    window: FollowUpWindow
    observed_on: DomainDate
    category: PlacementCategory
    employment_kind: EmploymentKind | None = None

    example: ClassVar[dict[str, Any]] = {
        "case_id": _CASE,
        "participant_id": _PARTICIPANT,
        "provider": "diakonie-herford",
        "window": "6-months",
        "observed_on": "2023-06-30",
        "category": "ausbildung-company",
    }


class CaseClosed(Event):
    """A case was closed."""

    event_type: ClassVar[str] = "case.closed.v1"

    case_id: uuid.UUID
    participant_id: uuid.UUID
    provider: ProviderId
    closed_on: DomainDate
    reason: CaseCloseReason

    example: ClassVar[dict[str, Any]] = CloseCase.example | {
        "participant_id": _PARTICIPANT,
        "provider": "diakonie-herford",
    }
