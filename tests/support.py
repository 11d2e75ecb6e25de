"""Helpers for cross-service tests: produce and read topics, query the report, wait."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from durchstarten.auth import Role
from durchstarten.events.topics import ServiceName, inbound, outbound
from durchstarten_deploy.stack import DEMO_COUNTY, Stack
from durchstarten_simulator.wire import partitions_of, producer
from reporting.versions import live_schema, through_lens

PATIENCE_S = 180.0
"""How long a test waits for anything eventually consistent (a reply, a projection, an HTTP
answer) before it fails. Generous on purpose: it only bounds how long a failure takes to
show on a loaded machine; how fast things are is the benchmark's business (`make bench`)."""

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
    return command("register-participant.v1", provider, data) | {
        "datacontenttype": "application/json"
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
    kafka = producer(stack.access.options())
    await kafka.start()
    try:
        futures = [
            await kafka.send(
                topic,
                value,
                key=json.loads(value)["subject"].encode() if by_subject else key,
                headers=headers,
            )
            for value in values
        ]
        return [((m := await f).partition, m.offset) for f in futures]
    finally:
        await kafka.stop()


async def read_topic(stack: Stack, topic: str, *, until: Any) -> list[Any]:
    """Read `topic` from the beginning until `until(records)` is true; return the records."""

    async def done(consumer: AIOKafkaConsumer, records: list[Any]) -> bool:
        del consumer
        return bool(until(records))

    return await _read(stack, topic, done, "condition")


async def read_to_end(stack: Stack, topic: str) -> list[Any]:
    """Every record `topic` holds now: from the beginning to each partition's current end."""
    ends: dict[TopicPartition, int] = {}

    async def done(consumer: AIOKafkaConsumer, records: list[Any]) -> bool:
        del records
        if not ends:
            ends.update(await consumer.end_offsets(list(consumer.assignment())))
        return not [p for p, end in ends.items() if await consumer.position(p) < end]

    return await _read(stack, topic, done, "its end")


async def _read(
    stack: Stack,
    topic: str,
    done: Callable[[AIOKafkaConsumer, list[Any]], Awaitable[bool]],
    what: str,
) -> list[Any]:
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **stack.access.options())
    await consumer.start()
    try:
        consumer.assign(await partitions_of(consumer, topic))
        await consumer.seek_to_beginning()
        records: list[Any] = []
        deadline = time.monotonic() + PATIENCE_S
        while not await done(consumer, records):
            if time.monotonic() > deadline:
                msg = f"{topic}: {what} not reached after {PATIENCE_S} s ({len(records)} records)"
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


async def replies_to(
    stack: Stack, provider: str, service: ServiceName, ids: set[str]
) -> dict[str, dict[str, Any]]:
    """The reply to each command id, read from the provider's outbound topic of `service`."""

    def answered(records: list[Any]) -> bool:
        return {v["data"].get("command_id") for v in values_of(records)} >= ids

    replies = await read_topic(stack, outbound(provider, service), until=answered)
    return {
        v["data"]["command_id"]: v for v in values_of(replies) if v["data"].get("command_id") in ids
    }


def client(
    stack: Stack, service: str, role: Role | None = None, provider: str | None = None
) -> httpx.AsyncClient:
    """An HTTP client for one service, with a development token for `role` if one is named."""
    headers = {"Authorization": f"Bearer {stack.token(role, provider)}"} if role else {}
    return httpx.AsyncClient(
        base_url=stack.services[service].url, headers=headers, timeout=PATIENCE_S
    )


async def report(
    stack: Stack, path: str, role: Role = Role.COORDINATOR, **params: Any
) -> dict[str, Any]:
    """One of reporting's JSON reports (`path`) with the query `params`, as `role` sees it.

    The ministry and admins name a county: Kreis Herford's unless `params` name another.
    """
    if role in (Role.MINISTRY, Role.ADMIN) and "county" not in params:
        params["county"] = DEMO_COUNTY
    async with client(stack, "reporting", role) as reporting:
        response = await reporting.get(path, params=params)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


async def report_count(stack: Stack) -> dict[str, Any]:
    """The reporting API's participant count, as a coordinator sees it."""
    cell: dict[str, Any] = (await report(stack, "/v1/reports/participants"))["participants"]
    return cell


async def reporting_connection(stack: Stack) -> Any:
    """A connection to reporting's database with the live projection version on its path."""
    connection = await asyncpg.connect(stack.service_database_url("reporting"))
    live = await connection.fetchval(
        "SELECT schema_name FROM projection_versions WHERE state = 'live'"
    )
    await connection.execute(f"SET search_path TO {live}, public")
    return connection


async def projected_ids(stack: Stack, county: str | None = None) -> list[str]:
    """Every participant id in reporting's projection (checked in the database itself).

    `county`: only the people with a stay there, through reporting's county lens.
    """
    connection = await reporting_connection(stack)
    try:
        if county is None:
            rows = await connection.fetch("SELECT participant_id::text AS id FROM participants")
        else:
            async with connection.transaction():
                await through_lens(connection, await live_schema(connection), county)
                rows = await connection.fetch("SELECT participant_id::text AS id FROM participants")
    finally:
        await connection.close()
    return [row["id"] for row in rows]


async def wait_projected(stack: Stack, participant_ids: Iterable[str], *, what: str) -> None:
    """Wait until reporting's projection holds every one of `participant_ids`."""
    wanted = set(participant_ids)

    async def projected() -> bool:
        return wanted <= set(await projected_ids(stack))

    await eventually(projected, what=what)


async def register_accepted(stack: Stack, provider: str, count: int) -> set[str]:
    """Register `count` new people through `provider`'s inbound topic; their participant ids.

    Every registration must be accepted.
    """
    commands = [registration(provider) for _ in range(count)]
    await produce(stack, inbound(provider, "intake"), encoded(commands))
    replies = await replies_to(stack, provider, "intake", {c["id"] for c in commands})
    assert {r["type"] for r in replies.values()} == {"command.accepted.v1"}
    return {r["data"]["participant_id"] for r in replies.values()}


async def first_value(
    stack: Stack, topic: str, wanted: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The first JSON value on `topic` that `wanted` accepts, once it has arrived."""
    records = await read_topic(
        stack, topic, until=lambda records: any(wanted(v) for v in values_of(records))
    )
    return next(v for v in values_of(records) if wanted(v))


async def eventually(check: Any, *, what: str = "condition") -> Any:
    """Await `check()` until it returns a truthy value (for PATIENCE_S at the most)."""
    deadline = time.monotonic() + PATIENCE_S
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    msg = f"{what} not reached within {PATIENCE_S} s (last: {last!r})"
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
        # As the programme's form asks: consent to sharing with the other providers.
        "consent": {"scopes": ["data-sharing-between-providers"], "given_on": "2022-03-01"},
        "entry_date": "2022-03-01",
    }
    data.update(changes)
    return command("register-participant.v2", provider, data)


def command(type_: str, provider: str, data: dict[str, Any]) -> dict[str, Any]:
    """A command CloudEvent of `provider` with a fresh id."""
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
    async with client(stack, service, role, provider) as http:
        return await http.post("/v1/commands", content=json.dumps(body))


async def read_participant(
    stack: Stack,
    participant_id: str,
    role: Role,
    provider: str | None = None,
    *,
    purpose: str = "test case work",
) -> httpx.Response:
    """GET a participant from intake, with the purpose every identity read must state."""
    async with client(stack, "intake", role, provider) as intake:
        return await intake.get(
            f"/v1/participants/{participant_id}", headers={"X-Purpose": purpose}
        )


def event(type_: str, source: str, subject: str, data: dict[str, Any]) -> dict[str, Any]:
    """A domain event as a service's relay publishes it, with a fresh id."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": type_,
        "time": datetime.now(UTC).isoformat(),
        "subject": subject,
        "data": data,
    }


def envelope(type_: str, source: str, subject: str, data: dict[str, Any]) -> bytes:
    """A domain event (see `event`), encoded for the topic."""
    return json.dumps(event(type_, source, subject, data)).encode()


def encoded(values: Iterable[dict[str, Any]]) -> list[bytes]:
    """CloudEvents as the JSON bytes a topic carries, in order."""
    return [json.dumps(value).encode() for value in values]


def participant_registered(
    provider: str, entry_date: str, participant_id: str | None = None, **changes: Any
) -> dict[str, Any]:
    """Intake's `participant.registered.v1` for a person; `changes` override the profile."""
    participant_id = participant_id or str(uuid.uuid4())
    data = {
        "participant_id": participant_id,
        "provider": provider,
        "entry_date": entry_date,
        "age_at_entry": 21,
        "sex": "female",
        "country_of_origin": "SYR",
        "residence_status": "duldung",
        "municipality": "herford",
        "school_education": "primary",
        "german_level": "A1",
    } | changes
    return event("participant.registered.v1", "/services/intake", participant_id, data)


SERVED_THRESHOLD = 3
"""The session stack's `DURCHSTARTEN_MIN_CELL_COUNT` (the default)."""


def agrees(cell: dict[str, Any], expected: int) -> bool:
    """A served cell against its true count, under protection over every linked table.

    Shown: exactly the count, and never a small one. Withheld: a small count, or a larger
    one withheld to protect a small count in this or a linked table; never a zero.
    """
    if cell["suppressed"]:
        return cell["value"] is None and cell.get("marker") == "." and expected > 0
    return bool(cell["value"] == expected) and not 0 < expected < SERVED_THRESHOLD


def cell_at(table: dict[str, Any], row: str, column: str) -> dict[str, Any]:
    """The cell of a served table at a row and column label."""
    found: dict[str, Any] = table["cells"][table["rows"].index(row)][table["columns"].index(column)]
    return found


def compatible(first: Any, second: Any) -> bool:
    """Whether two served reports of the same counts agree wherever both publish.

    Between two data states the pattern of withheld cells may move (a cell withheld to
    protect a new small count elsewhere); a count published in both must be the same,
    and so must everything that is not a count. A withheld rate or fee (null) agrees.
    """
    if isinstance(first, dict) and isinstance(second, dict):
        if "suppressed" in first and "suppressed" in second:
            return bool(first["suppressed"] or second["suppressed"]) or (
                first["value"] == second["value"]
            )
        return first.keys() == second.keys() and all(compatible(first[k], second[k]) for k in first)
    if isinstance(first, list) and isinstance(second, list):
        return len(first) == len(second) and all(
            compatible(a, b) for a, b in zip(first, second, strict=True)
        )
    return first is None or second is None or bool(first == second)


def oracle_figures(oracle: dict[str, Any], report: str, provider: str) -> dict[str, Any]:
    """The simulator oracle's figures of one report for one provider's scope."""
    found: dict[str, Any] = next(
        c["figures"]
        for c in oracle["checks"]
        if c["report"] == report and c["provider"] == provider
    )
    return found
