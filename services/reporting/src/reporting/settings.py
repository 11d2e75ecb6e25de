"""Settings of the reporting service."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from durchstarten.settings import ServiceSettings
from reporting.audit import ProtectionRule


class ReportingRole(StrEnum):
    """What one reporting process does: everything, or one side of it."""

    ALL = "all"
    """Project the domain events and answer the report API (one process, the default)."""
    API = "api"
    """Answer the report API only: run as many as the requests need, behind one address."""
    PROJECTOR = "projector"
    """Project the domain events and run rebuilds; no report endpoints."""

    @property
    def projects(self) -> bool:
        """Whether the process consumes the domain topics (and hosts rebuilds)."""
        return self is not ReportingRole.API

    @property
    def serves_reports(self) -> bool:
        """Whether the process answers report, release, snapshot and dashboard requests."""
        return self is not ReportingRole.PROJECTOR


class ReportingSettings(ServiceSettings):
    """Reporting's configuration (`DURCHSTARTEN_*` environment variables)."""

    reporting_role: ReportingRole = Field(
        default=ReportingRole.ALL,
        description="`all` (default), `api` or `projector`: with the read API apart from "
        "the projector, a burst of report requests never slows the projection, and a "
        "catch-up never slows the answers. Every instance of either kind shares the one "
        "database; the API instances follow the projector's live version.",
    )

    http_port: int = Field(default=8004, ge=0, le=65535, description="Port of the HTTP API.")
    min_cell_count: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Smallest count published; smaller non-zero counts are withheld, and "
        "enough others that no attacker can narrow one below it (at most 10: a median is "
        "published over 10 people or more).",
    )
    projection_batch_size: int = Field(
        default=500, ge=1, description="Events applied per database transaction."
    )
    report_cache_s: float = Field(
        default=1.0,
        ge=0,
        description="Seconds a release is served without checking whether the data has "
        "changed (0: checked on every request).",
    )
    report_max_stale_s: float = Field(
        default=600.0,
        ge=0,
        description="Seconds a release of older data is still served while its successor "
        "is computed; after that requests wait for the new one.",
    )
    report_refresh_share: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="While the data keeps changing (an ingest), at most this share of the "
        "time goes to computing releases in the background: at 0.25 the next starts three "
        "times as long after the last as the last took. The cores it leaves go to the "
        "ingest and the answers; requests with `Cache-Control: no-cache` still wait for "
        "the newest.",
    )
    report_pattern_wait_s: float = Field(
        default=600.0,
        ge=0,
        description="Seconds an API instance waits for the protection pattern another "
        "instance is choosing for the same data (`reporting.patterns`) before it chooses "
        "one itself; 0: never wait, every instance chooses its own.",
    )
    report_build_process: bool = Field(
        default=True,
        description="Build releases in a child process of each API instance "
        "(`reporting.builder`): the answers never wait for the build's Python. False: "
        "in a worker thread of the serving process (one process fewer; while a release is "
        "built, every answer is slow).",
    )
    rebuild_batch_size: int = Field(
        default=2000, ge=1, description="Events a rebuild applies per database transaction."
    )

    def protection_rule(self) -> ProtectionRule:
        """The disclosure rule: counts below `min_cell_count` are protected.

        The pattern never withholds a zero, so every marker tells the attacker "at least 1".
        """
        return ProtectionRule(threshold=self.min_cell_count, hidden_minimum=1)
