"""The state table over a 53-county load: how long the ministry waits for it.

Reporting runs in this process on a database of its own, configured with the synthetic
statewide counties (`durchstarten_simulator.load.statewide_counties`: 53 counties, their
municipalities and providers); synthetic people all over the state are projected through
the service's own projector, as its consumer would apply them (ingest is measured by the
other stages, through Kafka). Then, as in production: a release of every county's reports
and the state tables, protected together (`reporting.statewide`), computed afresh through
the admin API (`POST /v1/releases`), and the state table read from it, over HTTP into the
service's ASGI app, as the ministry reads it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka.structs import ConsumerRecord
from fastapi import FastAPI
from pydantic import SecretStr

from durchstarten.auth import Role
from durchstarten.counties import Counties, write_counties
from durchstarten.db.pool import create_pool
from durchstarten_bench.measure import percentile, summary_ms
from durchstarten_bench.synthetic import Histories
from durchstarten_deploy.postgres import create_databases, with_database
from durchstarten_deploy.stack import Stack
from durchstarten_simulator.load import statewide_counties
from durchstarten_simulator.wire import consumer_record
from reporting.app import create_app
from reporting.projections import Projector
from reporting.settings import ReportingSettings

BATCH = 2_000
"""Events per projection batch (the consumer's `projection_batch_size` is of this order)."""


@dataclass(frozen=True)
class StatewideLoad:
    """The size of the statewide load."""

    people: int
    """People all over the state (in every county, at random municipalities)."""
    first_entry: date
    span_days: int
    releases: int
    """Releases computed afresh."""
    requests: int
    """State tables read from the last release."""


async def _reporting(stack: Stack, counties: Counties) -> tuple[FastAPI, asyncpg.Pool]:
    """Reporting in this process, configured with `counties`, on a database of its own."""
    directory = write_counties(counties, stack.state_dir / "statewide-counties")
    name = f"{stack.database_prefix}_statewide"
    await create_databases(stack.admin_url, [name], recreate=True)
    if stack.issuer is None:
        msg = "the stack's infrastructure must run (its token issuer)"
        raise RuntimeError(msg)
    settings = ReportingSettings(
        database_url=SecretStr(with_database(stack.admin_url, name)),
        **stack.kafka_settings(),
        auth_jwks_path=stack.issuer.jwks_path,
        counties_dir=Path(directory),
        # As the stack sets it for its services: one reader's requests in a loop
        # are a measurement here, not an abuse to slow down.
        http_rate_limit_per_s=1000,
        http_rate_limit_burst=2000,
    )
    app = create_app(settings)
    pool = await create_pool(settings.database_url.get_secret_value())
    # No consumer: nothing but this stage's events reaches this database.
    await app.state.runtime.attach_database(pool)
    return app, pool


async def _project(projector: Projector, histories: Histories, people: int) -> tuple[int, float]:
    """Apply `people`'s events in batches, as the consumer would; (events, seconds)."""
    offsets: dict[str, int] = {}
    batch: list[ConsumerRecord[bytes, bytes]] = []
    events = 0
    began = time.perf_counter()
    for message in histories.messages(people * Histories.events_per_person):
        offset = offsets.get(message.topic, 0)
        offsets[message.topic] = offset + 1
        batch.append(consumer_record(message.topic, offset, message.value, message.key))
        if len(batch) >= BATCH:
            await projector.apply_batch(batch)
            events += len(batch)
            batch = []
    if batch:
        await projector.apply_batch(batch)
        events += len(batch)
    return events, time.perf_counter() - began


async def _timed(stack: Stack, app: FastAPI, load: StatewideLoad, year: int) -> dict[str, Any]:
    """Releases computed afresh with the state table, then state tables served."""
    admin = {"Authorization": f"Bearer {stack.token(Role.ADMIN)}"}
    ministry = {"Authorization": f"Bearer {stack.token(Role.MINISTRY)}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://reporting", timeout=3600
    ) as http:

        async def state_table(quarter: int) -> dict[str, Any]:
            answer = await http.get(
                "/v1/reports/state-monitoring",
                params={"year": year, "quarter": quarter},
                headers=ministry,
            )
            answer.raise_for_status()
            body: dict[str, Any] = answer.json()
            return body

        afresh, releases = [], []
        for _ in range(load.releases):
            started = time.perf_counter()
            made = await http.post("/v1/releases", headers=admin)
            made.raise_for_status()
            await state_table(1)
            afresh.append(time.perf_counter() - started)
            releases.append(made.json())
        served = []
        for number in range(load.requests):
            started = time.perf_counter()
            body = await state_table(number % 4 + 1)
            served.append(time.perf_counter() - started)
    last = releases[-1]
    return {
        "afresh": dict(summary_ms(afresh)),
        "release_s_p50": round(percentile([r["seconds"] for r in releases], 0.5), 3),
        "served": dict(summary_ms(served)),
        "state_table_rows": len(body["by_county"]["rows"]),
        "release": {
            key: last[key]
            for key in ("reports", "state_reports", "withheld", "secondary", "first_year")
        },
    }


async def measure(stack: Stack, load: StatewideLoad, *, seed: int) -> dict[str, Any]:
    """Project the statewide load, then time releases and the state table's reads."""
    counties = statewide_counties()
    app, pool = await _reporting(stack, counties)
    try:
        histories = Histories(
            seed=seed,
            first_entry=load.first_entry,
            span_days=load.span_days,
            municipalities=[m for k in counties.keys for m in counties.municipalities(k)],
            providers={k: [p.id for p in counties.by_key[k].providers] for k in counties.keys},
        )
        events, seconds = await _project(Projector(app.state.runtime), histories, load.people)
        last = load.first_entry + timedelta(days=load.span_days)
        year = last.year - 1 if last.month < 4 else last.year  # a quarter with people in it
        timed = await _timed(stack, app, load, year)
        async with pool.acquire() as connection:
            size = await connection.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await pool.close()
    return {
        "counties": len(counties.keys),
        "municipalities": sum(len(counties.municipalities(k)) for k in counties.keys),
        "providers": len(counties.provider_ids()),
        "people": load.people,
        "events": events,
        "projected_events_per_s": round(events / seconds, 1) if seconds else None,
        "year": year,
        "database_bytes": int(size),
        **timed,
    }
