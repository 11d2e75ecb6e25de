"""Open-loop HTTP load: GET one URL at a fixed arrival rate and time every answer.

Several URLs (the same path on several instances) spread the connections over them, as a
balancer in front of the instances would.

Runs as a process of its own (`python -m durchstarten_bench.httpload`), so the client's CPU
is not taken from the load generator in the benchmark's process. Each latency is measured
from the moment the request was due, not from when it was sent: a client that falls behind
does not hide the server's slowness (no coordinated omission).

The client is deliberately lean: a fixed set of keep-alive HTTP/1.1 connections, each a
plain asyncio stream taking the next due request from a queue. A general HTTP client costs
around a millisecond of CPU per request and its connection pool slows down as waiters pile
up, which on a two-core machine would measure the client rather than the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import uvloop

from durchstarten_bench.measure import percentile, rate

CONNECTIONS = 32


class _Connection:
    """One keep-alive connection that sends the same GET and reads each answer."""

    def __init__(self, host: str, port: int, request: bytes) -> None:
        self._host, self._port, self._request = host, port, request
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self) -> int:
        """Send the request; return the status code once the whole body is read."""
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        self._writer.write(self._request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        await self._reader.readexactly(length)
        return status

    def close(self) -> None:
        """Drop the connection (after an error, or at the end)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _target(url: str, token: str) -> tuple[str, int, bytes]:
    """Host, port and the bytes of the GET for `url`."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
    ).encode()
    return parts.hostname or "127.0.0.1", parts.port or 80, request


async def run(urls: list[str], *, token: str, per_second: float, seconds: float) -> dict[str, Any]:
    """Send `per_second * seconds` GETs at their due times; return the latency figures.

    The connections go to `urls` in turn; each request is taken by the next free one.
    """
    targets = [_target(url, token) for url in urls]
    total = int(per_second * seconds)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    due_times: asyncio.Queue[float | None] = asyncio.Queue()

    async def worker(target: tuple[str, int, bytes]) -> None:
        connection = _Connection(*target)
        try:
            await connection.get()  # a warm connection, outside the measurement
            while (due := await due_times.get()) is not None:
                try:
                    status = str(await connection.get())
                except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                    status = type(error).__name__
                    connection.close()
                latencies.append(time.perf_counter() - due)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            connection.close()

    workers = [asyncio.create_task(worker(targets[n % len(targets)])) for n in range(CONNECTIONS)]
    await asyncio.sleep(0.2)  # the workers connect
    started = time.perf_counter()
    for n in range(total):
        due = started + n / per_second
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        due_times.put_nowait(due)
    for _ in workers:
        due_times.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - started
    ok = statuses.get("200", 0)
    return {
        "target_per_s": per_second,
        "requests": total,
        "ok": ok,
        "statuses": statuses,
        "connections": CONNECTIONS,
        "instances": len(urls),
        "achieved_per_s": rate(ok, elapsed),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: the URLs, rate and duration; the bearer token from BENCH_TOKEN."""
    parser = argparse.ArgumentParser(prog="python -m durchstarten_bench.httpload")
    parser.add_argument("urls", nargs="+", metavar="url")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args(argv)
    token = os.environ.get("BENCH_TOKEN", "")
    figures = uvloop.run(run(args.urls, token=token, per_second=args.rate, seconds=args.seconds))
    json.dump(figures, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
