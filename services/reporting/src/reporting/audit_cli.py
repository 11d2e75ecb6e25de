"""`python -m reporting audit`: audit what reporting would publish now, role by role.

Computes the statewide release the service would serve now (`reporting.statewide`: every
county's reports and the state tables, read in one snapshot, protected by one pattern),
gathers everything the ministry, each county's coordinator and each provider can fetch of
a county, audits each, and audits the union of every county and the state tables (role
`state`, the ministry's widest view); prints each role's unsafe cells; exits 1 when any
cell is unsafe or a file or rate shows a hidden count. The release's period family starts
with its data (the years before are served as zeros, and its model knows them);
`--whole-family` audits its pattern over every period from the API's first year instead,
all read in the release's own snapshot.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime

from durchstarten.db.pool import create_pool
from reporting.audit import ProtectionRule
from reporting.audit_collect import (
    Collection,
    RoleAudit,
    audiences,
    audit_audience,
    collect,
    problems_of,
)
from reporting.settings import ReportingSettings
from reporting.statewide import audit_statewide, compute_statewide
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
        help="ministry, coordinator, a provider id, or state: every county and the state "
        "tables at once (repeatable; default: all)",
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
    """Compute the statewide release the service would serve now, then audit each role.

    Each county's roles (ministry, coordinator, providers) over that county's tables, and
    the union of everything statewide (every county and the state tables: the model the
    pattern was chosen over). The release is protected under the service's rule
    (`ReportingSettings.protection_rule`), whatever `rule` asks of the audit (a stricter
    rule audits the same tables). `whole_family`: audit the pattern over every period
    from FIRST_YEAR (see the module).
    """
    pool = await create_pool(settings.database_url.get_secret_value(), min_size=1, max_size=1)
    counties = settings.counties()
    try:
        release = await compute_statewide(
            pool, counties=counties, rule=settings.protection_rule(), today=today
        )
        wholes: dict[str, Collection] = {}
        if whole_family:
            for county in counties.keys:
                async with reading(pool, county=county) as connection:
                    wholes[county] = await collect(
                        connection,
                        providers=release.county(county).providers,
                        last_year=today.year,
                        min_cell_count=1,
                        check_files=False,
                    )
    finally:
        await pool.close()
    results = []
    for county, county_release in release.counties.items():
        collection = county_release.collection
        problems = problems_of(collection.reports, check_files=check_files)
        collection = replace(collection, problems=tuple(problems))
        providers = list(county_release.providers)
        chosen = [
            a
            for a in audiences(providers)
            if roles is None or a.name in roles or a.name.removeprefix("provider ") in roles
        ]
        whole = wholes.get(county)
        if whole is not None:
            # Its reports as the pattern publishes them: the truth with the pattern's cells out.
            collection = replace(whole, problems=collection.problems)
        results += [
            replace(
                audit_audience(
                    collection,
                    a,
                    providers=providers,
                    last_year=today.year,
                    rule=rule,
                    protection=None if whole is None else county_release.protection,
                ),
                audience=f"{county} {a.name}",
            )
            for a in chosen
        ]
    if roles is None or "state" in roles:
        results.append(audit_statewide(release, rule))
    return results


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
