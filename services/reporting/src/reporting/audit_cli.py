"""`python -m reporting audit`: audit what reporting would publish now, role by role.

Computes the release the service would serve now (`reporting.release`: every report of the
live projection read in one snapshot, protected by one pattern), gathers everything the
ministry, the county coordinator and each configured provider can fetch from it, and
prints each role's unsafe cells; exits 1 when any cell is unsafe or a file or rate shows a
hidden count. The release's period family starts with its data (the years before are
served as zeros, and its model knows them); `--whole-family` audits its pattern over every
period from the API's first year instead, all read in the release's own snapshot.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

from durchstarten.db.pool import create_pool
from reporting.audit import ProtectionRule
from reporting.audit_collect import RoleAudit, audiences, audit_audience, collect, problems_of
from reporting.release import protect_release, read_release_input
from reporting.settings import ReportingSettings
from reporting.versions import reading


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    options = argparse.ArgumentParser(
        prog="python -m reporting audit",
        description="Audit every table reporting would publish now with linear programming.",
    )
    options.add_argument(
        "--threshold", type=int, default=None, help="default: DURCHSTARTEN_MIN_CELL_COUNT"
    )
    options.add_argument(
        "--reach", type=int, default=None, help="least upper end of a small cell's interval"
    )
    options.add_argument("--min-width", type=int, default=1, help="least width of an interval")
    options.add_argument(
        "--hidden-minimum",
        type=int,
        default=1,
        help="what a marker tells: the hidden count is at least this (default 1: the "
        "protection never withholds a zero; 0 audits as if it might)",
    )
    options.add_argument(
        "--integer", action="store_true", help="solve integer programmes (slower, exact)"
    )
    options.add_argument(
        "--role",
        action="append",
        default=None,
        help="ministry, coordinator or a provider id (repeatable; default: all)",
    )
    options.add_argument(
        "--skip-files", action="store_true", help="do not compare the CSV and XLSX files"
    )
    options.add_argument(
        "--whole-family",
        action="store_true",
        help="audit every period from the API's first year, the empty ones too (slower)",
    )
    return options


async def audit_now(
    settings: ReportingSettings,
    rule: ProtectionRule,
    *,
    today: date,
    roles: Sequence[str] | None = None,
    check_files: bool = True,
    whole_family: bool = False,
) -> list[RoleAudit]:
    """Compute the release the service would serve now, then audit each chosen role.

    The release is protected under the service's rule (`ReportingSettings.protection_rule`),
    whatever `rule` asks of the audit (a stricter rule audits the same tables).
    `whole_family`: audit the pattern over every period from FIRST_YEAR (see the module).
    """
    pool = await create_pool(settings.database_url.get_secret_value(), min_size=1, max_size=1)
    try:
        async with reading(pool) as connection:
            given = await read_release_input(connection, providers=settings.providers, today=today)
            whole = (
                await collect(
                    connection,
                    providers=given.providers,
                    last_year=today.year,
                    min_cell_count=1,
                    check_files=False,
                )
                if whole_family
                else None
            )
    finally:
        await pool.close()
    release = protect_release(given, rule=settings.protection_rule())
    collection = release.collection
    problems = problems_of(collection.reports, check_files=check_files)
    collection = replace(collection, problems=tuple(problems))
    providers = list(release.providers)
    chosen = [
        a
        for a in audiences(providers)
        if roles is None or a.name in roles or a.name.removeprefix("provider ") in roles
    ]
    if whole is not None:
        # Its reports as the pattern publishes them: the truth with the pattern's cells out.
        collection = replace(whole, problems=collection.problems)
    return [
        audit_audience(
            collection,
            a,
            providers=providers,
            last_year=today.year,
            rule=rule,
            protection=None if whole is None else release.protection,
        )
        for a in chosen
    ]


def run_audit(argv: Sequence[str], settings: ReportingSettings | None = None) -> int:
    """Run the command; 0 when every role's tables are safe, 1 otherwise."""
    args = parser().parse_args(list(argv))
    settings = settings or ReportingSettings()
    rule = ProtectionRule(
        threshold=args.threshold or settings.min_cell_count,
        reach=args.reach,
        min_width=args.min_width,
        hidden_minimum=args.hidden_minimum,
        integer=args.integer,
    )
    results = asyncio.run(
        audit_now(
            settings,
            rule,
            today=datetime.now(UTC).date(),
            roles=args.role,
            check_files=not args.skip_files,
            whole_family=args.whole_family,
        )
    )
    for result in results:
        print(result.summary())  # the command's output
    return 0 if all(r.ok for r in results) else 1
