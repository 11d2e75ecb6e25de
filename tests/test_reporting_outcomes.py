"""The outcomes report against an oracle computed independently from the generated input."""

from __future__ import annotations

import random
import statistics
import uuid
from collections import Counter
from datetime import date, timedelta
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

from durchstarten.events.topics import COACHING_EVENTS, INTAKE_EVENTS
from durchstarten_deploy.stack import ServiceProcess, Stack

pytestmark = pytest.mark.integration

PLAN = (
    [("ausbildung-company", None)] * 8
    + [("employment", "insured")] * 5
    + [("employment", "marginal")] * 4
    + [("language-course", None)] * 2
    + [("school", None)]
)


def cell_value(table: dict[str, Any], row: str, column: str) -> int | None:
    value: int | None = table["cells"][table["rows"].index(row)][table["columns"].index(column)][
        "value"
    ]
    return value


async def test_outcomes_match_an_independent_oracle(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    rng = random.Random(2024)
    people: list[dict[str, Any]] = []
    for n in range(30):
        pid = str(uuid.uuid4())
        entry = date(2024, 1, 8) + timedelta(days=n)
        placement = PLAN[n] if n < len(PLAN) else None
        start = date(2024, 4, 1) + timedelta(days=rng.randrange(90)) if placement else None
        people.append(
            {
                "id": pid,
                "entry": entry,
                "provider": "test-alpha" if n % 3 else "test-beta",
                "site": "herford" if n % 2 else "buende",
                "placement": placement,
                "start": start,
            }
        )
    registrations = encoded(
        participant_registered(p["provider"], p["entry"].isoformat(), p["id"]) for p in people
    )
    placements = []
    for p in people:
        if not p["placement"]:
            continue
        category, kind = p["placement"]
        data = {
            "placement_id": str(uuid.uuid4()),
            "case_id": str(uuid.uuid4()),
            "participant_id": p["id"],
            "provider": p["provider"],
            "site": p["site"],
            "category": category,
            "start_date": p["start"].isoformat(),
            "employment_kind": kind,
        }
        placements.append(
            envelope("case.placement-recorded.v1", "/services/coaching", p["id"], data)
        )
    await produce(stack, COACHING_EVENTS, placements)  # placements before their registrations
    await produce(stack, INTAKE_EVENTS, registrations)

    async def projected() -> dict[str, Any] | None:
        result = await report(stack, "/v1/reports/outcomes", year=2024, quarter=2)
        site = result["placements_by_site"]
        expected = Counter(p["site"] for p in people if p["placement"])
        done = set(site["rows"]) == set(expected) and all(
            agrees(cell_at(site, s, "placements"), n) for s, n in expected.items()
        )
        return result if done else None

    result = await eventually(projected, what="every placement projected")

    placed = [p for p in people if p["placement"]]
    by_category = Counter((p["placement"][0], p["provider"]) for p in placed)
    table = result["placements_by_category_and_provider"]
    for (category, provider), count in by_category.items():
        published = cell_value(table, category, provider)
        assert published in (count, None)  # true, or suppressed
    sites = Counter(p["site"] for p in placed)
    for site, count in sites.items():
        assert agrees(cell_at(result["placements_by_site"], site, "placements"), count)
    headline = result["headline"]
    assert agrees(cell_at(headline, "ausbildung", "placements"), 8)
    assert agrees(cell_at(headline, "employment", "placements"), 9)
    assert agrees(cell_at(headline, "employment_marginal", "placements"), 4)
    expected_median = statistics.median((p["start"] - p["entry"]).days for p in placed)
    assert result["median_days_to_first_placement"] == expected_median
    participants = result["participants"]
    reached = cell_value(participants, "reached", "participants")
    placed_total = cell_value(participants, "placed", "participants")
    if reached and placed_total is not None:
        assert result["placement_rate_reached"] == round(placed_total / reached, 4)
    assert "at least one placement" in result["definitions"]["placement_rate_reached"]
