"""Courses end to end: a Jugendintegrationskurs for 20 with a waitlist, bad input, the F2
rule, funding facts and erasure; real processes, Kafka and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from tests.support import (
    client,
    command,
    encoded,
    eventually,
    post,
    produce,
    read_participant,
    read_topic,
    replies_to,
    report,
    v2_registration,
    values_of,
)

from durchstarten.auth import Role
from durchstarten.events.topics import COURSES_EVENTS, inbound
from durchstarten_deploy.stack import ServiceProcess, Stack
from durchstarten_deploy.testing import TEST_PROVIDERS

pytestmark = pytest.mark.integration

ALPHA, BETA = TEST_PROVIDERS


async def known_to_courses(stack: Stack, ids: list[str]) -> None:
    async def all_known() -> bool:
        connection = await asyncpg.connect(stack.service_database_url("courses"))
        try:
            count = await connection.fetchval(
                "SELECT count(*) FROM participants WHERE participant_id = ANY($1::uuid[])",
                [uuid.UUID(i) for i in ids],
            )
        finally:
            await connection.close()
        return bool(count == len(ids))

    await eventually(all_known, what="courses learnt of the participants")


async def participants(stack: Stack, provider: str, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        response = await post(stack, v2_registration(provider), Role.PROVIDER, provider)
        ids.append(response.json()["participant_id"])
    await known_to_courses(stack, ids)
    return ids


async def course_cmd(
    stack: Stack, type_: str, provider: str, data: dict[str, Any]
) -> httpx.Response:
    return await post(
        stack, command(type_, provider, data), Role.PROVIDER, provider, service="courses"
    )


async def view(stack: Stack, course_id: str, provider: str) -> dict[str, Any]:
    async with client(stack, "courses", Role.PROVIDER, provider) as courses:
        response = await courses.get(f"/v1/courses/{course_id}")
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def scheduling(
    course_type: str, module: str, dates: tuple[str, str], parts: list[dict[str, Any]], **more: Any
) -> dict[str, Any]:
    """The data of a `schedule-course.v1` command for a new course in Herford."""
    start, end = dates
    return {
        "course_id": str(uuid.uuid4()),
        "course_type": course_type,
        "module": module,
        "site": "herford",
        "start_date": start,
        "end_date": end,
        "parts": parts,
        **more,
    }


JIK_PARTS = [
    {"name": "basis-1", "planned_ue": 300},
    {"name": "aufbau-1", "planned_ue": 300},
    {"name": "aufbau-2", "planned_ue": 300},
    {"name": "orientation", "planned_ue": 100},
]


async def test_a_youth_integration_course_for_twenty_with_a_waitlist(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    people = await participants(stack, BETA, 22)
    schedule = scheduling(
        "jugendintegrationskurs",
        "F4",
        ("2022-03-01", "2023-02-28"),
        JIK_PARTS,
        target_level="B1",
        capacity=20,
    )
    course_id = schedule["course_id"]
    commands = [command("schedule-course.v1", BETA, schedule)]
    commands += [
        command(
            "enrol.v1",
            BETA,
            {"course_id": course_id, "participant_id": p, "requested_on": "2022-02-15"},
        )
        for p in people
    ]
    enrolled, waiting = people[:20], people[20:]
    commands += [
        command(
            "record-attendance.v1",
            BETA,
            {
                "course_id": course_id,
                "participant_id": p,
                "part": "basis-1",
                "date": "2022-03-02",
                "ue": 5,
            },
        )
        for p in enrolled
    ]
    dropping = enrolled[2]
    commands.append(
        command(
            "drop-out.v1",
            BETA,
            {
                "course_id": course_id,
                "participant_id": dropping,
                "dropped_on": "2022-04-01",
                "reason": "placed",
            },
        )
    )
    promoted = waiting[0]
    commands.append(
        command(
            "record-attendance.v1",
            BETA,
            {
                "course_id": course_id,
                "participant_id": promoted,
                "part": "basis-1",
                "date": "2022-04-04",
                "ue": 6,
            },
        )
    )
    finishers = [p for p in enrolled if p != dropping] + [promoted]
    for p in finishers:
        skills = {"listening_reading": "B1", "writing": "A2", "speaking": "B1"}
        commands.append(
            command(
                "record-exam-result.v1",
                BETA,
                {"course_id": course_id, "participant_id": p, "exam_date": "2023-02-10", **skills},
            )
        )
        commands.append(
            command(
                "complete-participation.v1",
                BETA,
                {"course_id": course_id, "participant_id": p, "completed_on": "2023-02-28"},
            )
        )
    # One key: the provider's commands for this course arrive in the order sent.
    await produce(stack, inbound(BETA, "courses"), encoded(commands), key=course_id.encode())

    outcomes = await replies_to(stack, BETA, "courses", {c["id"] for c in commands})
    rejected = [v["data"] for v in outcomes.values() if v["type"] == "command.rejected.v1"]
    assert rejected == []

    state = await view(stack, course_id, BETA)
    by_status: dict[str, list[str]] = {}
    for row in state["participants"]:
        by_status.setdefault(row["status"], []).append(row["participant_id"])
    assert sorted(by_status["completed"]) == sorted(finishers)
    assert by_status["dropped-out"] == [dropping]
    assert by_status["waitlisted"] == [waiting[1]]
    assert {
        row["exam_overall"] for row in state["participants"] if row["status"] == "completed"
    } == {"B1"}
    assert state["delivered_ue"] == {"basis-1": 11}

    def everything_read(records: list[Any]) -> bool:
        # Events of different people sit on different partitions: wait for all kinds.
        types = [v["type"] for v in values_of(records) if v["data"].get("course_id") == course_id]
        return (
            types.count("course.participation-completed.v1") == 20
            and types.count("course.participant-waitlisted.v1") == 2
            and types.count("course.funding-accrued.v1") == 22
        )

    events = await read_topic(stack, COURSES_EVENTS, until=everything_read)
    mine = [v for v in values_of(events) if v["data"].get("course_id") == course_id]
    waitlisted = [v["data"] for v in mine if v["type"] == "course.participant-waitlisted.v1"]
    # Events of different people travel on different partitions: compare by position.
    assert sorted((w["position"], w["participant_id"]) for w in waitlisted) == [
        (1, waiting[0]),
        (2, waiting[1]),
    ]
    promotions = [
        v["data"]
        for v in mine
        if v["type"] == "course.participant-enrolled.v1" and v["data"]["from_waitlist"]
    ]
    assert [p["participant_id"] for p in promotions] == [promoted]
    funding = [v["data"] for v in mine if v["type"] == "course.funding-accrued.v1"]
    lump = sum(f["amount_cents"] for f in funding if f["kind"] == "ue-lump-sum")
    fees = sum(f["amount_cents"] for f in funding if f["kind"] == "exam-fee")
    assert lump == 11 * 3750  # 11 UE delivered at 37.50 EUR
    assert fees == 20 * 13500  # 20 exams at cost

    async def level_history() -> list[Any]:
        response = await read_participant(
            stack, promoted, Role.PROVIDER, BETA, purpose="level check"
        )
        levels: list[Any] = response.json()["history"]["german_level"]
        return levels if len(levels) == 2 else []

    levels = await eventually(level_history, what="the exam result in intake's level history")

    async def yearly() -> dict[str, Any] | None:
        result = await report(stack, "/v1/reports/courses", year=2023)
        return result if result["pass_rate"] is not None else None

    courses_report = await eventually(yearly, what="the year's exam results in the report")
    assert courses_report["pass_rate"] == 1.0  # everyone passed, as in Herford
    assert (levels[1]["source"], levels[1]["overall"], levels[1]["writing"]) == ("dtz", "B1", "A2")


async def test_bad_input_is_rejected_with_a_reason_and_nothing_written(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    person, outsider = await participants(stack, BETA, 2)
    schedule = scheduling(
        "hauptschulabschluss-course",
        "F3",
        ("2022-09-01", "2023-06-30"),
        [{"name": "math", "planned_ue": 10}],
        capacity=5,
    )
    course_id = schedule["course_id"]
    assert (await course_cmd(stack, "schedule-course.v1", BETA, schedule)).status_code == 201
    assert (await course_cmd(stack, "schedule-course.v1", BETA, schedule)).json()[
        "reason"
    ] == "duplicate-id"
    enrol = {"course_id": course_id, "participant_id": person, "requested_on": "2022-08-20"}
    assert (await course_cmd(stack, "enrol.v1", BETA, enrol)).status_code == 201
    assert (await course_cmd(stack, "enrol.v1", BETA, enrol)).json()["reason"] == "already-enrolled"

    def attend(day: str, ue: int, who: str = person, part: str = "math") -> dict[str, Any]:
        return {"course_id": course_id, "participant_id": who, "part": part, "date": day, "ue": ue}

    assert (
        await course_cmd(stack, "record-attendance.v1", BETA, attend("2022-09-05", 8))
    ).status_code == 201
    cases = [
        (attend("2022-09-06", 5), "attendance-beyond-plan", "data.ue"),
        (attend("2022-08-31", 1), "date-outside-course", "data.date"),
        (attend("2022-09-06", 1, part="german"), "unknown-part", "data.part"),
        (attend("2022-09-06", 1, who=outsider), "not-enrolled", "data.participant_id"),
    ]
    for data, reason, field in cases:
        response = await course_cmd(stack, "record-attendance.v1", BETA, data)
        assert (response.status_code, response.json()["reason"], response.json()["field"]) == (
            422,
            reason,
            field,
        )
    exam = {
        "course_id": course_id,
        "participant_id": outsider,
        "exam_date": "2023-05-10",
        "did_not_sit": True,
    }
    assert (await course_cmd(stack, "record-exam-result.v1", BETA, exam)).json()[
        "reason"
    ] == "not-enrolled"
    foreign = await course_cmd(stack, "enrol.v1", ALPHA, enrol | {"participant_id": outsider})
    assert (foreign.status_code, foreign.json()["reason"]) == (404, "unknown-course")
    state = await view(stack, course_id, BETA)
    assert state["delivered_ue"] == {"math": 8}  # nothing of the rejected attendance
    assert [row["participant_id"] for row in state["participants"]] == [person]


async def test_f2_admits_only_people_in_work_or_training(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    (person,) = await participants(stack, ALPHA, 1)
    schedule = scheduling(
        "in-work-qualification",
        "F2",
        ("2022-01-10", "2022-12-16"),
        [{"name": "tutoring", "planned_ue": 80}],
    )
    assert (await course_cmd(stack, "schedule-course.v1", ALPHA, schedule)).status_code == 201
    enrol = {
        "course_id": schedule["course_id"],
        "participant_id": person,
        "requested_on": "2022-10-01",
    }
    refused = await course_cmd(stack, "enrol.v1", ALPHA, enrol)
    assert refused.json()["reason"] == "needs-work-or-training"

    case_id = str(uuid.uuid4())
    opened = await post(
        stack,
        command(
            "open-case.v1",
            ALPHA,
            {
                "case_id": case_id,
                "participant_id": person,
                "module": "F1",
                "site": "herford",
                "opened_on": "2022-03-02",
            },
        ),
        Role.PROVIDER,
        ALPHA,
        service="coaching",
    )
    assert opened.status_code == 201, opened.text
    placed = await post(
        stack,
        command(
            "record-placement.v1",
            ALPHA,
            {
                "placement_id": str(uuid.uuid4()),
                "case_id": case_id,
                "category": "ausbildung-company",
                "start_date": "2022-09-01",
            },
        ),
        Role.PROVIDER,
        ALPHA,
        service="coaching",
    )
    assert placed.status_code == 201

    async def admitted() -> bool:
        retry = await course_cmd(stack, "enrol.v1", ALPHA, enrol)
        return retry.status_code == 201

    await eventually(admitted, what="F2 enrolment once the placement is known")


async def test_erasure_removes_person_level_rows_from_courses(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    (person,) = await participants(stack, BETA, 1)
    schedule = scheduling(
        "preparatory-course",
        "F4",
        ("2022-03-01", "2022-12-31"),
        [{"name": "main", "planned_ue": 50}],
        capacity=10,
    )
    course_id = schedule["course_id"]
    await course_cmd(stack, "schedule-course.v1", BETA, schedule)
    await course_cmd(
        stack,
        "enrol.v1",
        BETA,
        {"course_id": course_id, "participant_id": person, "requested_on": "2022-03-01"},
    )
    attend = {
        "course_id": course_id,
        "participant_id": person,
        "part": "main",
        "date": "2022-03-03",
        "ue": 4,
    }
    assert (await course_cmd(stack, "record-attendance.v1", BETA, attend)).status_code == 201
    erase = command(
        "request-erasure.v1", BETA, {"participant_id": person, "reason": "participant-request"}
    )
    assert (await post(stack, erase, Role.PROVIDER, BETA)).status_code == 201

    async def erased() -> bool:
        state = await view(stack, course_id, BETA)
        return bool(state["participants"] == [])

    await eventually(erased, what="courses erased the person")
    assert (await view(stack, course_id, BETA))["delivered_ue"] == {"main": 4}  # not person-level
