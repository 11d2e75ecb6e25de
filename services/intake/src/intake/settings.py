"""Settings of the intake service."""

from __future__ import annotations

from pydantic import Field

from durchstarten.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Intake's configuration (`DURCHSTARTEN_*` environment variables)."""

    http_port: int = Field(default=8001, ge=0, le=65535, description="Port of the HTTP API.")
