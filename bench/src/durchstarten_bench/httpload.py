"""Open-loop HTTP load: GET one URL at a fixed arrival rate and time every answer.

Runs as a process of its own (`python -m durchstarten_bench.httpload`), so the client's CPU
is not taken from the load generator in the benchmark's process. Each latency is measured
from the moment the request was due, not from when it was sent: a client that falls behind
does not hide the server's slowness (no coordinated omission).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

import httpx
import uvloop

from durchstarten_bench.measure import percentile, rate


async def run(url: str, *, token: str, per_second: float, seconds: float) -> dict[str, Any]:
    """Send `per_second * seconds` GETs at their due times; return the latency figures."""
    total = int(per_second * seconds)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        limits=limits, timeout=30, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        await client.get(url)  # a warm connection, outside the measurement

        async def one(due: float) -> None:
            try:
                response = await client.get(url)
                status = str(response.status_code)
            except httpx.HTTPError as error:
                status = type(error).__name__
            latencies.append(time.perf_counter() - due)
            statuses[status] = statuses.get(status, 0) + 1

        started = time.perf_counter()
        tasks = []
        for n in range(total):
            due = started + n / per_second
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    ok = statuses.get("200", 0)
    return {
        "target_per_s": per_second,
        "requests": total,
        "ok": ok,
        "statuses": statuses,
        "achieved_per_s": rate(ok, elapsed),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: the URL, rate and duration; the bearer token from BENCH_TOKEN."""
    parser = argparse.ArgumentParser(prog="python -m durchstarten_bench.httpload")
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args(argv)
    token = os.environ.get("BENCH_TOKEN", "")
    figures = uvloop.run(run(args.url, token=token, per_second=args.rate, seconds=args.seconds))
    json.dump(figures, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
