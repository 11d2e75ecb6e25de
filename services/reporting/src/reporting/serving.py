"""Reports served from the newest release: periods and scopes checked, formats kept."""

from __future__ import annotations

from datetime import UTC, date, datetime

import structlog
from fastapi import HTTPException, Request, Response

from durchstarten.service import ServiceRuntime
from reporting.audit_model import source_of
from reporting.protection import ProtectionFailed
from reporting.release import DataState, Release, ReleaseKeeper, compute_release, current_state
from reporting.report_routes import Period, ReportRoute
from reporting.settings import ReportingSettings

log = structlog.get_logger()


class ReportResponses:
    """Reports in their formats, from the newest release (`reporting.release`)."""

    def __init__(self, runtime: ServiceRuntime, settings: ReportingSettings) -> None:
        """Bind to the runtime's pool; releases kept as long as the settings say."""
        self._runtime = runtime
        self._providers = tuple(settings.providers)
        self._rule = settings.protection_rule()
        self._keeper = ReleaseKeeper(
            self._compute,
            self._state,
            ttl_s=settings.report_cache_s,
            max_stale_s=settings.report_max_stale_s,
        )

    async def _compute(self) -> Release:
        release = await compute_release(
            self._runtime.pool, providers=self._providers, rule=self._rule, today=_today()
        )
        log.info(
            "release-computed",
            seconds=round(release.seconds, 3),
            reports=len(release.reports),
            withheld=len(release.protection.hidden),
            secondary=len(release.protection.secondary),
            exposed=len(release.protection.exposed),
        )
        return release

    async def _state(self) -> DataState:
        return await current_state(self._runtime.pool, today=_today())

    async def release(self, request: Request | None = None, *, fresh: bool = False) -> Release:
        """The release to answer from; `Cache-Control: no-cache` asks for the newest.

        503 while no release can be computed (the pattern failed: nothing is served).
        """
        if request is not None:
            fresh = fresh or "no-cache" in request.headers.get("cache-control", "").lower()
        try:
            return await self._keeper.get(fresh=fresh)
        except ProtectionFailed as failure:
            log.error("release-failed", error=str(failure))
            raise HTTPException(503, {"reason": "protection-failed"}) from failure

    async def respond(
        self,
        request: Request,
        report: ReportRoute,
        period: Period,
        scope: str | None,
        format_: str,
    ) -> Response:
        """The report in its format, from the release (see `reporting.release`).

        A period after this year, or a provider neither configured nor named by the data,
        is refused (422): its tables are outside the pattern.
        """
        if period.year > _today().year:
            raise HTTPException(422, {"reason": "period-not-published", "field": "year"})
        release = await self.release(request)
        if scope is not None and scope not in release.providers:
            raise HTTPException(422, {"reason": "unknown-provider", "field": "provider"})
        source = source_of(report.name, period.year, period.quarter, scope)
        response = release.response(source, format_, report.download_name(period, scope))
        if response is None:  # the family holds every period up to this year
            raise HTTPException(422, {"reason": "period-not-published", "field": "year"})
        return response


def _today() -> date:
    return datetime.now(UTC).date()
