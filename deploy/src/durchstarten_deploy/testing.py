"""pytest plugin: the real PostgreSQL and Kafka broker, each started once per test session.

`postgres_server` starts only PostgreSQL; tests that need nothing else (the command side of
a service, the platform's database code) ask for it, or for `fresh_database_url` or
`fresh_pool`, and never wait for Kafka. `stack` adds Kafka, the topics and one database per
service on that same PostgreSQL server. The helpers at the end drive a service's command
side without a broker: commands as a provider writes them, records as a consumer reads them,
and the outbox rows a handler wrote.

Set `DATABASE_URL` to use an existing PostgreSQL server (databases with a unique prefix are
created and dropped again) and `DURCHSTARTEN_TEST_KAFKA` to use an existing broker;
otherwise both are started from the machine's PostgreSQL binaries and Maven Central's jars.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import random
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
import pytest
import pytest_asyncio

from durchstarten.counties import Counties, load_counties, with_providers, write_counties
from durchstarten.db.pool import create_pool
from durchstarten.events import Event, RegisterParticipant, new_event
from durchstarten.events.topics import inbound, outbound
from durchstarten.messaging.admin import ensure_topics
from durchstarten.messaging.commands import Actor, InboundCommand, parse_command
from durchstarten_deploy.postgres import LocalPostgres, create_databases, with_database
from durchstarten_deploy.processes import free_port
from durchstarten_deploy.stack import SERVICES, Stack, unique_prefix
from durchstarten_simulator.wire import envelope

if TYPE_CHECKING:  # types only: the plugin loads for every session, the services' stack need not
    from durchstarten.events.reasons import ReasonCode
    from durchstarten.messaging.command_service import CommandService, Outcome

TEST_PROVIDERS = ("test-alpha", "test-beta")


OUTSIDE_BETA = "05754"
"""Kreis Gütersloh: the one shipped county the second test provider does not work in."""


def session_counties() -> Counties:
    """The shipped counties with only the test providers.

    The first works in every county, the second in all but Kreis Gütersloh (a provider's
    counties are a real limit).
    """
    every = with_providers(load_counties(), TEST_PROVIDERS, only=True)
    return Counties(
        {
            key: county.model_copy(
                update={
                    "providers": [
                        p
                        for p in county.providers
                        if not (key == OUTSIDE_BETA and p.id == TEST_PROVIDERS[1])
                    ]
                }
            )
            for key, county in every.by_key.items()
        }
    )


def one_county(key: str) -> Counties:
    """Only the shipped county `key`, with its own providers: a stack of one county's history."""
    return Counties({key: load_counties().by_key[key]})


@functools.cache
def counties_for_tests() -> Path:
    """`session_counties()` as files, written once per process into a temporary folder.

    They are the county files of services a test makes without a stack (the stack
    fixture's are the same).
    """
    directory = Path(tempfile.mkdtemp(prefix="durchstarten-counties-"))
    return write_counties(session_counties(), directory)


OWN_SERVER_PREFIX = "durchstarten"
"""Database prefix on a server of our own: nothing else lives there, so no prefix clashes."""
AnEvent = TypeVar("AnEvent", bound=Event)


@dataclass(frozen=True)
class PostgresServer:
    """The session's PostgreSQL server and the prefix of every database this session makes."""

    admin_url: str
    database_prefix: str


@pytest.fixture(scope="session")
def state_root() -> Iterator[Path]:
    """A directory of the session's own for the servers' data, removed at the end.

    Not under pytest's base temp: pytest keeps only the newest three of those and deletes
    older ones, so a second pytest session on the machine (a quick unit run) would delete
    a running session's PostgreSQL and Kafka data under it.
    """
    root = Path(tempfile.mkdtemp(prefix="durchstarten-test-"))
    try:
        yield root
    finally:
        if os.environ.get("DURCHSTARTEN_KEEP_TEST_STATE") == "1":
            print(f"test state kept in {root}")  # a developer asked for it
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server(state_root: Path) -> Iterator[PostgresServer]:
    """PostgreSQL only (no Kafka), for the whole session: `DATABASE_URL`'s, else our own.

    Our own cluster is stopped by its process id at the end of the session; on a named
    server, the session's databases are dropped instead.
    """
    external_url = os.environ.get("DATABASE_URL")
    if external_url:
        server = PostgresServer(admin_url=external_url, database_prefix=unique_prefix())
        try:
            yield server
        finally:
            asyncio.run(drop_databases(external_url, server.database_prefix))
        return
    local = LocalPostgres(directory=state_root / "postgres", port=free_port())
    try:
        local.start()
        yield PostgresServer(admin_url=local.admin_url, database_prefix=OWN_SERVER_PREFIX)
    finally:
        local.stop()


@pytest.fixture(scope="session")
def stack(postgres_server: PostgresServer, state_root: Path) -> Iterator[Stack]:
    """Kafka + topics + one database per service on the session's PostgreSQL, for the session.

    The stack is handed the running server as an existing one, so it neither starts nor
    stops a PostgreSQL of its own: `postgres_server` owns it.
    """
    started = Stack(
        state_dir=state_root / "stack",
        database_url=postgres_server.admin_url,
        kafka_bootstrap=os.environ.get("DURCHSTARTEN_TEST_KAFKA"),
        providers=TEST_PROVIDERS,
        counties=session_counties(),
        database_prefix=postgres_server.database_prefix,
    )
    try:
        started.start_infrastructure()
        yield started
    finally:
        started.stop()


async def new_topic(stack: Stack, what: str, *, partitions: int = 1) -> str:
    """A topic of the test's own (`<what>-<random>`, no deletion plan), created on the stack."""
    name = f"{what}-{secrets.token_hex(4)}"
    await ensure_topics(
        stack.bootstrap,
        [name],
        partitions=partitions,
        replication_factor=1,
        plan=None,
        client_options=stack.access.admin_options(),
    )
    return name


@contextlib.contextmanager
def own_stack(
    admin_url: str, state_dir: Path, *, extra_env: dict[str, str] | None = None, **options: Any
) -> Iterator[Stack]:
    """A stack of a test module's own beside the session's: its own Kafka and databases.

    `options` are the Stack's (providers, counties, ...); the services start with
    `extra_env`. Everything stops, and its databases go, when the block ends.
    """
    stack = Stack(
        state_dir=state_dir, database_url=admin_url, database_prefix=unique_prefix(), **options
    )
    try:
        stack.start_infrastructure()
        for name in SERVICES:
            stack.start_service(name, extra_env=extra_env)
        yield stack
    finally:
        stack.stop()
        asyncio.run(drop_databases(admin_url, stack.database_prefix))


async def drop_databases(admin_url: str, prefix: str) -> None:
    """Drop every database whose name starts with `prefix_` (a test session's own)."""
    connection = await asyncpg.connect(admin_url)
    try:
        names = await connection.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", f"{prefix}\\_%"
        )
        for row in names:
            await connection.execute(f'DROP DATABASE "{row["datname"]}" WITH (FORCE)')
        # The stack's login roles for those databases (cluster-wide, so dropped by name too).
        roles = await connection.fetch(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE $1", f"{prefix}\\_%"
        )
        for row in roles:
            await connection.execute(f'DROP ROLE "{row["rolname"]}"')
    finally:
        await connection.close()


@pytest_asyncio.fixture
async def fresh_database_url(postgres_server: PostgresServer) -> str:
    """URL of a new, empty database for one test (PostgreSQL only: no broker is started)."""
    name = f"{postgres_server.database_prefix}_t_{secrets.token_hex(4)}"
    await create_databases(postgres_server.admin_url, [name])
    return with_database(postgres_server.admin_url, name)


@pytest_asyncio.fixture
async def fresh_pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A small pool (the project's codecs) on a new, empty database; closed after the test."""
    pool = await create_pool(fresh_database_url, min_size=1, max_size=4)
    try:
        yield pool
    finally:
        await pool.close()


# --- the command side without a broker ------------------------------------------------------


def provider_inbound(
    service: CommandService, type_: str, provider: str, data: dict[str, Any]
) -> InboundCommand:
    """A command as `provider`'s system writes it (CloudEvents JSON), parsed as its edge does."""
    raw = json.dumps(envelope(provider, type_, data)).encode()
    return parse_command(raw, provider=provider, accepted=service.accepted)


async def send_command(
    service: CommandService, type_: str, provider: str, data: dict[str, Any]
) -> tuple[InboundCommand, Outcome]:
    """Carry out a provider's command on the service's command side; the command and outcome."""
    inbound = provider_inbound(service, type_, provider, data)
    return inbound, await service.execute(inbound)


async def send_batch(service: CommandService, commands: Sequence[InboundCommand]) -> list[Outcome]:
    """Carry out parsed commands as one polled batch of the inbound topics; their outcomes.

    The path the consumer takes (`execute_batch`: one transaction for all of them); each
    command is a record of its provider's inbound topic at the next offset. The same
    command may appear twice (a provider sending it again).
    """
    batch = [
        (
            command,
            ConsumedRecord(
                topic=inbound(command.provider, service.service),
                value=command.envelope.to_json(),
                offset=offset,
            ),
        )
        for offset, command in enumerate(commands)
    ]
    return await service.execute_batch(batch)


async def send_one_by_one(
    service: CommandService, commands: Sequence[InboundCommand]
) -> list[Outcome]:
    """Carry out parsed commands one after another, each in its own transaction (`execute`).

    What `send_batch` is compared with: a batch must decide exactly as this does.
    """
    return [await service.execute(command) for command in commands]


COORDINATOR = Actor("ki-koordination-03", None, coordinator=True)
"""A county coordinator, as the HTTP API names one from the token."""


async def send_as_coordinator(
    service: CommandService, type_: str, data: dict[str, Any]
) -> tuple[InboundCommand, Outcome]:
    """A coordinator's decision over HTTP: the staff channel, no outbound topic."""
    inbound = provider_inbound(service, type_, TEST_PROVIDERS[0], data)
    inbound = dataclasses.replace(inbound, provider=COORDINATOR.channel, sender=COORDINATOR)
    return inbound, await service.execute(inbound)


REGISTER = RegisterParticipant.command_type
"""The registration's current version (Herford's older one arrives through the upcaster)."""


def new_person(**changes: Any) -> dict[str, Any]:
    """A registration's data; every call a different person unless names are given.

    The names carry the markers the leak tests look for (`Testvorname`, `Familientestname`).
    """
    suffix = "".join(random.choice("bcdfgklmnprstvwz") for _ in range(8))  # noqa: S311  # names, not secrets
    data: dict[str, Any] = {
        **RegisterParticipant.example,
        "given_name": f"Testvorname{suffix}",
        "family_name": f"Familientestname{suffix[::-1]}",
        "provider_reference": f"REF-{suffix}",
    }
    return data | changes


async def registered(service: CommandService, provider: str, **changes: Any) -> str:
    """Register a new person (`new_person(**changes)`) through intake's command side; its id."""
    _, outcome = await send_command(service, REGISTER, provider, new_person(**changes))
    if outcome.status != "accepted" or outcome.decision is None:
        msg = f"the registration was not accepted: {outcome}"
        raise AssertionError(msg)
    return str(outcome.decision.participant)


def assert_rejected(outcome: Outcome, reason: ReasonCode) -> None:
    """Fail unless the command was rejected for `reason`."""
    violation = outcome.violation
    if outcome.status != "rejected" or violation is None or violation.reason != reason:
        msg = f"expected a rejection for {reason}, got {outcome}"
        raise AssertionError(msg)


def example_event(model: type[AnEvent], **changes: Any) -> AnEvent:
    """The contract's example of an event type, with `changes` (JSON values) applied."""
    return model.model_validate(model.example | changes)


@dataclass(frozen=True)
class ConsumedRecord:
    """A Kafka record as the consumers read it (the shape of `messaging.records.KafkaRecord`)."""

    topic: str
    value: bytes | None
    partition: int = 0
    offset: int = 0
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


def event_record(topic: str, event: Event, *, service: str, offset: int = 0) -> ConsumedRecord:
    """Another service's event as it arrives on `topic`, enveloped as its outbox does it."""
    subject = getattr(event, "participant_id", None)
    wrapped = new_event(
        source=f"/services/{service}",
        type_=event.event_type,
        data=event,
        subject=str(subject) if subject else None,
    )
    return ConsumedRecord(topic=topic, value=wrapped.to_json(), offset=offset)


@dataclass(frozen=True)
class OutboxMessage:
    """One message a handler put into the outbox: its topic and its CloudEvent."""

    topic: str
    type: str
    data: dict[str, Any]


async def outbox_messages(pool: asyncpg.Pool) -> list[OutboxMessage]:
    """Every outbox row, oldest first (the relay never ran: nothing is marked sent)."""
    async with pool.acquire() as connection:
        rows = await connection.fetch("SELECT topic, value FROM outbox ORDER BY seq")
    messages = []
    for row in rows:
        cloud_event = json.loads(row["value"])
        messages.append(OutboxMessage(row["topic"], cloud_event["type"], cloud_event["data"]))
    return messages


async def replies_to(service: CommandService, inbound: InboundCommand) -> list[OutboxMessage]:
    """The replies to one command on its sender's outbound topic."""
    topic = outbound(inbound.provider, service.service)
    return [
        message
        for message in await outbox_messages(service.runtime.pool)
        if message.topic == topic and message.data.get("command_id") == inbound.envelope.id
    ]


async def fetch_rows(pool: asyncpg.Pool, query: str, *args: Any) -> list[dict[str, Any]]:
    """The rows of a query, as plain dicts (easy to compare in an assertion)."""
    async with pool.acquire() as connection:
        return [dict(row) for row in await connection.fetch(query, *args)]


BOOKKEEPING = (
    "outbox",
    "processed_messages",
    "held_commands",
    "command_answers",
    "schema_migrations",
)
"""The platform's own tables in a service database: what a command writes besides its state."""


async def domain_rows(pool: asyncpg.Pool) -> dict[str, list[str]]:
    """Every row of a service's own tables (not the bookkeeping), to compare before/after.

    A refused command must leave these exactly as they were.
    """
    tables = await fetch_rows(
        pool,
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = 'public' AND NOT table_name = ANY($1::text[])",
        list(BOOKKEEPING),
    )
    return {
        table["table_name"]: sorted(
            repr(row)
            for row in await fetch_rows(pool, f'SELECT * FROM "{table["table_name"]}"')  # noqa: S608  # names from the catalogue
        )
        for table in tables
    }
