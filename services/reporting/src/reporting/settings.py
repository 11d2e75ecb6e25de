"""Settings of the reporting service."""

from __future__ import annotations

from pydantic import Field

from durchstarten.settings import ServiceSettings
from reporting.audit import ProtectionRule


class ReportingSettings(ServiceSettings):
    """Reporting's configuration (`DURCHSTARTEN_*` environment variables)."""

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
    rebuild_batch_size: int = Field(
        default=2000, ge=1, description="Events a rebuild applies per database transaction."
    )

    def protection_rule(self) -> ProtectionRule:
        """The disclosure rule: counts below `min_cell_count` are protected.

        The pattern never withholds a zero, so every marker tells the attacker "at least 1".
        """
        return ProtectionRule(threshold=self.min_cell_count, hidden_minimum=1)
