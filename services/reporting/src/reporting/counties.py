"""The counties in reporting: their municipalities and sites, and the county lens.

The county files (`durchstarten.counties`) are copied into `public.municipalities` and
`public.sites` at every start, so the reports' SQL can name a county's rows and the courses'
counties.

A county's reports read through its *lens*: a schema of views with the projection's table
names (`lens_<version>`, first on the search path), showing the people of the county the
reading transaction names (`public.reporting_county()`) as the county saw them. A person's
time in the programme is cut into *stays*, one per county: from the entry (or the move
there) to the move away (or none). In a county, a stay is a participant entering at its
start and exiting at its end (`moved-away` when a move ended it); each person-level fact
belongs to the stay in whose time it falls, funding to the county of the course's site.
Statewide (no lens) every person is one person, a move neither an entry nor an exit. The
same report SQL serves both. The lens is laid on every live or building version at start
and on each new one (`reporting.versions.create_version`).

Known limit: a person who comes back to a county they left has two stays there; the lens
shows the first.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from durchstarten.counties import Counties
from durchstarten.db.sqlfiles import SqlFiles

SQL = SqlFiles(Path(__file__).parent / "db")


CONFIGURATION_LOCK = 7_180_018
"""Advisory lock: one instance at a time stores the configuration and lays the lens."""


async def configure(connection: asyncpg.Connection, counties: Counties) -> None:
    """Store the county files' municipalities and sites and lay the lens, in one transaction.

    Instances starting together take turns (an advisory lock): each would otherwise delete
    and insert the same rows, and replace the same views, at once.
    """
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", CONFIGURATION_LOCK)
        await store_configuration(connection, counties)
        await lay_lens(connection)


async def store_configuration(connection: asyncpg.Connection, counties: Counties) -> None:
    """Replace the stored municipalities and sites with those of `counties` (one transaction)."""
    municipalities = [
        (m.key, county.key, m.name) for county in counties.all() for m in county.municipalities
    ]
    sites = [
        (provider.id, site.id, county.key)
        for county in counties.all()
        for provider in county.providers
        for site in provider.sites
    ]
    async with connection.transaction():
        await connection.execute("DELETE FROM public.municipalities")
        await connection.executemany(SQL["municipality_insert"], municipalities)
        await connection.execute("DELETE FROM public.sites")
        await connection.executemany(SQL["site_insert"], sites)


def lens_of(schema: str) -> str:
    """The lens schema of a projection version's schema."""
    return f"lens_{schema}"


async def lay_lens(connection: asyncpg.Connection, schema: str | None = None) -> None:
    """Lay the county lens on `schema`, else on every live or building version (idempotent)."""
    schemas = (
        [schema]
        if schema is not None
        else [row["schema_name"] for row in await connection.fetch(SQL["versions_current"])]
    )
    async with connection.transaction():
        for name in schemas:
            await connection.execute(lens_sql(name))


_FACTS = {
    "module_participations": "started_on",
    "placements": "start_date",
    "exam_results": "exam_date",
    "course_participations": "on_date",
    "follow_ups": "observed_on",
}
"""Person-level fact tables and the date that places a fact in a stay."""


def lens_sql(schema: str) -> str:
    """The statements creating (or replacing) the lens views of projection `schema`."""
    if not schema.replace("_", "").isalnum():
        msg = f"not a schema name: {schema!r}"
        raise ValueError(msg)
    base, lens = schema, lens_of(schema)
    here = "public.reporting_county()"
    statements = [
        f"CREATE SCHEMA IF NOT EXISTS {lens}",
        # The moves that place a person in another county: none before the entry (a move
        # registered with an earlier date counts from the entry) and none on or after the
        # programme exit (the person had left). So every stay ends after it began, and a
        # county's caseload follows from its entries and exits, as the state's does.
        f"""CREATE OR REPLACE VIEW {lens}.effective_moves AS
        SELECT m.event_id, m.participant_id, m.to_county, m.municipality,
               greatest(m.moved_on, p.entry_date) AS moved_on
        FROM {base}.moves AS m
        JOIN {base}.participants AS p USING (participant_id)
        LEFT JOIN {base}.exits AS x USING (participant_id)
        WHERE x.exit_date IS NULL OR greatest(m.moved_on, p.entry_date) < x.exit_date""",
        # Every stay of every person: the registration's county until the first move, then
        # each move's county until the next. Joins and a window, not a subquery per row:
        # the lens is read for every report of every county (a release over 60,000 people
        # read exits through it in 60 ms instead of 640).
        f"""CREATE OR REPLACE VIEW {lens}.stays AS
        SELECT p.participant_id, p.county, p.municipality, p.entry_date AS entered_on,
               f.first_move AS left_on, false AS moved_in
        FROM {base}.participants AS p
        LEFT JOIN (SELECT participant_id, min(moved_on) AS first_move
                   FROM {lens}.effective_moves GROUP BY participant_id) AS f
          USING (participant_id)
        UNION ALL
        SELECT m.participant_id, m.to_county, m.municipality, m.moved_on,
               lead(m.moved_on) OVER (PARTITION BY m.participant_id
                                      ORDER BY m.moved_on, m.event_id),
               true
        FROM {lens}.effective_moves AS m""",
        f"""CREATE OR REPLACE VIEW {lens}.county_stays AS
        SELECT DISTINCT ON (participant_id) *
        FROM {lens}.stays WHERE county = {here}
        ORDER BY participant_id, entered_on""",
        f"""CREATE OR REPLACE VIEW {lens}.participants AS
        SELECT p.participant_id, p.provider, s.entered_on AS entry_date, p.age_at_entry,
               p.sex, p.country_of_origin, p.residence_status, s.municipality, s.county,
               p.school_education, p.german_level, p.registered_event_id, p.projected_at
        FROM {base}.participants AS p JOIN {lens}.county_stays AS s USING (participant_id)""",
        f"""CREATE OR REPLACE VIEW {lens}.exits AS
        SELECT s.participant_id,
               least(s.left_on, x.exit_date) AS exit_date,
               CASE WHEN x.exit_date IS NULL OR s.left_on < x.exit_date
                    THEN 'moved-away' ELSE x.reason END AS reason
        FROM {lens}.county_stays AS s LEFT JOIN {base}.exits AS x USING (participant_id)
        WHERE s.left_on IS NOT NULL OR x.participant_id IS NOT NULL""",
        f"""CREATE OR REPLACE VIEW {lens}.funding AS
        SELECT f.* FROM {base}.funding AS f
        WHERE EXISTS (
            SELECT 1 FROM {base}.courses AS c JOIN public.sites AS s USING (provider, site)
            WHERE c.course_id = f.course_id AND s.county = {here})""",
        f"""CREATE OR REPLACE VIEW {lens}.snapshots AS
        SELECT * FROM public.snapshots WHERE county = {here}""",
    ]
    # A fact belongs to the stay it is dated in; one dated before the first entry (a course
    # place requested before the registration's entry date) to the first stay, so every
    # fact of a person is some county's, as it is the state's.
    for table, day in _FACTS.items():
        statements.append(
            f"""CREATE OR REPLACE VIEW {lens}.{table} AS
            SELECT f.* FROM {base}.{table} AS f JOIN {lens}.county_stays AS s
              ON s.participant_id = f.participant_id
             AND (NOT s.moved_in OR f.{day} >= s.entered_on)
             AND (s.left_on IS NULL OR f.{day} < s.left_on)"""
        )
    return ";\n".join(statements)
