"""End to end through real processes, the real Kafka broker and the real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from tests.support import (
    FRESH_REPORTS,
    IDENTIFIER_MARKERS,
    client,
    encoded,
    eventually,
    participant_registered,
    produce,
    projected_ids,
    read_to_end,
    read_topic,
    registration,
    replies_to,
    report_count,
    reporting_connection,
    values_of,
    wait_projected,
)

from durchstarten.auth import Role
from durchstarten.events.topics import INTAKE_EVENTS, dead_letters, inbound, outbound
from durchstarten.messaging.records import KafkaRecord
from durchstarten_deploy.stack import DEMO_COUNTY, ServiceProcess, Stack
from durchstarten_deploy.testing import TEST_PROVIDERS

pytestmark = pytest.mark.integration

ALPHA, BETA = TEST_PROVIDERS


def replies_for(records: list[Any], command_ids: set[str]) -> list[dict[str, Any]]:
    return [v for v in values_of(records) if v["data"].get("command_id") in command_ids]


async def metric(stack: Stack, service: str, name: str, **labels: str) -> float:
    # /metrics has a port of its own, apart from the API.
    async with httpx.AsyncClient(base_url=stack.services[service].metrics_url) as http:
        text = (await http.get("/metrics")).text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    assert wanted  # the caller always names labels
    return total


async def test_a_command_from_a_plain_kafka_producer_ends_in_the_report(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    before = set(await projected_ids(stack))
    commands = [registration(ALPHA) for _ in range(3)]
    await produce(stack, inbound(ALPHA, "intake"), encoded(commands))

    accepted = list(
        (await replies_to(stack, ALPHA, "intake", {c["id"] for c in commands})).values()
    )
    assert {r["type"] for r in accepted} == {"command.accepted.v1"}
    participant_ids = {r["data"]["participant_id"] for r in accepted}
    assert len(participant_ids) == 3
    for reply in accepted:
        assert reply["causationid"] == reply["data"]["command_id"]
        assert reply["causationid"] in {c["id"] for c in commands}
        assert reply["data"].get("provider_reference") is None  # replies hold no identifier
    await wait_projected(stack, participant_ids, what="participants projected")
    cell = await report_count(stack)
    # The report counts exactly the county's projected participants (other tests' ones
    # included; the coordinator's county, Herford, where these three live).
    herford = await projected_ids(stack, DEMO_COUNTY)
    assert participant_ids <= set(herford)
    assert cell["value"] == len(herford) >= len(before & set(herford)) + 3


async def test_a_command_over_http_ends_in_the_report_and_a_repeat_is_recognised(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    command = json.dumps(registration(ALPHA))
    headers = {"Content-Type": "application/cloudevents+json"}
    async with client(stack, "intake", Role.PROVIDER, ALPHA) as intake:
        first = await intake.post("/v1/commands", content=command, headers=headers)
        assert first.status_code == 201, first.text
        participant_id = first.json()["participant_id"]
        again = await intake.post("/v1/commands", content=command, headers=headers)
        assert again.status_code == 200
        assert again.json() == {**first.json(), "duplicate": True}
    await wait_projected(stack, [participant_id], what="HTTP participant projected")
    assert (await projected_ids(stack)).count(participant_id) == 1


async def test_http_refuses_missing_wrong_and_foreign_credentials_and_names_bad_fields(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    body = json.dumps(registration(ALPHA, birth_date="04.05.2001"))
    async with client(stack, "intake") as intake:
        assert (await intake.post("/v1/commands", content=body)).status_code == 401
        ministry = {"Authorization": f"Bearer {stack.token(Role.MINISTRY)}"}
        refused = await intake.post("/v1/commands", content=body, headers=ministry)
        assert refused.status_code == 403
        coordinator = {"Authorization": f"Bearer {stack.token(Role.COORDINATOR)}"}
        valid = json.dumps(registration(ALPHA))
        as_coordinator = await intake.post("/v1/commands", content=valid, headers=coordinator)
        assert as_coordinator.status_code == 403
        assert as_coordinator.json()["reason"] == "forbidden-role"
        provider = {"Authorization": f"Bearer {stack.token(Role.PROVIDER, ALPHA)}"}
        response = await intake.post("/v1/commands", content=body, headers=provider)
    assert response.status_code == 422
    assert response.json()["reason"] == "invalid-field"
    assert response.json()["field"] == "data.birth_date"
    assert response.json()["message_de"]
    async with client(stack, "reporting") as reporting:
        as_provider = await reporting.get("/v1/reports/participants", headers=provider)
    assert as_provider.status_code == 403


async def test_the_same_command_delivered_twice_registers_one_participant(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    command = registration(ALPHA)
    raw = json.dumps(command).encode()
    await produce(stack, inbound(ALPHA, "intake"), [raw, raw])
    marker = registration(ALPHA)  # sent after both copies: once it is answered, both were seen
    await produce(stack, inbound(ALPHA, "intake"), encoded([marker]))
    await replies_to(stack, ALPHA, "intake", {marker["id"]})
    connection = await asyncpg.connect(stack.service_database_url("intake"))
    try:
        rows = await connection.fetchval(
            "SELECT count(*) FROM participants WHERE command_id = $1", command["id"]
        )
    finally:
        await connection.close()
    assert rows == 1
    replies = await read_topic(
        stack,
        outbound(ALPHA, "intake"),
        until=lambda records: len(replies_for(records, {command["id"]})) >= 2,
    )
    # One answer, and the same answer again for the copy, marked as a repeat.
    first, repeated = replies_for(replies, {command["id"]})
    assert first["data"]["repeat"] is False
    assert repeated["data"] == first["data"] | {"repeat": True}


async def test_the_same_event_delivered_twice_is_counted_once(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    projected_before = await projected_metric(stack)
    count_before = (await report_count(stack))["value"]
    event = registered_event()
    marker = registered_event()
    # What an outbox relay does after a crash between send and mark: the same event again.
    await produce(
        stack, INTAKE_EVENTS, encoded([event, event, marker]), key=event["subject"].encode()
    )
    await wait_projected(stack, [marker["subject"]], what="marker projected")
    assert await projected_metric(stack) - projected_before == 2  # the event, the marker once
    assert (await report_count(stack))["value"] == count_before + 2


async def projected_metric(stack: Stack) -> float:
    """How many intake events reporting has projected, by its own metrics."""
    return await metric(
        stack,
        "reporting",
        "durchstarten_messages_processed_total",
        topic=INTAKE_EVENTS,
        outcome="projected",
    )


def registered_event() -> dict[str, Any]:
    """A registration of a new person, as intake's relay publishes it."""
    return participant_registered(ALPHA, "2021-09-01")


async def test_bad_input_is_dead_lettered_and_rejected_and_the_next_command_processed(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    topic = inbound(BETA, "intake")
    unknown_type = registration(BETA) | {"type": "launch-rocket.v1"}
    invalid_field = registration(BETA, birth_date="2001-13-45")
    unknown_field = registration(BETA, shoe_size=44)
    valid = registration(BETA)
    bad = [
        b"{this is not json",
        json.dumps(unknown_type).encode(),
        json.dumps(invalid_field).encode(),
        json.dumps(unknown_field).encode(),
    ]
    # One key: one partition, so the order of the dead letters is the order sent.
    await produce(stack, topic, [*bad, *encoded([valid])], key=b"provider-batch-7")

    letters = await read_topic(stack, dead_letters(topic), until=lambda records: len(records) >= 4)
    headers = sorted(
        ({k: v.decode() for k, v in record.headers} for record in letters),
        key=lambda h: (int(h["dlq-source-partition"]), int(h["dlq-source-offset"])),
    )
    assert [h["dlq-error-class"] for h in headers] == [
        "malformed-json",
        "unknown-type",
        "invalid-field",
        "unknown-field",
    ]
    assert {h["dlq-source-topic"] for h in headers} == {topic}
    assert len({(h["dlq-source-partition"], h["dlq-source-offset"]) for h in headers}) == 4
    for record in letters:  # no names or birth dates in dead letters, values or headers
        assert b"Familientestname" not in record.value
        assert b"Testvorname" not in record.value
        assert b"2001-13-45" not in record.value
        assert not any(b"Familientestname" in value for _, value in record.headers)

    ids = {unknown_type["id"], invalid_field["id"], unknown_field["id"], valid["id"]}
    replies = await read_topic(
        stack,
        outbound(BETA, "intake"),
        until=lambda records: (
            len(replies_for(records, ids)) >= 4
            and any(v["data"].get("reason") == "malformed-json" for v in values_of(records))
        ),
    )
    by_command = {r["data"]["command_id"]: r for r in replies_for(replies, ids)}
    assert by_command[unknown_type["id"]]["data"]["reason"] == "unknown-type"
    assert by_command[invalid_field["id"]]["data"]["field"] == "data.birth_date"
    assert by_command[unknown_field["id"]]["data"]["field"] == "data.shoe_size"
    assert by_command[valid["id"]]["type"] == "command.accepted.v1"
    for reply in by_command.values():
        if reply["type"] == "command.rejected.v1":
            assert reply["data"]["message_de"]
            assert reply["data"]["message_en"]
    async with client(stack, "intake") as intake:
        assert (await intake.get("/health/ready")).status_code == 200


async def test_reporting_killed_mid_stream_loses_and_duplicates_nothing(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    count_before = (await report_count(stack))["value"]
    reporting = services["reporting"]
    reporting.stop()
    # Small batches make the stream long enough to kill it in the middle.
    stack.start_service(
        "reporting", extra_env={"DURCHSTARTEN_PROJECTION_BATCH_SIZE": "20", **FRESH_REPORTS}
    )
    total = 4000
    events = [registered_event() for _ in range(total)]
    wanted = {e["subject"] for e in events}
    producing = asyncio.create_task(produce(stack, INTAKE_EVENTS, encoded(events)))

    async def some_projected() -> int:
        return len(wanted & set(await projected_ids(stack)))

    await eventually(some_projected, what="first events projected")
    stack.services["reporting"].kill()
    at_kill = len(wanted & set(await projected_ids(stack)))
    await producing
    assert 0 < at_kill < total, "the kill should land mid-stream"

    stack.start_service("reporting", extra_env=FRESH_REPORTS)
    await wait_projected(stack, wanted, what="all events projected after restart")
    ids = await projected_ids(stack)
    assert len(ids) == len(set(ids))
    assert (await report_count(stack))["value"] == count_before + total


async def test_intake_killed_mid_stream_loses_and_duplicates_nothing(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    services["intake"].stop()
    commands = [registration(ALPHA) for _ in range(600)]
    await produce(stack, inbound(ALPHA, "intake"), encoded(commands))
    stack.start_service("intake")
    ids = [c["id"] for c in commands]

    async def registered() -> int:
        connection = await asyncpg.connect(stack.service_database_url("intake"))
        try:
            count: int = await connection.fetchval(
                "SELECT count(*) FROM participants WHERE command_id = ANY($1::text[])", ids
            )
        finally:
            await connection.close()
        return count

    await eventually(registered, what="first registrations")
    stack.services["intake"].kill()
    at_kill = await registered()
    stack.start_service("intake")
    await eventually(lambda: _equals(registered, len(ids)), what="all registered")
    assert at_kill < len(ids), "the kill should land mid-stream"

    connection = await asyncpg.connect(stack.service_database_url("intake"))
    try:
        pseudonyms = {
            str(row["participant_id"])
            for row in await connection.fetch(
                "SELECT participant_id FROM participants WHERE command_id = ANY($1::text[])", ids
            )
        }
    finally:
        await connection.close()
    assert len(pseudonyms) == len(ids)
    await wait_projected(stack, pseudonyms, what="every registration projected")
    replies = await read_topic(
        stack,
        outbound(ALPHA, "intake"),
        until=lambda records: (
            len({r["data"]["command_id"] for r in replies_for(records, set(ids))}) == len(ids)
        ),
    )
    accepted = replies_for(replies, set(ids))
    # A reply may be re-sent after a crash (at least once); each names the same pseudonym.
    assert {r["data"]["participant_id"] for r in accepted} == pseudonyms


async def _equals(check: Any, expected: int) -> bool:
    return bool(await check() == expected)


async def test_no_personal_identifier_reaches_events_logs_or_other_services(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    events = await read_to_end(stack, INTAKE_EVENTS)
    assert events  # other tests registered people: there is something to look through
    for record in events:
        for marker in IDENTIFIER_MARKERS:
            assert marker.encode() not in record.value
    for log_file in (stack.state_dir / "logs").glob("*.log"):
        text = log_file.read_text()
        for marker in IDENTIFIER_MARKERS:
            assert marker not in text, log_file.name


async def test_messages_that_trip_the_framework_are_dead_lettered_not_lost_or_looped(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    topic = inbound(BETA, "intake")
    key = b"provider-batch-9"
    # FastStream would decode the first itself (by its content type) and the second's header
    # as UTF-8, and fail before our handler ran: the first looped for ever, the second was
    # skipped. The third's id is too long to echo in a reply.
    json_type = [("content-type", b"application/json")]
    bad_header = [("x-trace", b"\xff\xfe")]
    sent = await produce(stack, topic, [b"{broken"], key=key, headers=json_type)
    sent += await produce(stack, topic, encoded([registration(BETA)]), key=key, headers=bad_header)
    long_id = registration(BETA) | {"id": "x" * 500}
    sent += await produce(stack, topic, encoded([long_id]), key=key)
    valid = registration(BETA)
    await produce(stack, topic, encoded([valid]), key=key)

    replies = await read_topic(
        stack, outbound(BETA, "intake"), until=lambda records: replies_for(records, {valid["id"]})
    )
    assert replies_for(replies, {valid["id"]})[0]["type"] == "command.accepted.v1"

    def letters_for(records: list[Any]) -> dict[tuple[int, int], list[Any]]:
        found: dict[tuple[int, int], list[Any]] = {}
        for record in records:
            headers = {k: v.decode() for k, v in record.headers}
            where = (int(headers["dlq-source-partition"]), int(headers["dlq-source-offset"]))
            found.setdefault(where, []).append(headers)
        return found

    letters = await read_topic(
        stack,
        dead_letters(topic),
        until=lambda records: {sent[0], sent[2]} <= set(letters_for(records)),
    )
    by_source = letters_for(letters)
    assert [h["dlq-error-class"] for h in by_source[sent[0]]] == ["malformed-json"]
    assert [h["dlq-error-class"] for h in by_source[sent[2]]] == ["invalid-field"]  # once
    assert sent[1] not in by_source  # a bad header is no reason to refuse a good command
    rejected = [v for v in values_of(replies) if v["data"].get("source_offset") == sent[2][1]]
    assert rejected
    assert rejected[0]["data"]["field"] == "id"
    assert rejected[0]["data"]["command_id"] is None


async def test_an_event_that_cannot_be_applied_is_parked_and_the_rest_projected(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    poisoned = registered_event()
    healthy = [registered_event() for _ in range(5)]
    connection = await reporting_connection(stack)
    try:
        # A database-side refusal no retry can cure, for one participant only.
        await connection.execute(
            f"""
            CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.participant_id = '{poisoned["subject"]}' THEN
                RAISE EXCEPTION 'refused for the test';
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER refuse_one BEFORE INSERT ON participants
              FOR EACH ROW EXECUTE FUNCTION refuse_one();
            """
        )
        await produce(
            stack,
            INTAKE_EVENTS,
            encoded([healthy[0], poisoned, *healthy[1:]]),
            key=b"one-partition",
        )
        healthy_ids = [e["subject"] for e in healthy]
        await wait_projected(stack, healthy_ids, what="the healthy events projected")
        assert poisoned["subject"] not in await projected_ids(stack)
        assert await parked_error_classes(stack, poisoned) == [b"RaiseError"]
    finally:
        await connection.execute("DROP TRIGGER IF EXISTS refuse_one ON participants")
        await connection.execute("DROP FUNCTION IF EXISTS refuse_one()")
        await connection.close()


async def test_an_event_of_a_type_the_contract_does_not_know_is_parked_and_the_rest_projected(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    before, unknown, after = registered_event(), registered_event(), registered_event()
    unknown["type"] = "participant.registered.v9"  # a version no service knows yet
    await produce(
        stack,
        INTAKE_EVENTS,
        encoded([before, unknown, after]),
        key=b"one-partition",  # one partition: the unknown event sits between the two
    )
    around = [before["subject"], after["subject"]]
    await wait_projected(stack, around, what="the events around the unknown one projected")
    assert unknown["subject"] not in await projected_ids(stack)
    assert await parked_error_classes(stack, unknown) == [b"unknown-type"]


async def parked_error_classes(stack: Stack, event: dict[str, Any]) -> list[bytes]:
    """The error class of each dead letter of intake's events that carries `event`."""

    def carries(record: KafkaRecord) -> bool:
        return str(event["id"]).encode() in (record.value or b"")

    letters = await read_topic(
        stack, dead_letters(INTAKE_EVENTS), until=lambda records: any(map(carries, records))
    )
    return [dict(r.headers)["dlq-error-class"] for r in letters if carries(r)]


async def test_consumer_lag_is_the_groups_by_its_committed_offsets_on_every_partition(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    commands = [registration(ALPHA) for _ in range(3)]
    await produce(stack, inbound(ALPHA, "intake"), encoded(commands))
    await replies_to(stack, ALPHA, "intake", {c["id"] for c in commands})

    async def lines() -> list[str]:
        async with httpx.AsyncClient(base_url=stack.services["coaching"].metrics_url) as http:
            text = (await http.get("/metrics")).text
        return [
            line
            for line in text.splitlines()
            if line.startswith("durchstarten_consumer_lag{")
            and 'group="coaching.participants"' in line
            and f'topic="{INTAKE_EVENTS}"' in line
        ]

    async def read_up() -> bool:
        found = await lines()
        return len(found) == stack.partitions and all(line.endswith(" 0.0") for line in found)

    # Every partition of the topic, not only those this member holds: the group's figure.
    await eventually(read_up, what="coaching's group read up on every partition")


async def test_request_times_are_counted_by_route_template_never_by_a_persons_path(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    case = str(uuid.uuid4())  # a case id names no one, but it stands for a path with one
    async with client(stack, "coaching", Role.COORDINATOR) as http:
        await http.get(f"/v1/cases/{case}")
    async with httpx.AsyncClient(base_url=stack.services["coaching"].metrics_url) as http:
        text = (await http.get("/metrics")).text
    counted = [
        line
        for line in text.splitlines()
        if line.startswith("durchstarten_http_request_seconds_count{") and 'method="GET"' in line
    ]
    assert any('route="/v1/cases/{case_id}"' in line for line in counted), counted
    assert case not in text
