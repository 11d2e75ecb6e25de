"""A small demo, sent the way a provider's own system would.

CloudEvents JSON is written with a plain aiokafka producer to `inbound.<provider>.intake`,
and the replies are read from the outbound topic.

The figures of the real Kreis Herford history come with the provider simulator; this demo
only shows the path from a provider's command to a number in the report.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from durchstarten.events.topics import inbound, outbound

GIVEN = ["Amina", "Yusuf", "Hevin", "Omar", "Fatima", "Dawit", "Samira", "Ali", "Mariam", "Jamal"]
FAMILY = ["Haddad", "Mohammadi", "Tesfaye", "Ahmadi", "Kaya", "Rahimi", "Osman", "Nuri"]
COUNTRIES = ["SYR", "AFG", "IRQ", "ERI", "GIN", "SOM", "IRN"]
MUNICIPALITIES = ["herford", "buende", "loehne", "enger", "vlotho", "hiddenhausen"]
STATUSES = ["duldung", "gestattung", "ausbildungsduldung"]


def registration(provider: str, number: int, rng: random.Random) -> dict[str, Any]:
    """One `register-participant.v1` command as a CloudEvent (structured JSON)."""
    entry = date(2020, 1, 6) + timedelta(days=rng.randrange(900))
    birth = entry - timedelta(days=365 * rng.randint(18, 26) + rng.randrange(300))
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": f"/providers/{provider}",
        "type": "register-participant.v1",
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": {
            "provider_reference": f"{provider[:3].upper()}-{number:04d}",
            "given_name": rng.choice(GIVEN),
            "family_name": rng.choice(FAMILY),
            "birth_date": birth.isoformat(),
            "sex": rng.choice(["female", "male"]),
            "country_of_origin": rng.choice(COUNTRIES),
            "residence_status": rng.choice(STATUSES),
            "municipality": rng.choice(MUNICIPALITIES),
            "school_education": rng.choice(["none", "primary", "lower-secondary"]),
            "german_level": rng.choice(["none", "A1", "A2"]),
            "entry_date": entry.isoformat(),
        },
    }


async def publish_demo(
    bootstrap: str, providers: list[str], *, per_provider: int = 4, seed: int = 2019
) -> dict[str, int]:
    """Publish registrations for each provider and wait for their replies; return counts."""
    rng = random.Random(seed)  # noqa: S311  # demo data, not security
    commands = [
        (provider, registration(provider, n, rng))
        for provider in providers
        for n in range(1, per_provider + 1)
    ]
    replies = AIOKafkaConsumer(
        *[outbound(provider, "intake") for provider in providers],
        bootstrap_servers=bootstrap,
        group_id=f"demo-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await replies.start()
    try:
        await _wait_assigned(replies)
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            for provider, command in commands:
                await producer.send(
                    inbound(provider, "intake"),
                    json.dumps(command).encode(),
                    key=command["data"]["provider_reference"].encode(),
                    headers=[("content-type", b"application/cloudevents+json")],
                )
            await producer.flush()
        finally:
            await producer.stop()
        wanted = {command["id"] for _, command in commands}
        outcome = {"accepted": 0, "rejected": 0, "new_participants": 0}
        counted: set[str] = set()
        async with asyncio.timeout(60):
            while wanted:
                batch = await replies.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        reply = json.loads(record.value)
                        data = reply["data"]
                        if data.get("command_id") not in wanted:
                            continue
                        wanted.discard(data["command_id"])
                        if not reply["type"].endswith("accepted.v1"):
                            outcome["rejected"] += 1
                            continue
                        outcome["accepted"] += 1
                        # Pending exceptions and people registered already add no one.
                        if data.get("status") in {"registered", "possible-duplicate"}:
                            counted.add(data["participant_id"])
        outcome["new_participants"] = len(counted)
        return outcome
    finally:
        await replies.stop()


async def _wait_assigned(consumer: AIOKafkaConsumer) -> None:
    """With auto_offset_reset=latest, replies count only once partitions are assigned."""
    async with asyncio.timeout(30):
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        for tp in consumer.assignment():
            await consumer.position(tp)
