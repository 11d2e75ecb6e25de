"""Helpers for cross-service tests: produce and read topics, query the report, wait."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from durchstarten.auth import Role
from durchstarten_deploy.stack import Stack

FRESH_REPORTS = {"DURCHSTARTEN_REPORT_CACHE_S": "0"}
"""The cross-service tests check figures the moment their events are projected: their
reporting runs without the report cache (it has tests of its own; the simulator's and the
benchmark's stacks keep it on)."""

IDENTIFIER_MARKERS = ("Testvorname", "Familientestname")
"""Every generated name contains one of these: tests scan logs and topics for them."""

_CONSONANTS = "bcdfgklmnprstvwz"


def unique_person() -> dict[str, str]:
    """A name and birth date no other test person shares (so duplicate detection keeps out).

    Random consonants give every name its own phonetic code; birth dates fall in the
    programme's age range for an entry on 2022-03-01.
    """
    rng = random.SystemRandom()
    suffix = "".join(rng.choice(_CONSONANTS) for _ in range(8))
    birth = date(1995, 3, 2) + timedelta(days=rng.randrange(3000))
    return {
        "given_name": f"{IDENTIFIER_MARKERS[0]}{suffix}",
        "family_name": f"{IDENTIFIER_MARKERS[1]}{suffix[::-1]}",
        "birth_date": birth.isoformat(),
    }


def registration(provider: str, **data_changes: Any) -> dict[str, Any]:
    """A valid `register-participant.v1` CloudEvent as a provider's system would write it."""
    data: dict[str, Any] = {
        "provider_reference": f"REF-{uuid.uuid4().hex[:8]}",
        **unique_person(),
        "sex": "female",
        "country_of_origin": "SYR",
        "residence_status": "duldung",
        "municipality": "herford",
        "school_education": "primary",
        "german_level": "A2",
        "entry_date": "2022-03-01",
    }
    data.update(data_changes)
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"/providers/{provider}",
        "type": "register-participant.v1",
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


async def produce(
    stack: Stack,
    topic: str,
    values: list[bytes],
    *,
    key: bytes | None = None,
    headers: list[tuple[str, bytes]] | None = None,
    by_subject: bool = False,
) -> list[tuple[int, int]]:
    """Publish raw values with a plain aiokafka producer (acks=all, idempotent).

    `by_subject` keys each CloudEvent by its subject, as the services do, so one person's
    events keep their order. Returns the (partition, offset) each value was written to.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        futures = [
            await producer.send(
                topic,
                value,
                key=json.loads(value)["subject"].encode() if by_subject else key,
                headers=headers,
            )
            for value in values
        ]
        return [((m := await f).partition, m.offset) for f in futures]
    finally:
        await producer.stop()


async def read_topic(
    stack: Stack,
    topic: str,
    *,
    until: Any,
    timeout_s: float = 30.0,
) -> list[Any]:
    """Read `topic` from the beginning until `until(records)` is true; return the records."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        records: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while not until(records):
            if time.monotonic() > deadline:
                msg = f"{topic}: condition not met after {timeout_s} s ({len(records)} records)"
                raise AssertionError(msg)
            batch = await consumer.getmany(timeout_ms=200)
            for chunk in batch.values():
                records.extend(chunk)
        return records
    finally:
        await consumer.stop()


def values_of(records: list[Any]) -> list[dict[str, Any]]:
    """Decode JSON values, skipping none (all our topics carry JSON)."""
    return [json.loads(record.value) for record in records]


async def report_count(stack: Stack) -> dict[str, Any]:
    """The reporting API's participant count, as a coordinator sees it."""
    reporting = stack.services["reporting"]
    async with httpx.AsyncClient(base_url=reporting.url) as client:
        response = await client.get(
            "/v1/reports/participants",
            headers={"Authorization": f"Bearer {stack.token(Role.COORDINATOR)}"},
        )
    response.raise_for_status()
    cell: dict[str, Any] = response.json()["participants"]
    return cell


async def reporting_connection(stack: Stack) -> Any:
    """A connection to reporting's database with the live projection version on its path."""
    import asyncpg  # noqa: PLC0415

    connection = await asyncpg.connect(stack.service_database_url("reporting"))
    live = await connection.fetchval(
        "SELECT schema_name FROM projection_versions WHERE state = 'live'"
    )
    await connection.execute(f"SET search_path TO {live}, public")
    return connection


async def projected_ids(stack: Stack) -> list[str]:
    """Every participant id in reporting's projection (checked in the database itself)."""
    connection = await reporting_connection(stack)
    try:
        rows = await connection.fetch("SELECT participant_id::text AS id FROM participants")
    finally:
        await connection.close()
    return [row["id"] for row in rows]


async def eventually(check: Any, *, timeout_s: float = 30.0, what: str = "condition") -> Any:
    """Await `check()` until it returns a truthy value."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    msg = f"{what} not reached within {timeout_s} s (last: {last!r})"
    raise AssertionError(msg)


def v2_registration(provider: str, **changes: Any) -> dict[str, Any]:
    """A register-participant.v2 command for a new, unique person."""
    data: dict[str, Any] = {
        "provider_reference": f"REF-{uuid.uuid4().hex[:8]}",
        **unique_person(),
        "sex": "female",
        "country_of_origin": "ERI",
        "residence_status": {"status": "gestattung", "legal_basis": "asylg-55"},
        "municipality": "loehne",
        "german_level": {"overall": "A1"},
        "entry_date": "2022-03-01",
    }
    data.update(changes)
    return command("register-participant.v2", provider, data)


def command(type_: str, provider: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"/providers/{provider}",
        "type": type_,
        "time": datetime.now(UTC).isoformat(),
        "data": data,
    }


async def post(
    stack: Stack,
    body: dict[str, Any],
    role: Role,
    provider: str | None = None,
    *,
    service: str = "intake",
) -> httpx.Response:
    """POST a command to a service's HTTP API with a development token."""
    async with httpx.AsyncClient(base_url=stack.services[service].url) as client:
        return await client.post(
            "/v1/commands",
            content=json.dumps(body),
            headers={"Authorization": f"Bearer {stack.token(role, provider)}"},
        )


async def read_participant(
    stack: Stack, participant_id: str, role: Role, provider: str | None = None
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.services["intake"].url) as client:
        return await client.get(
            f"/v1/participants/{participant_id}",
            headers={
                "Authorization": f"Bearer {stack.token(role, provider)}",
                "X-Purpose": "test case work",
            },
        )


def envelope(type_: str, source: str, subject: str, data: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": source,
            "type": type_,
            "time": datetime.now(UTC).isoformat(),
            "subject": subject,
            "data": data,
        }
    ).encode()
