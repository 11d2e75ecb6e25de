"""Wiring of the coaching service.

Its domain arrives with its own issue; today it runs with its database (migrated), its
outbox relay, and the health, readiness and metrics endpoints.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from coaching.settings import CoachingSettings
from durchstarten.service import ServiceRuntime

SERVICE = "coaching"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: CoachingSettings | None = None) -> FastAPI:
    """Build the coaching service."""
    settings = settings or CoachingSettings()
    runtime = ServiceRuntime(
        service=SERVICE, settings=settings, migrations=MIGRATIONS, with_outbox_relay=True
    )
    return runtime.http_app(title="Durchstarten coaching", description=__doc__ or "")
