"""`python -m durchstarten_bench [--smoke]`: run the benchmark and write its two files.

Starts its own Kafka and PostgreSQL (or uses DATABASE_URL's server), then the four
services as `make run` does, but reporting in its production layout (a projector beside its
API instances); everything is stopped again by process id at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import importlib.metadata
import json
import os
import platform
import shutil
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import uvloop

from durchstarten.logging import configure_logging, get_logger
from durchstarten.settings import ServiceSettings
from durchstarten_bench.pipeline import Bench, BenchConfig, ratios
from durchstarten_bench.report import kept_analysis, render
from durchstarten_deploy.kafka import kafka_version
from durchstarten_deploy.stack import REPO, Stack, unique_prefix
from durchstarten_deploy.testing import drop_databases

log = get_logger(__name__)
PACKAGES = ("aiokafka", "faststream", "asyncpg", "pydantic", "fastapi", "uvicorn", "uvloop")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """Cores, memory, processor and kernel of this machine."""
    return {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
    }


async def _postgres_facts(url: str) -> dict[str, str]:
    connection = await asyncpg.connect(url)
    try:
        names = (
            "server_version",
            "synchronous_commit",
            "fsync",
            "full_page_writes",
            "shared_buffers",
            "track_commit_timestamp",
        )
        return {name: str(await connection.fetchval(f"SHOW {name}")) for name in names}
    finally:
        await connection.close()


def versions(postgres: dict[str, str]) -> dict[str, str]:
    """Versions of Python, Kafka, PostgreSQL and the libraries on the hot path."""
    found = {
        "Python": platform.python_version(),
        "Kafka": kafka_version(),
        "PostgreSQL": postgres["server_version"].split()[0],
    }
    for package in PACKAGES:
        found[package] = importlib.metadata.version(package)
    return found


def settings(stack: Stack, postgres: dict[str, str]) -> dict[str, Any]:
    """The settings the figures depend on."""
    fields = ServiceSettings.model_fields
    return {
        "topic_partitions": stack.partitions,
        "providers": list(stack.providers),
        "producer": {"acks": "all", "enable_idempotence": True, "linger_ms": 5},
        "consumer_fetch_max_wait_ms": fields["kafka_fetch_max_wait_ms"].default,
        "outbox_batch_size": fields["outbox_batch_size"].default,
        "postgres": {k: v for k, v in postgres.items() if k != "server_version"},
        "kafka_heap": stack.kafka.heap if stack.kafka is not None else "external broker",
    }


def _plain(value: Any) -> Any:
    """A configuration value as JSON holds it (dates as ISO text, workloads as objects)."""
    if isinstance(value, date):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; write the Markdown table and the JSON file."""
    parser = argparse.ArgumentParser(prog="python -m durchstarten_bench")
    parser.add_argument("--smoke", action="store_true", help="a few seconds of every stage")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "BENCHMARKS.md")
    parser.add_argument("--json", type=Path, default=REPO / "docs" / "benchmarks.json")
    parser.add_argument("--state-dir", type=Path, default=REPO / ".stack-bench")
    args = parser.parse_args(argv)
    args.state_dir = args.state_dir.resolve()  # the servers run in directories of their own
    configure_logging(service="bench", level="INFO", fmt="console")
    config = BenchConfig.smoke() if args.smoke else BenchConfig.full()

    external_db = os.environ.get("DATABASE_URL")
    shutil.rmtree(args.state_dir, ignore_errors=True)  # every run starts from nothing
    stack = Stack(
        state_dir=args.state_dir,
        database_url=external_db,
        database_prefix=unique_prefix() if external_db else "durchstarten",
    )
    bench = Bench(stack, config, artefacts=args.state_dir / "profiles")
    sizes = {k: _plain(v) for k, v in config.__dict__.items()}
    figures: dict[str, Any] = {"config": {"name": config.name, **sizes}}
    try:
        log.info("bench: starting Kafka and PostgreSQL")
        stack.start_infrastructure()
        log.info("bench: limits")
        figures["limits"] = uvloop.run(bench.limits())
        bench.start_services()
        try:
            uvloop.run(bench.run(figures))
        except BaseException:
            # What the stages measured before the failure is kept beside the JSON file.
            partial = args.json.with_suffix(".partial.json")
            partial.write_text(json.dumps(figures, indent=2, sort_keys=True, default=str) + "\n")
            log.exception("bench: failed; the figures so far", json=str(partial))
            raise
        postgres = asyncio.run(_postgres_facts(stack.service_database_url("reporting")))
    finally:
        stack.stop()
        if external_db:
            asyncio.run(drop_databases(external_db, stack.database_prefix))
        shutil.rmtree(args.state_dir / "kafka", ignore_errors=True)
        shutil.rmtree(args.state_dir / "postgres", ignore_errors=True)
    figures["ratios"] = ratios(figures)
    figures["machine"] = machine()
    figures["versions"] = versions(postgres)
    figures["settings"] = settings(stack, postgres)
    figures["sizes"] = bench.sizes
    figures["generated_at"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    figures["json_name"] = args.json.name
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    args.out.write_text(render(figures, analysis=kept_analysis(args.out)), encoding="utf-8")
    log.info("bench: written", markdown=str(args.out), json=str(args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
