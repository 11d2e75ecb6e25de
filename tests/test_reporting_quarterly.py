"""The quarterly monitoring table against an oracle computed independently from the input,
with the topics delivered out of order and an event delivered twice."""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped]  # openpyxl ships no types
from tests.support import (
    agrees,
    cell_at,
    client,
    encoded,
    envelope,
    eventually,
    participant_registered,
    produce,
    report,
)

from durchstarten.auth import Role
from durchstarten.events.topics import COACHING_EVENTS, INTAKE_EVENTS
from durchstarten.events.values import HERFORD_KEYS
from durchstarten_deploy.stack import ServiceProcess, Stack

pytestmark = pytest.mark.integration

PLACES = [
    "herford",
    "buende",
    "loehne",
    "enger",
    "spenge",
    "vlotho",
    "hiddenhausen",
    "kirchlengern",
    "roedinghausen",
]


def people(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    weights = [30, 12, 9, 4, 2, 1, 3, 0, 1]  # some places small enough to be suppressed
    result = []
    for _ in range(60):
        entry = date(2019, 7, 1) + timedelta(days=rng.randrange(184))  # Q3 and Q4 of 2019
        exit_ = entry + timedelta(days=rng.randrange(30, 200)) if rng.random() < 0.3 else None
        result.append(
            {
                "id": str(uuid.uuid4()),
                "place": rng.choices(PLACES, weights)[0],
                "entry": entry,
                "exit": exit_,
                "case": entry + timedelta(days=3) if rng.random() < 0.7 else None,
            }
        )
    return result


def oracle(persons: list[dict[str, Any]], start: date, end: date) -> dict[str, dict[str, int]]:
    # The table's rows are the official keys; the people are sent by name (an older version).
    table = {HERFORD_KEYS[place]: {"entries": 0, "exits": 0, "caseload": 0} for place in PLACES}
    for p in persons:
        row = table[HERFORD_KEYS[p["place"]]]
        row["entries"] += start <= p["entry"] <= end
        row["exits"] += p["exit"] is not None and start <= p["exit"] <= end
        row["caseload"] += p["entry"] <= end and (p["exit"] is None or p["exit"] > end)
    return table


async def test_the_quarterly_table_matches_an_independent_oracle(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    persons = people(2019)
    registrations, cases, exits = [], [], []
    for p in persons:
        registrations.append(
            participant_registered(
                "test-alpha", p["entry"].isoformat(), p["id"], municipality=p["place"]
            )
        )
        if p["case"]:
            cases.append(
                envelope(
                    "case.opened.v1",
                    "/services/coaching",
                    p["id"],
                    {
                        "case_id": str(uuid.uuid4()),
                        "participant_id": p["id"],
                        "provider": "test-alpha",
                        "module": "F1",
                        "site": "herford",
                        "opened_on": p["case"].isoformat(),
                    },
                )
            )
        if p["exit"]:
            exits.append(
                envelope(
                    "participant.exited.v1",
                    "/services/intake",
                    p["id"],
                    {
                        "participant_id": p["id"],
                        "provider": "test-alpha",
                        "exit_date": p["exit"].isoformat(),
                        "reason": "placed",
                    },
                )
            )
    # Coaching's cases arrive before the registrations they refer to; one event comes twice.
    await produce(stack, COACHING_EVENTS, cases)
    await produce(stack, INTAKE_EVENTS, exits[:5])  # some exits before their registrations
    await produce(
        stack, INTAKE_EVENTS, [*encoded(registrations), *encoded(registrations[:1]), *exits[5:]]
    )

    async def quarter(q: int) -> dict[str, Any]:
        return await report(
            stack, "/v1/reports/quarterly-monitoring", Role.MINISTRY, year=2019, quarter=q
        )

    async def complete() -> dict[str, Any] | None:
        fourth = await quarter(4)
        truth = oracle(persons, date(2019, 10, 1), date(2019, 12, 31))
        table = fourth["by_municipality"]
        done = all(
            agrees(cell_at(table, place, measure), truth[place][measure])
            for place in table["rows"]
            for measure in table["columns"]
        )
        return fourth if done else None

    await eventually(complete, what="every event projected")
    for q, (start, end) in (
        (3, (date(2019, 7, 1), date(2019, 9, 30))),
        (4, (date(2019, 10, 1), date(2019, 12, 31))),
    ):
        published = await quarter(q)
        truth = oracle(persons, start, end)
        table = published["by_municipality"]
        for r, place in enumerate(table["rows"]):
            for c, measure in enumerate(table["columns"]):
                cell = table["cells"][r][c]
                true_value = truth[place][measure]
                if cell["suppressed"]:
                    assert cell["value"] is None
                    assert cell["marker"] == "."
                else:
                    assert cell["value"] == true_value, (q, place, measure)
                    assert not 0 < true_value < 3  # small counts never published
        for c, measure in enumerate(table["columns"]):
            total = table["column_totals"][c]
            if not total["suppressed"]:
                assert total["value"] == sum(row[measure] for row in truth.values())
        module_rows = published["by_module"]["rows"]
        f1 = published["by_module"]["cells"][module_rows.index("F1")]
        expected_f1 = sum(1 for p in persons if p["case"] and start <= p["case"] <= end)
        if not f1[0]["suppressed"]:
            assert f1[0]["value"] == expected_f1
    suppressed = sum(1 for line in table["cells"] for cell in line if cell["suppressed"])
    assert suppressed > 0  # the small places are there to be protected


async def test_query_parameters_are_validated(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    async with client(stack, "reporting", Role.COORDINATOR) as reporting:
        cases: list[dict[str, str | int]] = [
            {"year": 2019, "quarter": 5},
            {"year": 1990, "quarter": 1},
            {"year": "x", "quarter": 1},
            {},
        ]
        for params in cases:
            response = await reporting.get("/v1/reports/quarterly-monitoring", params=params)
            assert response.status_code == 422, params


async def test_periods_and_scopes_outside_the_release_are_refused_not_answered(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    # A smaller or emptier table could be differenced against the protected ones: periods
    # after this year and scopes nobody configured or named are refused with the reason.
    next_year = datetime.now(UTC).year + 1
    async with client(stack, "reporting", Role.COORDINATOR) as reporting:
        later = await reporting.get(
            "/v1/reports/quarterly-monitoring", params={"year": next_year, "quarter": 1}
        )
        assert later.status_code == 422
        assert later.json()["detail"] == {"reason": "period-not-published", "field": "year"}
        yearly = await reporting.get("/v1/reports/courses", params={"year": next_year})
        assert yearly.status_code == 422
        nobody = await reporting.get(
            "/v1/reports/outcomes",
            params={"year": 2024, "quarter": 1, "provider": f"nobody-{uuid.uuid4().hex[:8]}"},
        )
        assert nobody.status_code == 422
        assert nobody.json()["detail"] == {"reason": "unknown-provider", "field": "provider"}
        frozen = await reporting.post(
            "/v1/snapshots/quarterly-monitoring",
            params={"year": next_year, "quarter": 1, "stichtag": f"{next_year}-04-15"},
        )
        assert frozen.status_code == 422
        current = await reporting.get("/v1/releases/current")
        assert current.status_code == 200
        summary = current.json()
        assert summary["disclosure_control"] == "linked-tables"
        assert summary["reports"] > 0
        assert summary["primary"] <= summary["withheld"]
        refused = await reporting.post("/v1/releases")  # computing one is for admins
        assert refused.status_code == 403
    async with client(stack, "reporting", Role.PROVIDER, "test-alpha") as provider:
        other = await provider.get(
            "/v1/reports/quarterly-monitoring",
            params={"year": 2024, "quarter": 1, "provider": "test-beta"},
        )
        assert other.status_code == 403
        assert (await provider.get("/v1/releases/current")).status_code == 403
    async with client(stack, "reporting", Role.ADMIN) as admin:
        made = await admin.post("/v1/releases")
        assert made.status_code == 201
        assert made.json()["seconds"] > 0


async def test_a_frozen_report_never_changes(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    params: dict[str, str | int] = {"year": 2020, "quarter": 2}
    async with client(stack, "reporting", Role.COORDINATOR) as reporting:

        async def live_caseload() -> int:
            # Published cells only: a withheld one counts 0 here, and five more people in
            # the county's caseload show in some published cell or total either way.
            response = await reporting.get("/v1/reports/quarterly-monitoring", params=params)
            table = response.json()["by_municipality"]
            cells = [line[2] for line in table["cells"]] + [table["column_totals"][2]]
            return sum(c["value"] or 0 for c in cells)

        async def changed_from(count: int) -> bool:
            return await live_caseload() != count

        # Five people in the frozen quarter whose identifiers are erased later on.
        erased_later = [participant_registered("test-alpha", "2020-04-20") for _ in range(5)]
        before = await live_caseload()
        await produce(stack, INTAKE_EVENTS, encoded(erased_later))
        await eventually(lambda: changed_from(before), what="the five in the live report")
        before = await live_caseload()
        freeze = params | {"stichtag": "2020-07-15"}
        frozen = await reporting.post("/v1/snapshots/quarterly-monitoring", params=freeze)
        assert frozen.status_code == 201
        snapshot_id = frozen.json()["snapshot_id"]
        first = await reporting.get(f"/v1/snapshots/{snapshot_id}")
        again = await reporting.post("/v1/snapshots/quarterly-monitoring", params=freeze)
        assert again.json()["snapshot_id"] == snapshot_id  # freezing twice keeps the first

        late = (participant_registered("test-alpha", "2020-05-04") for _ in range(5))
        await produce(stack, INTAKE_EVENTS, encoded(late))
        await eventually(lambda: changed_from(before), what="late events in the live report")
        # The deletion schedule (or a request) erases the five: announced as intake does.
        before = await live_caseload()
        erasures = [
            envelope(
                "participant.erased.v1",
                "/services/intake",
                person["subject"],
                {
                    "participant_id": person["subject"],
                    "erased_on": "2026-12-04",
                    "reason": "purpose-ended",
                },
            )
            for person in erased_later
        ]
        await produce(stack, INTAKE_EVENTS, erasures)
        await eventually(lambda: changed_from(before), what="the erasures in the live report")
        later = await reporting.get(f"/v1/snapshots/{snapshot_id}")
    assert later.content == first.content  # byte for byte
    assert later.headers["etag"] == first.headers["etag"]
    assert json.loads(first.content)["stichtag"] == "2020-07-15"


async def test_csv_and_xlsx_carry_the_same_protected_numbers(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    params: dict[str, str | int] = {"year": 2019, "quarter": 3}
    async with client(stack, "reporting", Role.COORDINATOR) as reporting:
        as_json = (await reporting.get("/v1/reports/quarterly-monitoring", params=params)).json()
        as_csv = await reporting.get(
            "/v1/reports/quarterly-monitoring", params=params | {"format": "csv"}
        )
        as_xlsx = await reporting.get(
            "/v1/reports/quarterly-monitoring", params=params | {"format": "xlsx"}
        )
    assert as_csv.headers["content-type"].startswith("text/csv")
    table = as_json["by_municipality"]
    expected = [
        [place, *("." if cell["suppressed"] else str(cell["value"]) for cell in line)]
        for place, line in zip(table["rows"], table["cells"], strict=True)
    ]
    lines = list(csv.reader(io.StringIO(as_csv.text), delimiter=";"))
    start = lines.index(["by_municipality"]) + 2  # title, header
    assert lines[start : start + len(expected)] == expected
    sheet = load_workbook(io.BytesIO(as_xlsx.content))["by_municipality"]
    cells = [
        [str(c) for c in row]
        for row in sheet.iter_rows(min_row=2, max_row=1 + len(expected), values_only=True)
    ]
    assert cells == expected
