"""Reason codes of rejections: stable, machine-readable, part of the contract.

A provider's system branches on these codes; the German and English messages beside them
are for people. New codes may be added; a code never changes its meaning.
"""

from __future__ import annotations

from enum import StrEnum


class ReasonCode(StrEnum):
    """Why a command was not carried out."""

    # The message itself (any service)
    MALFORMED_JSON = "malformed-json"
    MISSING_FIELD = "missing-field"
    UNKNOWN_FIELD = "unknown-field"
    INVALID_FIELD = "invalid-field"
    UNKNOWN_TYPE = "unknown-type"
    INTERNAL_ERROR = "internal-error"
    # HTTP only
    MISSING_TOKEN = "missing-token"  # noqa: S105  # a reason code, not a secret
    INVALID_TOKEN = "invalid-token"  # noqa: S105  # a reason code, not a secret
    PROVIDER_CLAIM_MISSING = "provider-claim-missing"
    COUNTY_CLAIM_MISSING = "county-claim-missing"
    OUTSIDE_COUNTY = "outside-county"
    FORBIDDEN_ROLE = "forbidden-role"
    UNKNOWN_PROVIDER = "unknown-provider"
    # Intake's rules
    ENTRY_BEFORE_BIRTH = "entry-before-birth"
    IMPLAUSIBLE_AGE = "implausible-age"
    NOT_ELIGIBLE = "not-eligible"
    UNKNOWN_PROGRAMME = "unknown-programme"
    OUTSIDE_PROGRAMME_VALIDITY = "outside-programme-validity"
    AGE_BELOW_MINIMUM = "age-below-minimum"
    AGE_ABOVE_MAXIMUM = "age-above-maximum"
    RESIDENCE_STATUS_NOT_ELIGIBLE = "residence-status-not-eligible"
    MUNICIPALITY_NOT_COVERED = "municipality-not-covered"
    UNKNOWN_MUNICIPALITY = "unknown-municipality"
    PROVIDER_NOT_IN_COUNTY = "provider-not-in-county"
    LIVES_IN_STATE_RECEPTION_FACILITY = "lives-in-state-reception-facility"
    UNKNOWN_PARTICIPANT = "unknown-participant"
    PARTICIPANT_ERASED = "participant-erased"
    NO_EXCEPTION_PENDING = "no-exception-pending"
    ELIGIBILITY_EXCEPTION_DENIED = "eligibility-exception-denied"
    NO_DUPLICATE_REVIEW = "no-duplicate-review"
    LEGAL_HOLD_IN_FORCE = "legal-hold-in-force"
    NO_LEGAL_HOLD = "no-legal-hold"
    CONSENT_REQUIRED = "consent-required"
    ALREADY_EXITED = "already-exited"
    NOT_REGISTERING_PROVIDER = "not-registering-provider"
    # Coaching's rules
    UNKNOWN_CASE = "unknown-case"
    UNKNOWN_SITE = "unknown-site"
    CASE_ALREADY_OPEN = "case-already-open"
    CASE_CLOSED = "case-closed"
    DATE_IN_FUTURE = "date-in-future"
    DATE_BEFORE_CASE = "date-before-case"
    DATE_BEFORE_ENTRY = "date-before-entry"
    DATE_AFTER_EXIT = "date-after-exit"
    DUPLICATE_ID = "duplicate-id"
    ID_REUSED = "id-reused-with-different-data"
    UNKNOWN_REFERRAL = "unknown-referral"
    REFERRAL_ANSWERED = "referral-answered"
    NOT_REFERRAL_RECIPIENT = "not-referral-recipient"
    UNKNOWN_PROVIDER_TARGET = "unknown-provider-target"
    NO_EXIT_YET = "no-exit-yet"
    OUTSIDE_FOLLOW_UP_WINDOW = "outside-follow-up-window"
    # Courses' rules
    UNKNOWN_COURSE = "unknown-course"
    ALREADY_ENROLLED = "already-enrolled"
    NOT_ENROLLED = "not-enrolled"
    UNKNOWN_PART = "unknown-part"
    ATTENDANCE_BEYOND_PLAN = "attendance-beyond-plan"
    DATE_OUTSIDE_COURSE = "date-outside-course"
    NEEDS_WORK_OR_TRAINING = "needs-work-or-training"
    EMPLOYMENT_BAN = "employment-ban"
    EXIT_BEFORE_ENTRY = "exit-before-entry"
    EXCEPTION_DOES_NOT_COVER = "exception-does-not-cover"
