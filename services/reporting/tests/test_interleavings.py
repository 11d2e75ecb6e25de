"""Any interleaving of the three topics, with duplicates, gives the same reports.

The projector runs against the real PostgreSQL (and a started broker, for its dead letters);
hypothesis chooses how the topics interleave, where batches end, and which events a relay
sends twice (at new offsets). The cases are drawn first and replayed in the event loop
afterwards (hypothesis cannot drive an async database from inside its own loop), so a
failure is reported with its batches but not shrunk.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from durchstarten.db.pool import create_pool
from durchstarten.events.topics import COACHING_EVENTS, COURSES_EVENTS, INTAKE_EVENTS
from durchstarten_deploy.postgres import create_databases, with_database
from durchstarten_deploy.stack import Stack
from durchstarten_simulator.wire import consumer_record
from reporting.app import create_app
from reporting.projections import Projector
from reporting.reports import esf_indicators, outcomes, quarterly_monitoring
from reporting.settings import ReportingSettings
from reporting.versions import live_schema, reading

pytestmark = pytest.mark.integration

TABLES = [
    "participants",
    "exits",
    "module_participations",
    "erased_participants",
    "duplicates",
    "placements",
    "exam_results",
    "course_participations",
    "funding",
    "follow_ups",
    "processed_messages",
    "consumer_checkpoints",
]


def _event(type_: str, subject: str, data: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/services/test",
            "type": type_,
            "time": datetime.now(UTC).isoformat(),
            "subject": subject,
            "data": data,
        }
    ).encode()


def _stream() -> dict[str, list[bytes]]:
    """Each topic's events in their (per-partition) order."""
    intake: list[bytes] = []
    coaching: list[bytes] = []
    courses: list[bytes] = []
    places = ["herford", "buende", "loehne", "vlotho"]
    for n in range(24):
        pid = str(uuid.uuid4())
        entry = date(2021, 1, 4) + timedelta(days=7 * n)
        intake.append(
            _event(
                "participant.registered.v1",
                pid,
                {
                    "participant_id": pid,
                    "provider": "p",
                    "entry_date": entry.isoformat(),
                    "age_at_entry": 20,
                    "sex": "female",
                    "country_of_origin": "SYR",
                    "residence_status": "duldung",
                    "municipality": places[n % 4],
                    "school_education": "none",
                    "german_level": "A1",
                },
            )
        )
        if n % 3 == 0:
            exit_ = (entry + timedelta(days=60)).isoformat()
            intake.append(
                _event(
                    "participant.exited.v1",
                    pid,
                    {
                        "participant_id": pid,
                        "provider": "p",
                        "exit_date": exit_,
                        "reason": "placed",
                    },
                )
            )
        if n % 3 == 0:
            for observed, category in ((8, "unknown"), (20, "employment"), (20, "school")):
                # two observations on one day: the later one (in partition order) counts
                coaching.append(
                    _event(
                        "case.follow-up-recorded.v1",
                        pid,
                        {
                            "case_id": str(uuid.uuid4()),
                            "participant_id": pid,
                            "provider": "p",
                            "window": "4-weeks",
                            "observed_on": (entry + timedelta(days=60 + observed)).isoformat(),
                            "category": category,
                            "employment_kind": "insured" if category == "employment" else None,
                        },
                    )
                )
            coaching.append(
                _event(
                    "case.placement-recorded.v1",
                    pid,
                    {
                        "placement_id": str(uuid.uuid4()),
                        "case_id": str(uuid.uuid4()),
                        "participant_id": pid,
                        "provider": "p",
                        "site": "s",
                        "category": "employment" if n % 2 else "moved-away",
                        "start_date": (entry + timedelta(days=40)).isoformat(),
                        "employment_kind": "insured" if n % 2 else None,
                    },
                )
            )
        if n % 2 == 0:
            opened = (entry + timedelta(days=2)).isoformat()
            coaching.append(
                _event(
                    "case.opened.v1",
                    pid,
                    {
                        "case_id": str(uuid.uuid4()),
                        "participant_id": pid,
                        "provider": "p",
                        "module": "F1",
                        "site": "s",
                        "opened_on": opened,
                    },
                )
            )
        if n % 5 == 0:
            enrolled = (entry + timedelta(days=10)).isoformat()
            courses.append(
                _event(
                    "course.participant-enrolled.v1",
                    pid,
                    {
                        "course_id": str(uuid.uuid4()),
                        "participant_id": pid,
                        "provider": "p",
                        "module": "F4",
                        "enrolled_on": enrolled,
                    },
                )
            )
        if n == 23:
            intake.append(
                _event(
                    "participant.erased.v1",
                    pid,
                    {
                        "participant_id": pid,
                        "erased_on": "2021-09-01",
                        "reason": "participant-request",
                    },
                )
            )
    return {INTAKE_EVENTS: intake, COACHING_EVENTS: coaching, COURSES_EVENTS: courses}


STREAM = _stream()


def _records(order: list[str], duplicates: list[int]) -> list[Any]:
    """Consumer records in delivery order; listed positions are delivered again later."""
    cursors = dict.fromkeys(STREAM, 0)
    offsets = dict.fromkeys(STREAM, 0)
    delivered: list[Any] = []
    for topic in order:
        value = STREAM[topic][cursors[topic]]
        cursors[topic] += 1
        delivered.append(consumer_record(topic, offsets[topic], value))
        offsets[topic] += 1
    for index in duplicates:  # what a relay re-sending after a crash produces
        topic, value = delivered[index].topic, delivered[index].value
        delivered.append(consumer_record(topic, offsets[topic], value))
        offsets[topic] += 1
    return delivered


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[Any], list[int]]:
    slots = [topic for topic, events in STREAM.items() for _ in events]
    order = draw(st.permutations(slots))  # any interleaving; each topic keeps its own order
    duplicates = draw(st.lists(st.integers(0, len(slots) - 1), max_size=8))
    records = _records(order, duplicates)
    cuts = sorted(set(draw(st.lists(st.integers(1, len(records) - 1), max_size=10))))
    batches, start = [], 0
    for cut in [*cuts, len(records)]:
        batches.append(records[start:cut])
        start = cut
    return batches, duplicates


@pytest_asyncio.fixture(scope="module")
async def projector(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Projector, asyncpg.Pool]]:
    name = f"{stack.database_prefix}_interleave"
    await create_databases(stack.admin_url, [name], recreate=True)
    app_settings = ReportingSettings(
        database_url=SecretStr(with_database(stack.admin_url, name)),
        **stack.kafka_settings(),
        auth_jwks_path=stack.issuer.jwks_path if stack.issuer else None,
    )
    app = create_app(app_settings)
    runtime = app.state.runtime
    # No broker started: a started one would join the session reporting service's consumer
    # group on the shared topics and take events meant for it into this database.
    pool = await create_pool(app_settings.database_url.get_secret_value())
    try:
        await runtime.attach_database(pool)
        yield Projector(runtime), pool
    finally:
        await pool.close()


async def _report(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    async with reading(pool) as connection:
        return [
            *[
                await quarterly_monitoring(connection, year=2021, quarter=q, min_cell_count=1)
                for q in (1, 2, 3)
            ],
            await outcomes(connection, year=2021, quarter=4, min_cell_count=1),
            await esf_indicators(connection, year=2021, min_cell_count=1),
        ]


async def _reset(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        schema = await live_schema(connection)
        await connection.execute(f"TRUNCATE {', '.join(f'{schema}.{t}' for t in TABLES)}")


@pytest.mark.asyncio
async def test_every_interleaving_gives_the_same_reports(
    projector: tuple[Projector, asyncpg.Pool],
) -> None:
    apply, pool = projector
    await _reset(pool)
    canonical = [
        record for topic in STREAM for record in _records([topic] * len(STREAM[topic]), [])
    ]
    # offsets restart per topic in `_records`, so build the canonical order topic by topic
    await apply.apply_batch(canonical)
    expected = await _report(pool)
    assert expected[0]["by_municipality"]["column_totals"][0]["value"] > 0
    esf = expected[-1]["results_after_exit"]
    school = esf["cells"][esf["rows"].index("education-or-training")][0]["value"]
    assert school > 0  # the later of two same-day follow-ups counts
    assert esf["cells"][esf["rows"].index("employment-insured")][0]["value"] == 0

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(deliveries())
    def check(case: tuple[list[Any], list[int]]) -> None:
        batches, _ = case
        results.append(batches)

    results: list[list[list[Any]]] = []
    check()
    for batches in results:
        await _reset(pool)
        for batch in batches:
            await apply.apply_batch(batch)
        assert await _report(pool) == expected
