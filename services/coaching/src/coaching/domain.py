"""Coaching's pure rules: what each command means for cases, as events.

The handlers load the views below, pass today's date, and persist the events returned.
No I/O, no clock, no logging here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from durchstarten.domain import NotKnownYet, RuleViolation, consent_required, not_in_future
from durchstarten.events.coaching import (
    AnswerReferral,
    CaseClosed,
    CaseOpened,
    CloseCase,
    FollowUpRecorded,
    MakeReferral,
    OpenCase,
    PlacementRecorded,
    RecordFollowUp,
    RecordPlacement,
    RecordSession,
    ReferralAnswered,
    ReferralMade,
    ReferralTargetFact,
    ReferralTargetKind,
    SessionRecorded,
)
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.values import FollowUpWindow, ReferralAnswer

__all__ = ["NotKnownYet", "RuleViolation"]  # raised by the rules below

FOLLOW_UP_OFFSETS = {FollowUpWindow.FOUR_WEEKS: 28, FollowUpWindow.SIX_MONTHS: 182}
"""Days after exit at which a follow-up is due; also the end of its window (ESF+)."""


@dataclass(frozen=True)
class ParticipantView:
    """What coaching knows of a participant."""

    participant_id: uuid.UUID
    entry_date: date
    exit_date: date | None
    providers: frozenset[str]


@dataclass(frozen=True)
class CaseView:
    """A case as stored."""

    case_id: uuid.UUID
    participant_id: uuid.UUID
    provider: str
    module: str
    site: str
    opened_on: date
    closed_on: date | None


@dataclass(frozen=True)
class ReferralView:
    """A referral as stored."""

    referral_id: uuid.UUID
    case_id: uuid.UUID
    participant_id: uuid.UUID
    from_provider: str
    made_on: date
    target_kind: str
    target_provider: str | None
    answer: str | None


def own_case(case: CaseView | None, provider: str, case_id: uuid.UUID) -> CaseView:
    """The provider's own case; another's is answered exactly like one not there yet.

    Both are held, and rejected with `unknown-case` when the hold expires: nothing tells
    another provider's case ids from unknown ones.
    """
    if case is None or case.provider != provider:
        raise NotKnownYet(f"case:{case_id}")
    return case


def _open(case: CaseView) -> None:
    if case.closed_on is not None:
        raise RuleViolation(
            ReasonCode.CASE_CLOSED,
            "case_id",
            f"The case was closed on {case.closed_on}.",
            f"Der Fall wurde am {case.closed_on} geschlossen.",
        )


def _not_before_case(day: date, case: CaseView, field: str) -> None:
    if day < case.opened_on:
        raise RuleViolation(
            ReasonCode.DATE_BEFORE_CASE,
            field,
            f"The date lies before the case was opened ({case.opened_on}).",
            f"Das Datum liegt vor der Eröffnung des Falls ({case.opened_on}).",
        )


def decide_open_case(
    command: OpenCase,
    *,
    provider: str,
    participant: ParticipantView | None,
    sites: list[str],
    open_modules: set[str],
    today: date,
) -> CaseOpened:
    """Open a case at one of the provider's sites, one open case per module.

    A participant not linked to the provider (registered by it, assigned to it, or handed
    over by an accepted referral) is answered like an unknown one, before any other rule:
    held, since the link may still be on its way, then `unknown-participant`.
    """
    if participant is None or provider not in participant.providers:
        raise NotKnownYet(f"participant:{command.participant_id}")
    if command.site not in sites:
        raise RuleViolation(
            ReasonCode.UNKNOWN_SITE,
            "site",
            f"Your sites are: {', '.join(sites) or 'none configured'}.",
            f"Ihre Standorte sind: {', '.join(sites) or 'keine eingerichtet'}.",
        )
    if command.module in open_modules:
        raise RuleViolation(
            ReasonCode.CASE_ALREADY_OPEN,
            "module",
            f"The participant has an open {command.module} case already.",
            f"Für die Person ist bereits ein {command.module}-Fall offen.",
        )
    not_in_future(command.opened_on, today, "opened_on")
    if command.opened_on < participant.entry_date:
        raise RuleViolation(
            ReasonCode.DATE_BEFORE_ENTRY,
            "opened_on",
            f"The date lies before the programme entry ({participant.entry_date}).",
            f"Das Datum liegt vor dem Programmeintritt ({participant.entry_date}).",
        )
    if participant.exit_date is not None and command.opened_on > participant.exit_date:
        raise RuleViolation(
            ReasonCode.DATE_AFTER_EXIT,
            "opened_on",
            f"The participant left the programme on {participant.exit_date}.",
            f"Die Person hat das Programm am {participant.exit_date} verlassen.",
        )
    return CaseOpened(
        case_id=command.case_id,
        participant_id=command.participant_id,
        provider=provider,
        module=command.module,
        site=command.site,
        opened_on=command.opened_on,
    )


def decide_session(
    command: RecordSession, *, provider: str, case: CaseView | None, today: date
) -> SessionRecorded:
    """A session on an open case, on a day between its opening and today."""
    own = own_case(case, provider, command.case_id)
    _open(own)
    not_in_future(command.date, today, "date")
    _not_before_case(command.date, own, "date")
    return SessionRecorded(
        session_id=command.session_id,
        case_id=own.case_id,
        participant_id=own.participant_id,
        provider=provider,
        date=command.date,
        minutes=command.minutes,
        languages=command.languages,
        topics=command.topics,
        coach_id=command.coach_id,
    )


def decide_referral(
    command: MakeReferral,
    *,
    provider: str,
    case: CaseView | None,
    known_providers: frozenset[str],
    today: date,
    shares: bool = True,
) -> ReferralMade:
    """Refer the participant of an open case: to a course type, a provider or a service.

    To another provider only if `shares`: the person consented to data sharing between
    providers (in force on the day), or a coordinator's override lets that provider in.
    """
    own = own_case(case, provider, command.case_id)
    _open(own)
    not_in_future(command.made_on, today, "made_on")
    _not_before_case(command.made_on, own, "made_on")
    target = command.target
    if target.kind is ReferralTargetKind.PROVIDER and (
        target.provider not in known_providers or target.provider == provider
    ):
        raise RuleViolation(
            ReasonCode.UNKNOWN_PROVIDER_TARGET,
            "target.provider",
            "Refer to another provider of this programme.",
            "Verweisen Sie an einen anderen Träger des Programms.",
        )
    if target.kind is ReferralTargetKind.PROVIDER and not shares:
        raise consent_required()
    return ReferralMade(
        referral_id=command.referral_id,
        case_id=own.case_id,
        participant_id=own.participant_id,
        provider=provider,
        made_on=command.made_on,
        target=ReferralTargetFact.model_validate(target.model_dump()),
    )


def decide_answer(
    command: AnswerReferral,
    *,
    provider: str,
    referral: ReferralView | None,
    today: date,
    shares: bool = True,
) -> ReferralAnswered:
    """The receiving provider answers (for a course type or a service: the referring one).

    A referral neither made by nor addressed to the provider is answered like an unknown one.
    Another provider accepts only while `shares` (consent or an override) still holds: it
    may have been withdrawn since the referral was made.
    """
    if referral is None or provider not in {referral.from_provider, referral.target_provider}:
        raise NotKnownYet(f"referral:{command.referral_id}")
    recipient = (
        referral.target_provider
        if referral.target_kind == ReferralTargetKind.PROVIDER
        else referral.from_provider
    )
    if provider != recipient:
        raise RuleViolation(
            ReasonCode.NOT_REFERRAL_RECIPIENT,
            "referral_id",
            "Only the receiving side answers a referral.",
            "Nur die aufnehmende Seite beantwortet eine Verweisung.",
        )
    if referral.answer is not None:
        raise RuleViolation(
            ReasonCode.REFERRAL_ANSWERED,
            "referral_id",
            f"The referral was answered already ({referral.answer}).",
            f"Die Verweisung wurde bereits beantwortet ({referral.answer}).",
        )
    not_in_future(command.answered_on, today, "answered_on")
    if command.answered_on < referral.made_on:
        raise RuleViolation(
            ReasonCode.DATE_BEFORE_CASE,
            "answered_on",
            f"The answer lies before the referral ({referral.made_on}).",
            f"Die Antwort liegt vor der Verweisung ({referral.made_on}).",
        )
    if (
        command.answer is ReferralAnswer.ACCEPTED
        and referral.target_kind == ReferralTargetKind.PROVIDER
        and not shares
    ):
        raise consent_required()
    return ReferralAnswered(
        referral_id=referral.referral_id,
        participant_id=referral.participant_id,
        answered_by=provider,
        answer=command.answer,
        answered_on=command.answered_on,
    )


def grants_access(answer: ReferralAnswered, referral: ReferralView) -> str | None:
    """The provider that may now work with the participant, if the answer grants it."""
    if (
        answer.answer is ReferralAnswer.ACCEPTED
        and referral.target_kind == ReferralTargetKind.PROVIDER
    ):
        return referral.target_provider
    return None


def decide_placement(
    command: RecordPlacement, *, provider: str, case: CaseView | None, today: date
) -> PlacementRecorded:
    """A placement of the case's participant (also after the case closed: news comes late)."""
    own = own_case(case, provider, command.case_id)
    _not_before_case(command.start_date, own, "start_date")
    if command.start_date > today + timedelta(days=366):
        raise RuleViolation(
            ReasonCode.DATE_IN_FUTURE,
            "start_date",
            "The start date lies more than a year ahead.",
            "Der Beginn liegt mehr als ein Jahr in der Zukunft.",
        )
    return PlacementRecorded(
        placement_id=command.placement_id,
        case_id=own.case_id,
        participant_id=own.participant_id,
        provider=provider,
        site=own.site,
        category=command.category,
        start_date=command.start_date,
        employment_kind=command.employment.kind if command.employment else None,
    )


def follow_up_window(exit_date: date, window: FollowUpWindow) -> tuple[date, date]:
    """The days on which a follow-up observation counts for `window`."""
    return exit_date, exit_date + timedelta(days=FOLLOW_UP_OFFSETS[window])


def decide_follow_up(
    command: RecordFollowUp,
    *,
    provider: str,
    case: CaseView | None,
    participant: ParticipantView | None,
    today: date,
) -> FollowUpRecorded:
    """A follow-up observation inside its ESF+ window after the programme exit."""
    own = own_case(case, provider, command.case_id)
    if participant is None or participant.exit_date is None:
        raise RuleViolation(
            ReasonCode.NO_EXIT_YET,
            "case_id",
            "Follow-ups come after the programme exit, which is not recorded.",
            "Nachbefragungen folgen dem Programmaustritt, der nicht erfasst ist.",
        )
    not_in_future(command.observed_on, today, "observed_on")
    start, end = follow_up_window(participant.exit_date, command.window)
    if not start <= command.observed_on <= end:
        raise RuleViolation(
            ReasonCode.OUTSIDE_FOLLOW_UP_WINDOW,
            "observed_on",
            f"A {command.window} follow-up is observed between {start} and {end}.",
            f"Eine Nachbefragung ({command.window}) liegt zwischen {start} und {end}.",
        )
    return FollowUpRecorded(
        case_id=own.case_id,
        participant_id=own.participant_id,
        provider=provider,
        window=command.window,
        observed_on=command.observed_on,
        category=command.category,
        employment_kind=command.employment.kind if command.employment else None,
    )


def decide_close(
    command: CloseCase, *, provider: str, case: CaseView | None, today: date
) -> CaseClosed:
    """Close an open case, with a reason, not before it opened."""
    own = own_case(case, provider, command.case_id)
    _open(own)
    not_in_future(command.closed_on, today, "closed_on")
    _not_before_case(command.closed_on, own, "closed_on")
    return CaseClosed(
        case_id=own.case_id,
        participant_id=own.participant_id,
        provider=provider,
        closed_on=command.closed_on,
        reason=command.reason,
    )
