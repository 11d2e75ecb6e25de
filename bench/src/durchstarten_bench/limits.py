"""The machine's own limits, measured in the same run: raw Kafka and raw PostgreSQL.

Nothing here processes a message: these are the ceilings our figures are compared with.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer

from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.messaging.access import KafkaAccess
from durchstarten.messaging.admin import ensure_topics
from durchstarten_bench.measure import rate
from durchstarten_simulator.wire import Record, partitions_of, producer, send_all

SQL = SqlFiles(Path(__file__).parent / "sql")


async def raw_produce(
    kafka_access: KafkaAccess, topic: str, *, count: int, payload: bytes, partitions: int
) -> dict[str, Any]:
    """Produce `count` copies of `payload`, keyed at random, as fast as aiokafka goes.

    With the project's producer settings and send loop (acknowledgements awaited per batch),
    so the ceiling is measured the way our load generator and relay send.
    """
    await ensure_topics(
        kafka_access.bootstrap,
        [topic],
        partitions=partitions,
        replication_factor=1,
        plan=None,  # a benchmark's topic, not one of the project's
        client_options=kafka_access.admin_options(),
    )
    kafka = producer(kafka_access.options())
    await kafka.start()
    keys = [uuid.uuid4().bytes for _ in range(1024)]
    try:
        started = time.perf_counter()
        await send_all(kafka, (Record(topic, payload, keys[n % len(keys)]) for n in range(count)))
        seconds = time.perf_counter() - started
    finally:
        await kafka.stop()
    return {
        "messages": count,
        "message_bytes": len(payload),
        "seconds": round(seconds, 3),
        "messages_per_s": rate(count, seconds),
        "mb_per_s": round(count * len(payload) / seconds / 1e6, 2),
    }


async def raw_consume(kafka_access: KafkaAccess, topic: str, *, count: int) -> dict[str, Any]:
    """Read `count` messages of `topic` from the beginning, touching nothing but the records."""
    kafka = AIOKafkaConsumer(
        **kafka_access.options(),
        group_id=None,
        enable_auto_commit=False,
        fetch_max_wait_ms=20,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await kafka.start()
    try:
        partitions = await partitions_of(kafka, topic)
        kafka.assign(partitions)
        await kafka.seek_to_beginning(*partitions)
        started = time.perf_counter()
        seen = 0
        size = 0
        while seen < count:
            batch = await kafka.getmany(timeout_ms=500, max_records=10_000)
            for records in batch.values():
                seen += len(records)
                size += sum(len(record.value or b"") for record in records)
        seconds = time.perf_counter() - started
    finally:
        await kafka.stop()
    return {
        "messages": seen,
        "seconds": round(seconds, 3),
        "messages_per_s": rate(seen, seconds),
        "mb_per_s": round(size / seconds / 1e6, 2),
    }


_PERF_LINE = re.compile(
    r"(?P<records>\d+) records sent, (?P<rate>[\d.]+) records/sec \((?P<mb>[\d.]+) MB/sec\), "
    r"(?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency"
    r"(?:, (?P<p50>\d+) ms 50th, (?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th)?"
)


def parse_producer_performance(output: str) -> dict[str, Any]:
    """The summary line of Kafka's ProducerPerformance tool as figures (its last such line)."""
    matches = list(_PERF_LINE.finditer(output))
    if not matches:
        msg = f"no summary line in ProducerPerformance's output:\n{output[-2000:]}"
        raise ValueError(msg)
    found = matches[-1]
    figures: dict[str, Any] = {
        "messages": int(found["records"]),
        "messages_per_s": float(found["rate"]),
        "mb_per_s": float(found["mb"]),
        "avg_latency_ms": float(found["avg"]),
        "max_latency_ms": float(found["max"]),
    }
    if found["p99"] is not None:
        figures["p50_latency_ms"] = int(found["p50"])
        figures["p99_latency_ms"] = int(found["p99"])
    return figures


def kafka_producer_tool(
    jars: Path, kafka_access: KafkaAccess, topic: str, *, count: int, size: int
) -> dict[str, Any]:
    """Apache Kafka's own producer performance tool (kafka-tools jar), with our settings."""
    options = kafka_access.options()
    command = [
        "java",
        "-Xmx512m",
        "-cp",
        f"{jars}/*",
        "org.apache.kafka.tools.ProducerPerformance",
        "--topic",
        topic,
        "--num-records",
        str(count),
        "--record-size",
        str(size),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={kafka_access.bootstrap}",
        "acks=all",
        "enable.idempotence=true",
        "linger.ms=5",
    ]
    security = _java_security(options)
    if security:
        # The login's value contains "=", which --producer-props cannot take: a config file
        # (owner-only, removed afterwards) carries it.
        config = Path(tempfile.mkstemp(prefix="producer-", suffix=".properties")[1])
        config.write_text("\n".join(security) + "\n")
        command += ["--producer.config", str(config)]
    try:
        result = subprocess.run(  # noqa: S603  # our own command line
            command, capture_output=True, text=True, check=False, timeout=600
        )
    finally:
        if security:
            config.unlink(missing_ok=True)
    if result.returncode != 0:
        msg = f"ProducerPerformance failed ({result.returncode}):\n{result.stderr[-2000:]}"
        raise RuntimeError(msg)
    return parse_producer_performance(result.stdout)


def _java_security(options: dict[str, Any]) -> list[str]:
    """The Java client's properties for the same SCRAM login as `options` (none: PLAINTEXT)."""
    if "sasl_plain_username" not in options:
        return []
    login = "org.apache.kafka.common.security.scram.ScramLoginModule"
    return [
        f"security.protocol={options['security_protocol']}",
        f"sasl.mechanism={options['sasl_mechanism']}",
        f'sasl.jaas.config={login} required username="{options["sasl_plain_username"]}"'
        f' password="{options["sasl_plain_password"]}";',
    ]


COPY_COLUMNS = (
    "participant_id",
    "provider",
    "entry_date",
    "age_at_entry",
    "sex",
    "country_of_origin",
    "residence_status",
    "municipality",
    "school_education",
    "german_level",
    "registered_event_id",
)


async def postgres_copy(database_url: str, *, rows: int) -> dict[str, Any]:
    """Asyncpg COPY of `rows` rows into a table shaped like reporting's participants."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(SQL["copy_table"])
        records = [
            (
                uuid.uuid4(),
                "diakonie-herford",
                date(2022, 1 + n % 12, 1 + n % 28),
                18 + n % 10,
                "female" if n % 3 else "male",
                "SYR",
                "duldung",
                "herford",
                "primary",
                "A2",
                str(uuid.uuid4()),
            )
            for n in range(rows)
        ]
        started = time.perf_counter()
        await connection.copy_records_to_table(
            "bench_copy", records=records, columns=list(COPY_COLUMNS)
        )
        seconds = time.perf_counter() - started
        await connection.execute(SQL["copy_table_drop"])
    finally:
        await connection.close()
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": rate(rows, seconds)}
