"""The report endpoints, registered from one table: name, period, computation, description.

No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at
registration, and the dependencies they name are local to the registering function.
"""

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response

from durchstarten.auth import Principal, PrincipalDependency, Role
from durchstarten.counties import Counties
from durchstarten.events.reasons import ReasonCode
from reporting.reports import courses_and_funds, esf_indicators, outcomes, quarterly_monitoring

if TYPE_CHECKING:
    from reporting.serving import ReportResponses

PROVIDER_ID = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"

Year = Annotated[int, Query(ge=2019, le=2100, description="Calendar year.")]
Quarter = Annotated[int, Query(ge=1, le=4, description="Calendar quarter.")]
Format = Annotated[
    Literal["json", "csv", "xlsx"],
    Query(description="json, or csv / xlsx for a file with the same protected numbers."),
]
ProviderScope = Annotated[
    str | None,
    Query(
        pattern=PROVIDER_ID,
        description="Only this provider's participants (coordinator, admin; a provider "
        "always gets its own scope).",
    ),
]


class Period(NamedTuple):
    """The fixed period a report covers: a calendar quarter, or a calendar year."""

    year: int
    quarter: int | None = None

    def arguments(self) -> dict[str, int]:
        """The period as the report functions take it (`year`, and `quarter` if any)."""
        if self.quarter is None:
            return {"year": self.year}
        return {"year": self.year, "quarter": self.quarter}

    def label(self) -> str:
        """The period in a file name: `2024-q2`, or `2024`."""
        return str(self.year) if self.quarter is None else f"{self.year}-q{self.quarter}"


async def calendar_quarter(year: Year, quarter: Quarter) -> Period:
    """FastAPI dependency: the quarter named by the query parameters `year` and `quarter`."""
    return Period(year, quarter)


async def calendar_year(year: Year) -> Period:
    """FastAPI dependency: the year named by the query parameter `year`."""
    return Period(year)


CountyKey = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9]{5}$",
        description="The county (its 5-digit key, e.g. 05758): a coordinator's own by "
        "default; the ministry and admins name one; a provider its own scope in one (by "
        "default the one it works in).",
    ),
]


class Delivery(NamedTuple):
    """Whose participants a report counts, and the format it is delivered in."""

    provider: str | None
    format: str
    county: str | None = None


async def delivery(
    provider: ProviderScope = None,
    format: Format = "json",  # the public parameter name
    county: CountyKey = None,
) -> Delivery:
    """FastAPI dependency: the query parameters `provider`, `format` and `county`.

    A dependency rather than parameters of the endpoint: FastAPI documents an endpoint's own
    parameters before its dependencies', and the period's come first.
    """
    return Delivery(provider, format, county)


def county_of(principal: Principal, asked: str | None, counties: Counties) -> str:
    """The county whose tables a caller gets: 403 outside its county, 422 if unknown.

    A coordinator works for one county (its token's); the ministry and admins see every
    county's and name the one they want (not needed where there is only one); a provider
    gets its own scope (`scope_of`) in the county it names, by default the one it works in.
    """
    if asked is not None and asked not in counties.by_key:
        raise HTTPException(422, {"reason": "unknown-county", "field": "county"})
    roles = principal.roles
    if roles & {Role.ADMIN, Role.MINISTRY}:
        if asked is not None:
            return asked
        if len(counties.keys) == 1:
            return counties.keys[0]
        raise HTTPException(422, {"reason": "county-required", "field": "county"})
    if Role.COORDINATOR in roles:
        own = principal.county
        if own is None or own not in counties.by_key or asked not in (None, own):
            raise HTTPException(403, {"reason": ReasonCode.OUTSIDE_COUNTY, "field": "county"})
        return own
    if Role.PROVIDER in roles and principal.provider is not None:
        works = counties.counties_of(principal.provider)
        if asked is not None:
            # Its own scope in any county: a county where no data names it has no such
            # scope in the release, and is refused there (422), never answered.
            return asked
        if len(works) == 1:
            return works[0]
        raise HTTPException(422, {"reason": "county-required", "field": "county"})
    raise HTTPException(403, {"reason": ReasonCode.FORBIDDEN_ROLE})


@dataclass(frozen=True)
class ReportRoute:
    """One report endpoint, `GET /v1/reports/<name>`."""

    name: str
    """Its path segment, its cache key and the start of its downloads' file names."""
    compute: Callable[..., Awaitable[dict[str, Any]]]
    """The report function: (connection or `reporting.facts.Facts`, *, period, min_cell_count,
    provider) -> report."""
    period: Callable[..., Awaitable[Period]]
    """The FastAPI dependency reading its period: `calendar_quarter` or `calendar_year`."""
    description: str
    """Its documentation (a docstring's text, indented as in a docstring)."""
    operation: str
    """The route's name: its OpenAPI operation id and summary, as first published."""

    def download_name(self, period: Period, scope: str | None) -> str:
        """The file name, without extension, of the report as a CSV or XLSX download."""
        return "-".join([self.name, period.label(), *([scope] if scope else [])])


REPORTS: tuple[ReportRoute, ...] = (
    ReportRoute(
        name="quarterly-monitoring",
        compute=quarterly_monitoring,
        period=calendar_quarter,
        operation="quarterly",
        description="""
            Entries, exits and caseload per municipality and module for a calendar quarter.

            Fixed periods only (no free date ranges): overlapping queries cannot be differenced
            to single out a person. `format=csv` or `format=xlsx` gives the same tables as files.
        """,
    ),
    ReportRoute(
        name="outcomes",
        compute=outcomes,
        period=calendar_quarter,
        operation="outcomes_report",
        description="""
            Placements of a calendar quarter, placement rates and time to placement.

            The rates carry their definitions; the median is over people first placed then.
        """,
    ),
    ReportRoute(
        name="courses",
        compute=courses_and_funds,
        period=calendar_year,
        operation="courses_report",
        description="""
            Enrolments, completions, drop-outs, exam results, pass rate and funds of a year.
        """,
    ),
    ReportRoute(
        name="esf-indicators",
        compute=esf_indicators,
        period=calendar_year,
        operation="esf_report",
        description="""
            ESF+ style indicators: people at entry by the common categories; results after exit.

            Results count the last follow-up within 4 weeks and within 6 months after exit of
            the people who exited in the year.
        """,
    ),
)


def report_named(name: str) -> ReportRoute:
    """The report route of this name (`quarterly-monitoring`, `outcomes`, ...)."""
    return next(r for r in REPORTS if r.name == name)


def add_report_endpoints(
    app: FastAPI, responses: "ReportResponses", principal: PrincipalDependency
) -> None:
    """Register `GET /v1/reports/<name>` for every report of REPORTS.

    `principal` is the FastAPI dependency that authenticates the caller.
    """
    for report in REPORTS:
        _add_report_endpoint(app, report, responses, principal)


def _add_report_endpoint(
    app: FastAPI,
    report: ReportRoute,
    responses: "ReportResponses",
    principal: PrincipalDependency,
) -> None:
    async def endpoint(
        request: Request,
        caller: Annotated[Principal, Depends(principal)],
        period: Annotated[Period, Depends(report.period)],
        how: Annotated[Delivery, Depends(delivery)],
    ) -> Response:
        scope = scope_of(caller, how.provider)
        county = county_of(caller, how.county, responses.counties)
        return await responses.respond(
            request, report, period, county=county, scope=scope, format_=how.format
        )

    app.add_api_route(
        f"/v1/reports/{report.name}",
        endpoint,
        methods=["GET"],
        name=report.operation,
        description=inspect.cleandoc(report.description),
        tags=["reports"],
        # Documented as any JSON, as first published: the report's shape is described in
        # the text and its definitions; a file download when `format` asks for one.
        response_model=Any,
    )


def scope_of(principal: Principal, provider: str | None) -> str | None:
    """The provider a report is limited to, or None for the whole county; 403 if not allowed.

    A provider sees its own aggregates only. The coordinator and admins may narrow a report
    to one provider. The ministry, an external reader, gets county-wide tables only: tables
    narrowed to overlapping groups could be differenced against the county's to single out
    a person.
    """
    if Role.PROVIDER in principal.roles and not principal.roles & {Role.COORDINATOR, Role.ADMIN}:
        own = principal.provider
        if own is None or (provider is not None and provider != own):
            raise HTTPException(403, {"reason": "provider-scope", "field": "provider"})
        return own
    principal.require(Role.COORDINATOR, Role.MINISTRY, Role.ADMIN)
    if provider is not None and not principal.roles & {Role.COORDINATOR, Role.ADMIN}:
        raise HTTPException(403, {"reason": "county-wide-only", "field": "provider"})
    return provider
