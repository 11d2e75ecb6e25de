"""An erased person is found nowhere: the adversary's search over everything the stack keeps.

A marker person (names, reference and e-mail no one else has) is registered over Kafka as
a provider's system does, with a malformed command beside it that quotes the same data;
they get a coaching case with a placement and a course place. A dump of intake's database
is taken, then the person is erased. Once the inbound topics' retention has run (a plan
with seconds, applied to the real topics for the time of this test), the markers are in
no record of any topic from its earliest offset (dead letters included), in no table of
any of the five databases, in no service log, and not readable in the dump; a projection
rebuild afterwards brings back neither the markers nor the person.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from tests.support import (
    client,
    command,
    encoded,
    eventually,
    produce,
    projected_ids,
    read_to_end,
    replies_to,
    reporting_connection,
    unique_person,
    v2_registration,
    wait_projected,
)
from tests.test_coaching_flows import coach, open_case
from tests.test_courses_flows import course_cmd, known_to_courses, scheduling
from tests.test_retention_on_kafka import _short_plan

from durchstarten.auth import Role
from durchstarten.events.topics import dead_letters, inbound
from durchstarten.settings import KafkaSettings
from durchstarten_deploy.cli import create_topics
from durchstarten_deploy.postgres import find_bin_dir
from durchstarten_deploy.stack import DATABASES, KEY_STORE, ServiceProcess, Stack
from durchstarten_deploy.testing import TEST_PROVIDERS, counties_for_tests

pytestmark = pytest.mark.integration

ALPHA, _ = TEST_PROVIDERS


def dump(stack: Stack, database: str, path: Path) -> str:
    """A plain-text pg_dump of one of the stack's databases (as its backup would hold it)."""
    result = subprocess.run(  # PostgreSQL's own client, on our own server
        [
            str(find_bin_dir() / "pg_dump"),
            "--format=plain",
            f"--file={path}",
            f"--dbname={stack.service_database_url(database)}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return path.read_text(encoding="utf-8", errors="replace")


async def every_topic(stack: Stack) -> list[str]:
    """Every topic on the broker the admin can see (dead-letter topics included)."""
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **stack.access.options())
    await consumer.start()
    try:
        return sorted(t for t in await consumer.topics() if not t.startswith("__"))
    finally:
        await consumer.stop()


def found_in(markers: list[str], records: list[Any]) -> list[str]:
    """The markers that occur in any key, value or header of the records."""
    blobs = [
        b"".join([record.key or b"", record.value or b"", *(v for _, v in record.headers)])
        for record in records
    ]
    return [m for m in markers if any(m.encode() in blob for blob in blobs)]


async def raw_commands_gone(stack: Stack, markers: list[str]) -> bool:
    """Whether the inbound topics and their dead letters hold none of the markers any more."""
    for service in ("intake", "coaching", "courses"):
        for topic in (inbound(ALPHA, service), dead_letters(inbound(ALPHA, service))):
            if found_in(markers, await read_to_end(stack, topic)):
                return False
    return True


async def identity_rows(stack: Stack, participant: str) -> int:
    connection = await asyncpg.connect(stack.service_database_url("intake"))
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM identities WHERE participant_id = $1", uuid.UUID(participant)
        )
    finally:
        await connection.close()
    return count


async def marker_person(stack: Stack) -> tuple[str, list[str]]:
    """Register the marker person over Kafka (and a malformed copy); their id and markers."""
    person = unique_person()
    register = v2_registration(
        ALPHA,
        **person,
        provider_reference=f"MARK-{uuid.uuid4().hex[:10]}",
        email=f"marker.{uuid.uuid4().hex[:10]}@example.org",
    )
    data = register["data"]
    markers = [data["given_name"], data["family_name"], data["provider_reference"], data["email"]]
    malformed = v2_registration(ALPHA, **person, provider_reference=data["provider_reference"])
    malformed["data"]["sex"] = "not-a-sex"  # fails validation: a dead letter and a rejection
    malformed["data"]["email"] = data["email"]
    await produce(stack, inbound(ALPHA, "intake"), encoded([register, malformed]))
    replies = await replies_to(stack, ALPHA, "intake", {register["id"], malformed["id"]})
    assert replies[malformed["id"]]["type"] == "command.rejected.v1"
    return str(replies[register["id"]]["data"]["participant_id"]), markers


async def case_place_and_placement(stack: Stack, participant: str) -> None:
    """A coaching case with a placement, and a place in a course: rows in every service."""
    case_id = await open_case(stack, participant)
    placement = {
        "placement_id": str(uuid.uuid4()),
        "case_id": case_id,
        "category": "language-course",
        "start_date": "2022-05-02",
    }
    assert (await coach(stack, "record-placement.v1", ALPHA, placement)).status_code == 201
    await known_to_courses(stack, [participant])
    course = scheduling(
        "preparatory-course",
        "F4",
        ("2022-03-01", "2022-12-31"),
        [{"name": "main", "planned_ue": 40}],
        capacity=5,
    )
    assert (await course_cmd(stack, "schedule-course.v1", ALPHA, course)).status_code == 201
    enrol = {
        "course_id": course["course_id"],
        "participant_id": participant,
        "requested_on": "2022-03-02",
    }
    assert (await course_cmd(stack, "enrol.v1", ALPHA, enrol)).status_code == 201


async def rebuild_projection(stack: Stack) -> None:
    """Replay every domain topic from the earliest offset into a new version and switch."""
    admin = {"Authorization": f"Bearer {stack.token(Role.ADMIN)}"}
    async with client(stack, "reporting") as reporting:
        started = await reporting.post("/v1/admin/rebuilds", headers=admin)
        assert started.status_code == 202, started.text
        rebuild_id = started.json()["rebuild_id"]

        async def live() -> bool:
            status = (await reporting.get(f"/v1/admin/rebuilds/{rebuild_id}", headers=admin)).json()
            assert status["state"] != "failed", status
            return bool(status["state"] == "live")

        await eventually(live, what="the rebuild switched")


async def test_an_erased_marker_person_is_found_nowhere_not_even_after_a_rebuild(
    stack: Stack, services: dict[str, ServiceProcess], tmp_path: Path
) -> None:
    participant, markers = await marker_person(stack)
    await case_place_and_placement(stack, participant)
    await wait_projected(stack, [participant], what="the marker person projected")
    # The positive control: before the erasure the raw command holds the markers.
    assert found_in(markers, await read_to_end(stack, inbound(ALPHA, "intake"))) == markers
    before = dump(stack, "intake", tmp_path / "intake-before.sql")
    assert participant in before  # the dump holds the person's sealed row ...
    assert [m for m in markers if m in before] == []  # ... and never a marker in the clear

    erase = command(
        "request-erasure.v1",
        ALPHA,
        {"participant_id": participant, "reason": "participant-request"},
    )
    await produce(stack, inbound(ALPHA, "intake"), encoded([erase]))

    async def erased() -> bool:
        return participant not in await projected_ids(stack) and not await identity_rows(
            stack, participant
        )

    await eventually(erased, what="the person erased in intake and reporting")

    # The inbound topics' retention runs out (seconds instead of a week, for this test).
    plan = _short_plan(tmp_path)
    settings = KafkaSettings(
        **stack.kafka_settings(),
        providers=list(TEST_PROVIDERS),
        counties_dir=counties_for_tests(),
        topic_partitions=stack.partitions,
    )
    await asyncio.to_thread(create_topics, settings.model_copy(update={"deletion_plan": plan}))
    try:
        await eventually(
            lambda: raw_commands_gone(stack, markers), what="the raw commands deleted by retention"
        )
    finally:
        await asyncio.to_thread(create_topics, settings)  # the shipped plan again

    for topic in await every_topic(stack):
        assert found_in(markers, await read_to_end(stack, topic)) == [], topic
    for database in DATABASES:
        text = dump(stack, database, tmp_path / f"{database}.sql")
        assert [m for m in markers if m in text] == [], database
    key_store = dump(stack, KEY_STORE, tmp_path / "keys-after.sql")
    assert participant not in key_store  # the key that opened the dump's ciphertext is gone
    for log_file in (stack.state_dir / "logs").glob("*.log"):
        text = log_file.read_text(encoding="utf-8", errors="replace")
        assert [m for m in markers if m in text] == [], log_file.name
    for process in services.values():
        async with httpx.AsyncClient(base_url=process.metrics_url) as service:
            metrics = (await service.get("/metrics")).text
        assert [m for m in markers if m in metrics] == [], process.name

    await rebuild_projection(stack)
    assert participant not in await projected_ids(stack)
    connection = await reporting_connection(stack)
    try:
        # Every table of the rebuilt version that has a participant column, but the list
        # of erased pseudonyms that keeps late events of the person out.
        tables = await connection.fetch(
            "SELECT table_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND column_name = 'participant_id'"
            " AND table_name <> 'erased_participants'"
        )
        assert len(tables) >= 4  # participants, cases, placements, course participations ...
        for row in tables:
            held = await connection.fetchval(
                f"SELECT count(*) FROM {row['table_name']} WHERE participant_id = $1",  # noqa: S608  # names from the catalogue
                uuid.UUID(participant),
            )
            assert held == 0, row["table_name"]
        assert await connection.fetchval(
            "SELECT count(*) FROM erased_participants WHERE participant_id = $1",
            uuid.UUID(participant),
        )
    finally:
        await connection.close()
    text = dump(stack, "reporting", tmp_path / "reporting-rebuilt.sql")
    assert [m for m in markers if m in text] == []
