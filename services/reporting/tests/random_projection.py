"""A reporting projection of random facts, with the awkward cases on purpose.

An exit before the entry, people without a module, module participations and placements of
people not (or no longer) registered, facts without a provider, several module starts at
one provider, follow-ups on one day, dates before the first year and after this one. For
tests that compare two ways of reading or protecting the same facts.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from typing import Any

import asyncpg
from pydantic import SecretStr

from durchstarten.db.pool import create_pool
from durchstarten_deploy.postgres import create_databases, with_database
from durchstarten_deploy.stack import Stack
from reporting.app import create_app
from reporting.settings import ReportingSettings
from reporting.versions import live_schema

PROVIDERS = ["traeger-a", "traeger-b", "traeger-c"]
MUNICIPALITIES = ["05758004", "05758012", "05758016"]
CATEGORIES = [
    "ausbildung-company",
    "employment",
    "school",
    "regular-system",
    "moved-away",
    "unknown",
]


def _day(rng: random.Random, first: date) -> date:
    return first + timedelta(days=rng.randrange(0, (date(2027, 3, 1) - first).days))


def _municipality(rng: random.Random, county: str) -> str:
    return rng.choice(MUNICIPALITIES) if county == "05758" else "05754008"


def _provider(rng: random.Random, *, nullable: bool = False) -> str | None:
    if nullable and rng.random() < 0.15:
        return None
    return rng.choice(PROVIDERS)


def random_facts(
    seed: int, *, people: int = 420, first_day: date = date(2018, 6, 1), moves: bool = True
) -> dict[str, list[tuple[Any, ...]]]:
    """Random projection rows, awkward cases included (see the module's docstring).

    `moves`: with moves between counties. The statewide model refuses them together with
    the other inconsistencies of random facts (`InconsistentModel`: moves that differ
    between a quarter's entries and exits); a release of them needs `moves=False`.
    """
    rng = random.Random(seed)
    persons = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(people)]
    registered = persons[
        : people * 6 // 7
    ]  # the rest have facts but no (or no longer a) registration
    rows: dict[str, list[tuple[Any, ...]]] = {
        name: []
        for name in (
            "participants",
            "exits",
            "module_participations",
            "placements",
            "exam_results",
            "course_participations",
            "funding",
            "follow_ups",
            "moves",
        )
    }
    entries = {person: _day(rng, first_day) for person in persons}
    # most registered in Kreis Herford, some in Kreis Gütersloh (some of whom move in)
    homes = {person: "05754" if rng.random() < 0.2 else "05758" for person in persons}
    for person in registered:
        rows["participants"].append(
            (
                person,
                _provider(rng),
                entries[person],
                rng.randrange(15, 60),
                rng.choice(["female", "male", "diverse", "not-stated"]),
                rng.choice(["SYR", "AFG", "UKR", "POL"]),
                "recognised",
                _municipality(rng, homes[person]),
                homes[person],
                rng.choice(["none", "primary", "upper-secondary", "unknown"]),
                "A2",
                f"event-{person}",
            )
        )
    for person in persons:
        if rng.random() < 0.5:
            # mostly after the entry, sometimes before it (an inconsistent history)
            shift = rng.randrange(-60, 900)
            rows["exits"].append((person, entries[person] + timedelta(days=shift), "completed"))
        seen: set[tuple[str, date]] = set()
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            module = rng.choice(["F1", "F2", "F3", "F6"])
            started = entries[person] + timedelta(days=rng.randrange(-10, 500))
            if (module, started) not in seen:
                seen.add((module, started))
                rows["module_participations"].append((person, module, _provider(rng), started))
        for _ in range(rng.choice([0, 0, 1, 2])):
            rows["placements"].append(
                (
                    uuid.UUID(int=rng.getrandbits(128)),
                    person,
                    _provider(rng),
                    rng.choice(["site-1", "site-2"]),
                    rng.choice(CATEGORIES),
                    entries[person] + timedelta(days=rng.randrange(-20, 700)),
                    rng.choice([None, "marginal", "insured"]),
                )
            )
        course = uuid.UUID(int=rng.getrandbits(128))
        if rng.random() < 0.4:
            on = entries[person] + timedelta(days=rng.randrange(0, 400))
            for event in rng.sample(["enrolled", "completed", "dropped-out"], rng.randrange(1, 3)):
                rows["course_participations"].append(
                    (
                        course,
                        person,
                        rng.choice(["F2", "F3", "F4"]),
                        event,
                        on,
                        _provider(rng, nullable=True),
                    )
                )
            rows["exam_results"].append(
                (
                    course,
                    person,
                    on + timedelta(days=30),
                    rng.choice(["B1", "A2", "below-A2", "did-not-sit"]),
                    _provider(rng, nullable=True),
                )
            )
            rows["funding"].append(
                (
                    f"funding-{person}",
                    course,
                    rng.choice(["F2", "F3", "F4"]),
                    rng.choice(["ue-lump-sum", "exam-fee"]),
                    on,
                    rng.choice([None, 0, 40, 120]),
                    rng.randrange(0, 900_000),
                    _provider(rng, nullable=True),
                )
            )
        if rng.random() < 0.2 and moves:
            # moves between the two counties in turn, the first sometimes dated before the
            # entry (it counts from the entry) and some after the exit (they do not count)
            here, day = homes[person], entries[person] + timedelta(days=rng.randrange(-30, 400))
            for number in range(rng.choice([1, 1, 2])):
                there = "05754" if here == "05758" else "05758"
                rows["moves"].append(
                    (f"move-{person}-{number}", person, day, here, there, _municipality(rng, there))
                )
                here, day = there, day + timedelta(days=rng.randrange(1, 400))
        observed = entries[person] + timedelta(days=rng.randrange(30, 900))
        for window in rng.sample(["4-weeks", "6-months"], rng.randrange(0, 3)):
            for later in range(rng.choice([1, 2])):  # two observations: the later one counts
                rows["follow_ups"].append(
                    (
                        person,
                        window,
                        observed + timedelta(days=later),
                        _provider(rng),
                        rng.choice(CATEGORIES),
                        rng.choice([None, "marginal"]),
                    )
                )
    return rows


COLUMNS = {
    "participants": (
        "participant_id, provider, entry_date, age_at_entry, sex, country_of_origin, "
        "residence_status, municipality, county, school_education, german_level, "
        "registered_event_id"
    ),
    "exits": "participant_id, exit_date, reason",
    "module_participations": "participant_id, module, provider, started_on",
    "placements": (
        "placement_id, participant_id, provider, site, category, start_date, employment_kind"
    ),
    "exam_results": "course_id, participant_id, exam_date, overall, provider",
    "course_participations": "course_id, participant_id, module, event, on_date, provider",
    "funding": "event_id, course_id, module, kind, accrued_on, ue, amount_cents, provider",
    "follow_ups": (
        "participant_id, follow_up_window, observed_on, provider, category, employment_kind"
    ),
    "moves": "event_id, participant_id, moved_on, from_county, to_county, municipality",
}
"""The columns of each table's rows, in the order `random_facts` makes them."""


async def fill(connection: asyncpg.Connection, facts: dict[str, list[tuple[Any, ...]]]) -> None:
    """Insert `facts` (table -> rows in `COLUMNS` order) into the live projection version."""
    schema = await live_schema(connection)
    for table, values in facts.items():
        if not values:
            continue
        marks = ", ".join(f"${i}" for i in range(1, len(values[0]) + 1))
        # Names from this module and the catalogue, not from input.
        insert = f"INSERT INTO {schema}.{table} ({COLUMNS[table]}) VALUES ({marks})"  # noqa: S608
        await connection.executemany(insert, values)


@asynccontextmanager
async def random_projection(
    stack: Stack, name: str, facts: dict[str, list[tuple[Any, ...]]]
) -> AsyncIterator[tuple[asyncpg.Pool, ReportingSettings]]:
    """A reporting database of its own on the stack's server (`<prefix>_<name>`, migrated,
    with its first projection version), its live projection holding `facts`."""
    database = f"{stack.database_prefix}_{name}"
    await create_databases(stack.admin_url, [database], recreate=True)
    settings = ReportingSettings(
        database_url=SecretStr(with_database(stack.admin_url, database)),
        **stack.kafka_settings(),
        auth_jwks_path=stack.issuer.jwks_path if stack.issuer else None,
    )
    runtime = create_app(settings).state.runtime
    pool = await create_pool(settings.database_url.get_secret_value())
    try:
        await runtime.attach_database(pool)
        async with pool.acquire() as connection:
            await fill(connection, facts)
        yield pool, settings
    finally:
        await pool.close()
