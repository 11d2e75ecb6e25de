"""The access export (DSGVO Art. 15): everything the programme holds about one person.

For a county coordinator answering a person's request: their identifiers and dated
histories (intake's record), every event about their pseudonym on the three domain topics,
the providers that received their data, their deletion date, and who read or wrote their
record and why (intake's audit trail; coaching's and courses' trails answer from their own
services). Nothing about anyone else: another registration's pseudonym (the other side of
a flagged duplicate) is withheld, and events are chosen by the person's own pseudonym only.
"""

# No `from __future__ import annotations`: FastAPI resolves the routes' annotations, and
# the aliases they use are local to the function that adds them.
import asyncio
import io
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import JSONResponse, Response
from openpyxl import Workbook  # type: ignore[import-untyped]  # ships no type information
from pydantic import ValidationError

from durchstarten import audit
from durchstarten.auth import Principal, Role, TokenVerifier
from durchstarten.events.envelope import CloudEvent
from durchstarten.events.reasons import ReasonCode
from durchstarten.jsonable import jsonable
from durchstarten.messaging.access import READS_FOR_ACCESS_REQUESTS
from durchstarten.messaging.broker import admin_client_options
from durchstarten.messaging.commands import Actor
from durchstarten.messaging.replay import all_partitions
from durchstarten.retention import DeletionPeriods
from durchstarten.service import ServiceRuntime
from durchstarten.settings import KafkaSettings
from intake import queries, repository
from intake.identities import KeyRing

EVENT_TOPICS = READS_FOR_ACCESS_REQUESTS["intake"]
OTHER_PEOPLE = frozenset({"duplicate_of"})
"""Event fields that name another registration: withheld from the person's export."""
WITHHELD = "withheld: another registration"
READ_TIMEOUT_S = 120.0
"""The longest the export reads the topics; beyond, the request fails (503) and may be retried."""


def about(value: dict[str, Any], participant_id: uuid.UUID) -> bool:
    """Whether a domain event (its envelope as JSON) is about this participant."""
    data = value.get("data")
    return value.get("subject") == str(participant_id) or (
        isinstance(data, dict) and data.get("participant_id") == str(participant_id)
    )


def without_others(data: dict[str, Any]) -> dict[str, Any]:
    """The event's data with every other registration's pseudonym withheld."""
    return {key: WITHHELD if key in OTHER_PEOPLE else value for key, value in data.items()}


async def events_about(settings: KafkaSettings, participant_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every event about the person on the domain topics, from the earliest offset kept.

    Reads every partition (not only the one the pseudonym's key hashes to: an export must
    not depend on the producer's partitioner), up to the end offsets at the start, without
    a consumer group (nothing is committed, no one's position moves).
    """
    consumer = AIOKafkaConsumer(
        *EVENT_TOPICS,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="intake-access-export",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        **admin_client_options(settings),
    )
    found: list[dict[str, Any]] = []
    await consumer.start()
    try:
        # A broker that stops answering must not hold the request (and a consumer) forever.
        async with asyncio.timeout(READ_TIMEOUT_S):
            partitions = await all_partitions(consumer, EVENT_TOPICS)
            await consumer.seek_to_beginning(*partitions)
            ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
            remaining = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
            while remaining:
                batches = await consumer.getmany(*remaining, timeout_ms=1000)
                for tp, records in batches.items():
                    for record in records:
                        if record.offset < ends[tp]:
                            found.extend(_about(record, participant_id))
                remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return sorted(found, key=lambda e: (e["time"], e["topic"], e["offset"]))


def _about(record: Any, participant_id: uuid.UUID) -> list[dict[str, Any]]:
    """The record as an export entry if it is about the person (else nothing)."""
    try:
        value = json.loads(record.value or b"")
    except ValueError:
        return []  # not an envelope: the projection's dead-letter topic has it
    if not isinstance(value, dict) or not about(value, participant_id):
        return []
    try:
        envelope = CloudEvent.model_validate(value)
    except ValidationError:
        return []  # not a valid envelope: the projections' dead-letter topic has it
    data = envelope.data if isinstance(envelope.data, dict) else {}
    return [
        {
            "topic": record.topic,
            "offset": record.offset,
            "type": envelope.type,
            "time": envelope.time.isoformat() if envelope.time else "",
            "data": without_others(data),
        }
    ]


def recipients(links: list[dict[str, Any]], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Which providers received the person's data: registered, assigned, or named in events."""
    found: dict[str, dict[str, Any]] = {
        link["provider"]: {"provider": link["provider"], "as": link["relation"]} for link in links
    }
    for event in events:
        data = event["data"]
        target = data.get("target")
        named = [
            data.get("provider"),
            data.get("answered_by"),
            target.get("provider") if isinstance(target, dict) else None,
        ]
        for provider in named:
            if isinstance(provider, str) and provider not in found:
                found[provider] = {"provider": provider, "as": f"named in {event['type']}"}
    return sorted(found.values(), key=lambda r: r["provider"])


def assemble(
    record: dict[str, Any],
    *,
    links: list[dict[str, Any]],
    events: list[dict[str, Any]],
    audit_entries: list[dict[str, Any]],
    made_at: datetime,
    made_by: str,
) -> dict[str, Any]:
    """The export as one JSON document."""
    document: dict[str, Any] = jsonable(
        {
            "made_at": made_at,
            "made_by": made_by,
            "participant_id": record["participant_id"],
            "record": record,
            "recipients": recipients(links, events),
            "events": events,
            "audit": audit_entries,
            "not_included": (
                "Reads and writes recorded by coaching and courses are in their own audit"
                " trails (GET /v1/audit/participants/{id} of each)."
            ),
        }
    )
    return document


def as_xlsx(export: dict[str, Any]) -> bytes:
    """The export as a workbook: the record, the events, the recipients, the audit entries."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "record"
    sheet.append(["field", "value"])
    for key, value in _flatten(export["record"]):
        sheet.append([key, _text(value)])
    events = workbook.create_sheet("events")
    events.append(["time", "topic", "offset", "type", "data"])
    for event in export["events"]:
        data = json.dumps(event["data"], ensure_ascii=False, sort_keys=True)
        events.append([event["time"], event["topic"], event["offset"], event["type"], _text(data)])
    received = workbook.create_sheet("recipients")
    received.append(["provider", "as"])
    for row in export["recipients"]:
        received.append([row["provider"], row["as"]])
    audit_sheet = workbook.create_sheet("audit")
    audit_sheet.append(["at", "actor", "action", "purpose"])
    for entry in export["audit"]:
        audit_sheet.append(
            [entry["at"], _text(entry["actor"]), entry["action"], _text(entry["purpose"])]
        )
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _text(value: str) -> str:
    """A text a spreadsheet shows as text: a leading =, +, - or @ would make it a formula."""
    return f"'{value}" if value[:1] in {"=", "+", "-", "@"} else value


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested JSON as (dotted path, text) rows for a sheet."""
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in _flatten(v, f"{prefix}{k}.")]
    if isinstance(value, list):
        return [row for i, v in enumerate(value) for row in _flatten(v, f"{prefix}{i}.")]
    return [(prefix.rstrip("."), "" if value is None else str(value))]


def add_access_export_route(
    app: FastAPI,
    runtime: ServiceRuntime,
    ring: KeyRing,
    verifier: TokenVerifier,
    periods: DeletionPeriods,
) -> None:
    """`GET /v1/participants/{id}/access-export`: county coordinators only, audited."""
    CurrentPrincipal = Annotated[Principal, Depends(verifier.principal)]
    Purpose = Annotated[str, audit.purpose_header()]
    settings = runtime.settings

    @app.get("/v1/participants/{participant_id}/access-export", tags=["data subject rights"])
    async def access_export(
        participant_id: uuid.UUID,
        principal: CurrentPrincipal,
        purpose: Purpose,
        format: Literal["json", "xlsx"] = "json",  # the query parameter's name
    ) -> Response:
        """Everything held about the person, for their access request (Art. 15).

        JSON, or a workbook with `format=xlsx`. The export is itself recorded in the audit
        trail (action `identity.export`, with the purpose given).
        """
        principal.require(Role.COORDINATOR, Role.ADMIN)
        actor = Actor.from_principal(principal)
        async with runtime.pool.acquire() as connection, connection.transaction():
            record = await queries.participant_record(
                connection,
                ring,
                participant_id,
                actor=actor,
                purpose=purpose,
                periods=periods,
                action="identity.export",
            )
            if record is None:
                raise HTTPException(404, {"reason": ReasonCode.UNKNOWN_PARTICIPANT})
            links = await repository.provider_links(connection, participant_id)
            entries = await audit.entries_about(connection, participant_id)
        try:
            events = await events_about(settings, participant_id)
        except TimeoutError:
            raise HTTPException(
                503,
                {
                    "reason": "topics-unavailable",
                    "message_en": "The event topics could not be read in time; try again.",
                    "message_de": "Die Ereignisse waren nicht rechtzeitig lesbar; bitte erneut.",
                },
            ) from None
        export = assemble(
            record,
            links=links,
            events=events,
            audit_entries=entries,
            made_at=datetime.now(UTC),
            made_by=principal.subject,
        )
        if format == "xlsx":
            return Response(
                as_xlsx(export),
                media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                headers={
                    "Content-Disposition": f'attachment; filename="auskunft-{participant_id}.xlsx"'
                },
            )
        return JSONResponse(export)
