"""Small measuring tools: percentiles, rates, and the CPU time a set of processes used."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psutil


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (`fraction` 0.5 is the median, 0.99 the p99).

    Nearest rank, not interpolation: the figure is a value that was really observed.
    """
    if not values:
        msg = "no values to take a percentile of"
        raise ValueError(msg)
    if not 0 < fraction <= 1:
        msg = f"fraction must be in (0, 1], not {fraction}"
        raise ValueError(msg)
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def rate(count: int, seconds: float) -> float:
    """Count per second, rounded to one decimal (0 for an empty interval)."""
    return round(count / seconds, 1) if seconds > 0 else 0.0


def ratio(value: float, limit: float) -> float | None:
    """`value` as a fraction of `limit`, to three places; None without a limit."""
    return round(value / limit, 3) if limit > 0 else None


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


@dataclass
class CpuMeter:
    """CPU seconds (user + system) used by processes and their children between two reads.

    The children of the names in `with_children` count too, because PostgreSQL serves each
    connection in a process of its own; other processes (the benchmark itself, which
    started the services) count alone. Processes that end in between are not counted.
    """

    pids: dict[str, int]
    with_children: frozenset[str] = frozenset()
    _start: dict[str, dict[int, float]] | None = None
    _wall: float = 0.0

    def _read(self) -> dict[str, dict[int, float]]:
        reading: dict[str, dict[int, float]] = {}
        for name, pid in self.pids.items():
            seen: dict[int, float] = {}
            try:
                root = psutil.Process(pid)
                family = [root]
                if name in self.with_children:
                    family += root.children(recursive=True)
                for process in family:
                    try:
                        seen[process.pid] = _cpu_seconds(process)
                    except psutil.NoSuchProcess:
                        continue
            except psutil.NoSuchProcess:
                pass
            reading[name] = seen
        return reading

    def start(self) -> None:
        """Take the first reading."""
        self._start = self._read()
        self._wall = time.monotonic()

    def stop(self) -> tuple[dict[str, float], float]:
        """CPU seconds per name since `start`, and the wall-clock seconds in between."""
        if self._start is None:
            msg = "CpuMeter.stop before start"
            raise RuntimeError(msg)
        end = self._read()
        used: dict[str, float] = {}
        for name, processes in end.items():
            before = self._start.get(name, {})
            used[name] = sum(cpu - before.get(pid, 0.0) for pid, cpu in processes.items())
        return used, time.monotonic() - self._wall


def summary_ms(latencies_s: Iterable[float]) -> dict[str, float | int]:
    """p50, p99 and max of latencies given in seconds, in milliseconds, with their count."""
    values = list(latencies_s)
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 0.50) * 1000, 2),
        "p99_ms": round(percentile(values, 0.99) * 1000, 2),
        "max_ms": round(max(values) * 1000, 2),
    }
