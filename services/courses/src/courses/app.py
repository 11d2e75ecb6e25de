"""Wiring of the courses service.

Its domain arrives with its own issue; today it runs with its database (migrated), its
outbox relay, and the health, readiness and metrics endpoints.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from courses.settings import CoursesSettings
from durchstarten.service import ServiceRuntime

SERVICE = "courses"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: CoursesSettings | None = None) -> FastAPI:
    """Build the courses service."""
    settings = settings or CoursesSettings()
    runtime = ServiceRuntime(
        service=SERVICE, settings=settings, migrations=MIGRATIONS, with_outbox_relay=True
    )
    return runtime.http_app(title="Durchstarten courses", description=__doc__ or "")
