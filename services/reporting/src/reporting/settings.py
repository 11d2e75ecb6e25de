"""Settings of the reporting service."""

from __future__ import annotations

from pydantic import Field

from durchstarten.settings import ServiceSettings


class ReportingSettings(ServiceSettings):
    """Reporting's configuration (`DURCHSTARTEN_*` environment variables)."""

    http_port: int = Field(default=8004, ge=0, le=65535, description="Port of the HTTP API.")
    min_cell_count: int = Field(
        default=3,
        ge=1,
        description="Smallest count published; smaller non-zero counts are suppressed.",
    )
    projection_batch_size: int = Field(
        default=500, ge=1, description="Events applied per database transaction."
    )
    report_cache_s: float = Field(
        default=1.0,
        ge=0,
        description="Seconds a computed report is served to every request for it (0: off).",
    )
    rebuild_batch_size: int = Field(
        default=2000, ge=1, description="Events a rebuild applies per database transaction."
    )
