"""The courses-and-funds report against an oracle computed from the generated input."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from tests.support import (
    agrees,
    cell_at,
    encoded,
    envelope,
    eventually,
    participant_registered,
    produce,
    report,
)

from durchstarten.auth import Role
from durchstarten.events.courses import CourseScheduled
from durchstarten.events.topics import COURSES_EVENTS, INTAKE_EVENTS
from durchstarten_deploy.stack import ServiceProcess, Stack

pytestmark = pytest.mark.integration


async def test_courses_and_funds_match_an_independent_oracle(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    course = str(uuid.uuid4())
    people = [str(uuid.uuid4()) for _ in range(6)]
    intake = encoded(participant_registered("test-beta", "2025-01-06", pid) for pid in people)
    base = {"course_id": course, "provider": "test-beta", "module": "F2"}
    # The course's schedule places it (its site) in a county: Kreis Herford's funds.
    scheduled = CourseScheduled.example | {
        "course_id": course,
        "provider": "test-beta",
        "module": "F2",
        "site": "site-05758004",
    }
    facts: list[bytes] = [
        envelope(
            "course.scheduled.v1",
            "/services/courses",
            course,
            CourseScheduled.model_validate(scheduled).model_dump(mode="json"),
        )
    ]
    for pid in people:
        facts.append(
            envelope(
                "course.participant-enrolled.v1",
                "/services/courses",
                pid,
                base | {"participant_id": pid, "enrolled_on": "2025-02-01"},
            )
        )
    for pid in people[:4]:
        facts.append(
            envelope(
                "course.participation-completed.v1",
                "/services/courses",
                pid,
                base | {"participant_id": pid, "completed_on": "2025-11-28"},
            )
        )
    facts.append(
        envelope(
            "course.participant-dropped-out.v1",
            "/services/courses",
            people[5],
            base | {"participant_id": people[5], "dropped_on": "2025-05-02", "reason": "placed"},
        )
    )
    results = ["B1", "B1", "B1", "A2", "did-not-sit"]
    for pid, overall in zip(people, results, strict=False):
        facts.append(
            envelope(
                "course.exam-result-recorded.v1",
                "/services/courses",
                pid,
                {
                    "course_id": course,
                    "participant_id": pid,
                    "provider": "test-beta",
                    "exam_date": "2025-11-10",
                    "overall": overall,
                },
            )
        )
    money: list[dict[str, Any]] = [
        {"kind": "ue-lump-sum", "ue": 6, "amount_cents": 6 * 3750},
        {"kind": "ue-lump-sum", "ue": 4, "amount_cents": 4 * 3750},
        *({"kind": "exam-fee", "ue": None, "amount_cents": 13500} for _ in range(4)),
    ]
    for item in money:
        facts.append(
            envelope(
                "course.funding-accrued.v1",
                "/services/courses",
                course,
                base | {"accrued_on": "2025-03-03", **item},
            )
        )
    await produce(stack, COURSES_EVENTS, facts)  # course facts before the registrations
    await produce(stack, INTAKE_EVENTS, intake)

    async def projected() -> dict[str, Any] | None:
        result = await report(stack, "/v1/reports/courses", Role.MINISTRY, year=2025)
        people = result["people_by_module"]
        funds = result["funds_by_module"].get("F2", {})
        done = (
            agrees(cell_at(people, "F2", "enrolled"), 6)
            and agrees(cell_at(people, "F2", "completed"), 4)
            and funds.get("ue_paid") == 10  # teaching units are facts, never withheld
        )
        return result if done else None

    result = await eventually(projected, what="course facts projected")
    table = result["people_by_module"]
    f2 = dict(zip(table["columns"], table["cells"][table["rows"].index("F2")], strict=True))
    assert agrees(f2["enrolled"], 6)
    assert agrees(f2["completed"], 4)
    assert f2["dropped-out"]["suppressed"]  # one person: never shown
    exams = dict(
        zip(
            result["exam_results"]["rows"],
            (line[0] for line in result["exam_results"]["cells"]),
            strict=True,
        )
    )
    assert agrees(exams["B1"], 3)
    assert exams["A2"]["suppressed"]
    assert result["pass_rate"] is None  # 3 of 4 would give the hidden A2 away
    # Paid per exam, the fees would count the exams: withheld with the A2.
    assert result["funds_by_module"]["F2"] == {
        "ue_paid": 10,
        "ue_lump_sum_eur": 375.0,
        "exam_fees_eur": None,
    }
