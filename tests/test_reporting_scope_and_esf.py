"""Provider-scoped reports and the ESF+ indicators against an independent oracle.

The events belong to a provider id made up for this test, so the provider-scoped figures
cover exactly this test's people (other tests share the stack) and can be compared cell
by cell. The oracle is plain Python over the generated input; it shares no code with
reporting.
"""

from __future__ import annotations

import csv
import io
import random
import uuid
from collections import Counter
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]  # openpyxl ships no types
from tests.support import (
    agrees,
    client,
    encoded,
    envelope,
    eventually,
    participant_registered,
    produce,
)

from durchstarten.auth import Role
from durchstarten.events.topics import COACHING_EVENTS, COURSES_EVENTS, INTAKE_EVENTS
from durchstarten.events.values import HERFORD_KEYS
from durchstarten_deploy.stack import DEMO_COUNTY, ServiceProcess, Stack

pytestmark = pytest.mark.integration

YEAR = 2026
POSITIVE = {
    "ausbildung-company",
    "ausbildung-school",
    "employment",
    "qualification-measure",
    "language-course",
    "school",
}
CATEGORIES = [*sorted(POSITIVE), "regular-system", "moved-away", "deported", "unknown"]
EU = {"POL", "ROU", "BGR"}


def esf_group(category: str | None, kind: str | None) -> str:
    """The oracle's own mapping of a follow-up to its ESF+ result group."""
    if category is None:
        return "not-recorded"
    if category == "employment":
        return "employment-marginal" if kind == "marginal" else "employment-insured"
    if category in POSITIVE:
        return "education-or-training"
    if category in ("moved-away", "left-country", "deported"):
        return "left-the-region"
    return category


def generate(mine: str, other: str, seed: int) -> dict[str, Any]:
    """People of two providers (some at both) with cases, placements, exits and follow-ups."""
    rng = random.Random(seed)
    people = []
    for n in range(90):
        entry = date(YEAR, 1, 2) + timedelta(days=rng.randrange(200))
        at = [mine] if n < 50 else [other] if n < 75 else [mine, other]
        person: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "entry": entry,
            "age": rng.choice([17, 19, 22, 26, 27, 31]),
            "sex": rng.choice(["female", "male", "male"]),
            "country": rng.choice(["SYR", "AFG", "IRQ", "GIN", "POL"]),
            "school": rng.choice(["none", "primary", "lower-secondary", "upper-secondary"]),
            "municipality": rng.choice(["herford", "buende", "loehne"]),
            "modules": [(p, entry + timedelta(days=rng.randrange(20))) for p in at],
            "placements": [],
            "exit": None,
            "follow_ups": [],
        }
        for provider in at:
            if rng.random() < 0.6:
                person["placements"].append(
                    (
                        provider,
                        rng.choice(CATEGORIES),
                        entry + timedelta(days=30 + rng.randrange(200)),
                    )
                )
        if rng.random() < 0.6:
            exit_ = min(entry + timedelta(days=60 + rng.randrange(100)), date(YEAR, 12, 31))
            person["exit"] = exit_
            for window, days in (("4-weeks", 28), ("6-months", 180)):
                for _ in range(rng.choice([0, 1, 1, 2])):
                    category = rng.choice(CATEGORIES)
                    kind = rng.choice(["insured", "marginal"]) if category == "employment" else None
                    observed = exit_ + timedelta(days=rng.randrange(1, days))
                    person["follow_ups"].append((window, observed, category, kind, at[0]))
        people.append(person)
    courses = []
    course_id = str(uuid.uuid4())
    for person in people[:24]:  # a course of `mine`, for the first people
        outcome = rng.choice(["completed", "dropped-out", "completed"])
        result = rng.choice(["B1", "B1", "A2"]) if outcome == "completed" else None
        courses.append((person["id"], outcome, result))
    return {"people": people, "course_id": course_id, "courses": courses}


def events(history: dict[str, Any]) -> dict[str, list[bytes]]:
    """The domain events the three write services would have published for the history."""
    intake, coaching, courses = [], [], []
    for p in history["people"]:
        pid = p["id"]
        registered = participant_registered(
            p["modules"][0][0],
            p["entry"].isoformat(),
            pid,
            age_at_entry=p["age"],
            sex=p["sex"],
            country_of_origin=p["country"],
            municipality=p["municipality"],
            school_education=p["school"],
        )
        intake += encoded([registered])
        if p["exit"]:
            intake.append(
                envelope(
                    "participant.exited.v1",
                    "/services/intake",
                    pid,
                    {
                        "participant_id": pid,
                        "provider": p["modules"][0][0],
                        "exit_date": p["exit"].isoformat(),
                        "reason": "placed",
                    },
                )
            )
        for provider, opened in p["modules"]:
            coaching.append(
                envelope(
                    "case.opened.v1",
                    "/services/coaching",
                    pid,
                    {
                        "case_id": str(uuid.uuid4()),
                        "participant_id": pid,
                        "provider": provider,
                        "module": "F1",
                        "site": "herford",
                        "opened_on": opened.isoformat(),
                    },
                )
            )
        for provider, category, start in p["placements"]:
            coaching.append(
                envelope(
                    "case.placement-recorded.v1",
                    "/services/coaching",
                    pid,
                    {
                        "placement_id": str(uuid.uuid4()),
                        "case_id": str(uuid.uuid4()),
                        "participant_id": pid,
                        "provider": provider,
                        "site": "herford",
                        "category": category,
                        "start_date": start.isoformat(),
                        "employment_kind": "insured" if category == "employment" else None,
                    },
                )
            )
        for window, observed, category, kind, provider in p["follow_ups"]:
            coaching.append(
                envelope(
                    "case.follow-up-recorded.v1",
                    "/services/coaching",
                    pid,
                    {
                        "case_id": str(uuid.uuid4()),
                        "participant_id": pid,
                        "provider": provider,
                        "window": window,
                        "observed_on": observed.isoformat(),
                        "category": category,
                        "employment_kind": kind,
                    },
                )
            )
    mine = history["people"][0]["modules"][0][0]
    course = history["course_id"]
    for pid, outcome, result in history["courses"]:
        base = {"course_id": course, "participant_id": pid, "provider": mine, "module": "F4"}
        courses.append(
            envelope(
                "course.participant-enrolled.v1",
                "/services/courses",
                pid,
                base | {"enrolled_on": f"{YEAR}-03-01"},
            )
        )
        if outcome == "completed":
            courses.append(
                envelope(
                    "course.participation-completed.v1",
                    "/services/courses",
                    pid,
                    base | {"completed_on": f"{YEAR}-11-28"},
                )
            )
        else:
            courses.append(
                envelope(
                    "course.participant-dropped-out.v1",
                    "/services/courses",
                    pid,
                    base | {"dropped_on": f"{YEAR}-06-30", "reason": "moved-away"},
                )
            )
        if result:
            courses.append(
                envelope(
                    "course.exam-result-recorded.v1",
                    "/services/courses",
                    pid,
                    {
                        "course_id": course,
                        "participant_id": pid,
                        "provider": mine,
                        "exam_date": f"{YEAR}-11-20",
                        "overall": result,
                    },
                )
            )
    return {INTAKE_EVENTS: intake, COACHING_EVENTS: coaching, COURSES_EVENTS: courses}


def oracle(history: dict[str, Any], provider: str) -> dict[str, Any]:
    """Every figure the provider-scoped reports should show, computed directly."""
    people = [p for p in history["people"] if any(m[0] == provider for m in p["modules"])]
    q_start, q_end = date(YEAR, 4, 1), date(YEAR, 6, 30)

    def in_caseload(p: dict[str, Any]) -> bool:
        return p["entry"] <= q_end and (p["exit"] is None or p["exit"] > q_end)

    by_place = {
        m: [
            sum(1 for p in people if p["municipality"] == m and q_start <= p["entry"] <= q_end),
            sum(
                1
                for p in people
                if p["municipality"] == m and p["exit"] and q_start <= p["exit"] <= q_end
            ),
            sum(1 for p in people if p["municipality"] == m and in_caseload(p)),
        ]
        for m in ("herford", "buende", "loehne")
    }
    year_end = date(YEAR, 12, 31)

    def placed(p: dict[str, Any]) -> bool:
        return any(
            who == provider and category in POSITIVE and start <= year_end
            for who, category, start in p["placements"]
        )

    reached = [p for p in people if p["entry"] <= year_end]
    exited = [p for p in reached if p["exit"] and p["exit"] <= year_end]
    entering = [p for p in people if p["entry"].year == YEAR]
    results: Counter[tuple[str, str]] = Counter()
    for p in people:
        if not (p["exit"] and p["exit"].year == YEAR):
            continue
        for window in ("4-weeks", "6-months"):
            seen = sorted((f for f in p["follow_ups"] if f[0] == window), key=lambda f: f[1])
            last = seen[-1] if seen else None
            results[(window, esf_group(last[2] if last else None, last[3] if last else None))] += 1
    course_people = history["courses"] if provider == history["people"][0]["modules"][0][0] else []
    return {
        "by_municipality": by_place,
        "reached": len(reached),
        "placed": sum(1 for p in reached if placed(p)),
        "exited": len(exited),
        "placed_exited": sum(1 for p in exited if placed(p)),
        "sex": Counter(p["sex"] for p in entering),
        "age_band": Counter(
            "under-18" if p["age"] < 18 else "18-29" if p["age"] <= 29 else "30-54"
            for p in entering
        ),
        "nationality": Counter(
            "eu-eea-ch" if p["country"] in EU else "third-country" for p in entering
        ),
        "results": results,
        "exits_in_year": sum(1 for p in people if p["exit"] and p["exit"].year == YEAR),
        "courses": Counter(outcome for _, outcome, _ in course_people),
        "exams": Counter(result for _, _, result in course_people if result),
    }


def cell(table: dict[str, Any], row: str, column: str) -> dict[str, Any]:
    found: dict[str, Any] = table["cells"][table["rows"].index(row)][table["columns"].index(column)]
    return found


async def get(stack: Stack, path: str, token: str, **params: Any) -> httpx.Response:
    async with client(stack, "reporting") as reporting:
        return await reporting.get(
            path, params=params, headers={"Authorization": f"Bearer {token}"}
        )


async def test_provider_scoped_reports_and_esf_indicators_match_the_oracle(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    mine, other = f"oracle-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    history = generate(mine, other, seed=7)
    # Coaching and courses first: facts may arrive before the registrations they belong to.
    by_topic = events(history)
    for topic in (COACHING_EVENTS, COURSES_EVENTS, INTAKE_EVENTS):
        await produce(stack, topic, by_topic[topic], by_subject=True)
    expected = oracle(history, mine)
    coordinator = stack.token(Role.COORDINATOR)

    async def outcomes_complete() -> dict[str, Any] | None:
        response = await get(
            stack, "/v1/reports/outcomes", coordinator, year=YEAR, quarter=4, provider=mine
        )
        if response.status_code == 422:  # no data names the provider yet
            return None
        body: dict[str, Any] = response.json()
        reached = cell(body["participants"], "reached", "participants")
        return body if agrees(reached, expected["reached"]) else None

    outcomes = await eventually(outcomes_complete, what="scoped outcomes projected")
    people = outcomes["participants"]
    for step in ("placed", "exited", "placed_exited"):
        assert agrees(cell(people, step, "participants"), expected[step]), step
    assert outcomes["scope"]["provider"] == mine
    assert 0 < expected["placed"] < expected["reached"]  # the oracle's data tests something

    # The provider itself gets the same figures without asking for its scope (naming the
    # county: it works in several) ...
    provider_token = stack.token(Role.PROVIDER, mine)
    unnamed = await get(stack, "/v1/reports/outcomes", provider_token, year=YEAR, quarter=4)
    assert unnamed.status_code == 422
    assert unnamed.json()["detail"] == {"reason": "county-required", "field": "county"}
    as_provider = await get(
        stack, "/v1/reports/outcomes", provider_token, year=YEAR, quarter=4, county=DEMO_COUNTY
    )
    assert as_provider.status_code == 200
    assert as_provider.json()["participants"] == people
    # In a county where nothing names the provider there is no scope of it: refused, never
    # answered with another table.
    elsewhere = await get(
        stack, "/v1/reports/outcomes", provider_token, year=YEAR, quarter=4, county="05754"
    )
    assert elsewhere.status_code == 422, elsewhere.text
    # ... never another provider's, and the ministry gets county-wide tables only.
    refused = await get(
        stack,
        "/v1/reports/outcomes",
        stack.token(Role.PROVIDER, mine),
        year=YEAR,
        quarter=4,
        provider=other,
    )
    assert refused.status_code == 403
    ministry = await get(
        stack,
        "/v1/reports/outcomes",
        stack.token(Role.MINISTRY),
        year=YEAR,
        quarter=4,
        provider=mine,
    )
    assert ministry.status_code == 403
    invalid = await get(
        stack, "/v1/reports/outcomes", coordinator, year=YEAR, quarter=4, provider="Not A Slug"
    )
    assert invalid.status_code == 422

    quarterly = (
        await get(
            stack,
            "/v1/reports/quarterly-monitoring",
            coordinator,
            year=YEAR,
            quarter=2,
            provider=mine,
        )
    ).json()
    table = quarterly["by_municipality"]
    for place, values in expected["by_municipality"].items():
        for measure, value in zip(("entries", "exits", "caseload"), values, strict=True):
            # Sent by name (an older version), shown by official key.
            assert agrees(cell(table, HERFORD_KEYS[place], measure), value), (place, measure)

    esf = (
        await get(stack, "/v1/reports/esf-indicators", coordinator, year=YEAR, provider=mine)
    ).json()
    for dimension in ("sex", "age_band", "nationality"):
        published = esf["participants_at_entry"][dimension]
        for row in published["rows"]:
            assert agrees(cell(published, row, "participants"), expected[dimension][row]), row
    results = esf["results_after_exit"]
    for row in results["rows"]:
        for window in results["columns"]:
            assert agrees(cell(results, row, window), expected["results"][(window, row)]), (
                row,
                window,
            )
    for total in results["column_totals"]:
        assert total["value"] == expected["exits_in_year"]  # each window covers every exit
    assert sum(1 for line in results["cells"] for c in line if not c["suppressed"]) >= 6

    courses = (
        await get(stack, "/v1/reports/courses", coordinator, year=YEAR, provider=mine)
    ).json()
    people_table = courses["people_by_module"]
    assert agrees(cell(people_table, "F4", "enrolled"), len(history["courses"]))
    assert agrees(cell(people_table, "F4", "completed"), expected["courses"]["completed"])
    assert agrees(cell(people_table, "F4", "dropped-out"), expected["courses"]["dropped-out"])
    for level in ("B1", "A2"):
        assert agrees(cell(courses["exam_results"], level, "results"), expected["exams"][level])
    others = (
        await get(stack, "/v1/reports/courses", coordinator, year=YEAR, provider=other)
    ).json()
    assert cell(others["people_by_module"], "F4", "enrolled")["value"] == 0


def expected_grid(table: dict[str, Any]) -> list[list[str]]:
    """How a published table reads in a file: "." for a suppressed cell."""

    def text(c: dict[str, Any]) -> str:
        return "." if c["suppressed"] else str(c["value"])

    grid = [["", *table["columns"]]]
    grid += [
        [row, *map(text, line)] for row, line in zip(table["rows"], table["cells"], strict=True)
    ]
    if "column_totals" in table:  # overlapping rows (a funnel) have no total
        grid.append(["total", *map(text, table["column_totals"])])
    return grid


async def test_every_report_comes_as_csv_and_xlsx_with_the_same_numbers(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    token = stack.token(Role.COORDINATOR)
    for path, params, tables in (
        ("/v1/reports/outcomes", {"year": 2024, "quarter": 2}, ["headline", "participants"]),
        ("/v1/reports/courses", {"year": 2025}, ["people_by_module", "exam_results"]),
        (
            "/v1/reports/esf-indicators",
            {"year": YEAR},
            ["participants_at_entry.sex", "results_after_exit"],
        ),
    ):
        report = (await get(stack, path, token, **params)).json()
        as_csv = await get(stack, path, token, **params, format="csv")
        as_xlsx = await get(stack, path, token, **params, format="xlsx")
        assert as_csv.headers["content-type"].startswith("text/csv")
        lines = list(csv.reader(io.StringIO(as_csv.text), delimiter=";"))
        workbook = load_workbook(io.BytesIO(as_xlsx.content))
        for name in tables:
            table = report
            for part in name.split("."):
                table = table[part]
            grid = expected_grid(table)
            start = lines.index([name]) + 1
            assert lines[start : start + len(grid)] == grid, name
            sheet = [
                ["" if v is None else str(v) for v in row]
                for row in workbook[name[:31]].iter_rows(values_only=True)
            ]
            assert sheet == grid, name
