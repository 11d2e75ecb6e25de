"""Reports served from the newest release: periods and scopes checked, formats kept.

No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at
registration, and the dependencies they name are local to the registering function.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, HTTPException, Request, Response

from durchstarten.auth import Principal, Role
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
        try:
            release = await compute_release(
                self._runtime.pool, providers=self._providers, rule=self._rule, today=_today()
            )
        except Exception:
            # Also a computation no request waits for: the previous release stays served.
            log.exception("release-failed")
            raise
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
            raise HTTPException(503, {"reason": "protection-failed"}) from failure

    async def recompute(self) -> Release:
        """A release computed now (an operator's or the benchmark's request)."""
        try:
            return await self._keeper.recompute()
        except ProtectionFailed as failure:
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


def add_release_endpoints(
    app: FastAPI, responses: ReportResponses, principal: Callable[..., Principal]
) -> None:
    """`GET /v1/releases/current` and `POST /v1/releases`: which release is served."""

    @app.get("/v1/releases/current", tags=["releases"])
    async def current_release(
        caller: Annotated[Principal, Depends(principal)], request: Request
    ) -> dict[str, Any]:
        """The release reports are served from: its data state, cost and pattern sizes.

        `exposed` names small counts that snapshots frozen by an older method give away
        (nothing live can protect them); it is empty for a system that always froze
        under linked-table protection.
        """
        caller.require(Role.COORDINATOR, Role.ADMIN)
        return (await responses.release(request)).summary()

    @app.post("/v1/releases", tags=["releases"], status_code=201)
    async def new_release(caller: Annotated[Principal, Depends(principal)]) -> dict[str, Any]:
        """Compute a release now, whether or not the data has changed (admin)."""
        caller.require(Role.ADMIN)
        return (await responses.recompute()).summary()
