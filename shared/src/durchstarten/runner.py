"""Process entry point shared by the services: uvicorn with uvloop, settings from the env."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from durchstarten.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def run_service(create_app: Callable[[S], FastAPI], settings: S) -> None:
    """Serve `create_app(settings)` until SIGINT/SIGTERM, then shut down gracefully."""
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop",
        log_config=None,  # keep our structlog configuration
        access_log=False,  # request lines would need scrubbing; metrics count requests
        timeout_graceful_shutdown=20,
    )
