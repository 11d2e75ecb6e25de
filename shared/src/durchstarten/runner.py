"""Process entry point shared by the services: uvicorn with uvloop, settings from the env.

Two servers in one event loop: the API on DURCHSTARTEN_HTTP_HOST/_PORT and Prometheus'
`/metrics` on DURCHSTARTEN_METRICS_HOST/_PORT (127.0.0.1 by default), so the metrics never
share a port with what providers and staff reach.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import TypeVar

import uvicorn
import uvloop
from fastapi import FastAPI

from durchstarten.service import ServiceRuntime
from durchstarten.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


class SideServer(uvicorn.Server):
    """A second uvicorn server in the process: it leaves the signals to the API's server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install no signal handlers; the API server's shutdown stops this one."""
        yield


def run_service(create_app: Callable[[S], FastAPI], settings: S) -> None:
    """Serve `create_app(settings)` until SIGINT/SIGTERM, then shut down gracefully."""
    app = create_app(settings)
    runtime: ServiceRuntime = app.state.runtime
    api = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,  # keep our structlog configuration
            access_log=False,  # request lines would need scrubbing; metrics count requests
            timeout_graceful_shutdown=20,
        )
    )
    metrics = SideServer(
        uvicorn.Config(
            runtime.metrics_app(),
            host=settings.metrics_host,
            port=settings.metrics_listen_port(),
            lifespan="off",
            log_config=None,
            access_log=False,
        )
    )
    uvloop.run(serve_both(api, metrics))


async def serve_both(api: uvicorn.Server, metrics: SideServer) -> None:
    """Run the metrics server beside the API server; stop it when the API server stops."""
    beside = asyncio.create_task(metrics.serve())
    try:
        await api.serve()
    finally:
        metrics.should_exit = True
        await beside
