"""Reports served from the newest release: periods and scopes checked, formats kept.

No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at
registration, and the dependencies they name are local to the registering function.
"""

import asyncio
from datetime import UTC, date, datetime
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, HTTPException, Request, Response

from durchstarten.auth import Principal, PrincipalDependency, Role
from durchstarten.service import ServiceRuntime
from reporting.audit_model import source_of
from reporting.builder import BuildOrder, ReleaseBuilder
from reporting.exports import as_format
from reporting.patterns import PatternStore
from reporting.protection import ProtectionFailed
from reporting.release import DataState, Release, ReleaseKeeper, current_state
from reporting.report_routes import Period, ReportRoute, county_of
from reporting.settings import ReportingSettings
from reporting.statewide import StateRelease, compute_statewide, state_source, zero_state_table
from reporting.versions import reading

log = structlog.get_logger()


class ReportResponses:
    """Reports in their formats, from the newest statewide release (`reporting.statewide`)."""

    def __init__(self, runtime: ServiceRuntime, settings: ReportingSettings) -> None:
        """Bind to the runtime's pool; releases kept as long as the settings say."""
        self._runtime = runtime
        self.counties = settings.counties()
        self._rule = settings.protection_rule()
        self._pattern_wait_s = settings.report_pattern_wait_s
        self._database_url = settings.database_url
        self._builder = (
            ReleaseBuilder(
                service=runtime.service,
                log_level=settings.log_level,
                log_format=settings.log_format,
            )
            if settings.report_build_process
            else None
        )
        if self._builder is not None:
            builder = self._builder

            async def stop_builder() -> None:
                await asyncio.to_thread(builder.close)

            runtime.on_stop(stop_builder)
        self._keeper: ReleaseKeeper[StateRelease] = ReleaseKeeper(
            self._compute,
            self._state,
            ttl_s=settings.report_cache_s,
            max_stale_s=settings.report_max_stale_s,
            refresh_share=settings.report_refresh_share,
        )

    async def _compute(self) -> StateRelease:
        return await self._computed(afresh=False)

    async def _afresh(self) -> StateRelease:
        return await self._computed(afresh=True)

    async def _computed(self, *, afresh: bool) -> StateRelease:
        try:
            if self._builder is not None:
                release = await self._builder.build(
                    BuildOrder(
                        database_url=self._database_url.get_secret_value(),
                        counties=self.counties,
                        rule=self._rule,
                        today=_today(),
                        pattern_wait_s=self._pattern_wait_s,
                        afresh=afresh,
                    )
                )
            else:
                pool = self._runtime.pool
                release = await compute_statewide(
                    pool,
                    counties=self.counties,
                    rule=self._rule,
                    today=_today(),
                    patterns=PatternStore(pool, wait_s=self._pattern_wait_s)
                    if self._pattern_wait_s > 0
                    else None,
                    afresh=afresh,
                )
        except Exception:
            # Also a computation no request waits for: the previous release stays served.
            log.exception("release-failed")
            raise
        log.info(
            "release-computed",
            seconds=round(release.seconds, 3),
            counties=len(release.counties),
            reports=sum(len(r.reports) for r in release.counties.values()),
            state_reports=len(release.state_reports),
            withheld=len(release.protection.hidden),
            secondary=len(release.protection.secondary),
            exposed=len(release.protection.exposed),
            pattern_shared=release.shared,
        )
        return release

    async def _state(self) -> DataState:
        return await current_state(self._runtime.pool, today=_today())

    async def release(self, request: Request | None = None, *, fresh: bool = False) -> StateRelease:
        """The release to answer from; `Cache-Control: no-cache` asks for the newest.

        503 while no release can be computed (the pattern failed: nothing is served).
        """
        if request is not None:
            fresh = fresh or "no-cache" in request.headers.get("cache-control", "").lower()
        try:
            return await self._keeper.get(fresh=fresh)
        except ProtectionFailed as failure:
            raise HTTPException(503, {"reason": "protection-failed"}) from failure

    async def recompute(self) -> StateRelease:
        """A release computed now, its pattern chosen here (never read from the store).

        An operator's or the benchmark's request: the whole cost, as on new data. The
        pattern is stored for the other instances, as any other.
        """
        try:
            return await self._keeper.recompute(self._afresh)
        except ProtectionFailed as failure:
            raise HTTPException(503, {"reason": "protection-failed"}) from failure

    async def respond(
        self,
        request: Request,
        report: ReportRoute,
        period: Period,
        *,
        county: str,
        scope: str | None,
        format_: str,
    ) -> Response:
        """The report in its format, from the release (see `reporting.release`)."""
        release, source = await self.holding(report, period, county, scope, request=request)
        response = release.response(source, format_, report.download_name(period, scope))
        if response is None:  # `holding` found it
            raise HTTPException(503, {"reason": "release-incomplete"})
        return response

    async def holding(
        self,
        report: ReportRoute,
        period: Period,
        county: str,
        scope: str | None,
        *,
        request: Request | None = None,
        fresh: bool = False,
    ) -> tuple[Release, str]:
        """The county's release holding the report, and the report's source in it.

        A period after this year, or a provider neither configured nor named by the data,
        is refused (422): its tables are outside the pattern. A period before the family
        is computed now and served only if it is empty (`reporting.release`).
        """
        if period.year > _today().year:
            raise HTTPException(422, {"reason": "period-not-published", "field": "year"})
        release = (await self.release(request, fresh=fresh)).county(county)
        if scope is not None and scope not in release.providers:
            raise HTTPException(422, {"reason": "unknown-provider", "field": "provider"})
        source = source_of(report.name, period.year, period.quarter, scope)
        for _ in range(EMPTY_TRIES):
            if release.body(source) is not None:
                return release, source
            if period.year >= release.first_year:  # the family holds every later period
                raise HTTPException(422, {"reason": "period-not-published", "field": "year"})
            async with reading(self._runtime.pool, county=county) as connection:
                body = await report.compute(
                    connection, **period.arguments(), min_cell_count=1, provider=scope
                )
            if release.keep_empty(source, body, threshold=self._rule.threshold):
                return release, source
            # Something is dated in it now: the data changed since this release.
            log.info("release-period-no-longer-empty", source=source)
            release = (await self.release(fresh=True)).county(county)
        log.error("release-period-not-empty", source=source)
        raise HTTPException(503, {"reason": "release-incomplete"})

    async def state_response(self, request: Request, period: Period, format_: str) -> Response:
        """The state table of a quarter in its format (`reporting.statewide`)."""
        if period.year > _today().year or period.quarter is None:
            raise HTTPException(422, {"reason": "period-not-published", "field": "year"})
        release = await self.release(request)
        source = state_source(period.year, period.quarter)
        body = release.state_reports.get(source)
        if body is None:
            if period.year >= release.first_year:  # the family holds every later quarter
                raise HTTPException(503, {"reason": "release-incomplete"})
            body = zero_state_table(
                release.names, period.year, period.quarter, threshold=self._rule.threshold
            )
        return as_format(body, format_, f"state-monitoring-{period.label()}")


EMPTY_TRIES = 3
"""Releases tried for a period before the family before a request gives up (503)."""


def _today() -> date:
    return datetime.now(UTC).date()


def add_release_endpoints(
    app: FastAPI, responses: ReportResponses, principal: PrincipalDependency
) -> None:
    """`GET /v1/releases/current` and `POST /v1/releases`: which release is served."""

    @app.get("/v1/releases/current", tags=["releases"])
    async def current_release(
        caller: Annotated[Principal, Depends(principal)], request: Request
    ) -> dict[str, Any]:
        """The release reports are served from: its data state, cost and pattern sizes.

        A coordinator sees its county's; an admin the statewide release, every county's
        summary in it. `exposed` names small counts that snapshots frozen by an older
        method give away (nothing live can protect them); it is empty for a system that
        always froze under linked-table protection.
        """
        caller.require(Role.COORDINATOR, Role.ADMIN)
        release = await responses.release(request)
        if Role.ADMIN in caller.roles:
            return release.summary()
        return release.county(county_of(caller, None, responses.counties)).summary()

    @app.post("/v1/releases", tags=["releases"], status_code=201)
    async def new_release(caller: Annotated[Principal, Depends(principal)]) -> dict[str, Any]:
        """Compute a release now, whether or not the data has changed (admin).

        Its pattern is chosen afresh, not taken from another instance's choice.
        """
        caller.require(Role.ADMIN)
        return (await responses.recompute()).summary()
