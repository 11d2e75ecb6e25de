"""Our write path beside a peer built on `eventsourcing`: the same commands, the same server.

The commands are coaching's: open a case for a registered participant, then record sessions
in it (`open-case.v1`, `record-session.v1`), each as the provider's system writes it
(CloudEvents JSON) and parsed at the edge by the same code on both sides.

- Ours: coaching's command side (`CoachingHandlers`), in this process against a database of
  its own, one command per transaction (`execute`, what HTTP commands take) and one batch
  per transaction (`execute_batch`, what the Kafka consumer takes). Per command it checks
  the inbox, reads and writes the case, and writes the event's and the reply's outbox rows
  and the kept answer; the relay is not running, so nothing is published.
- The peer: an `eventsourcing` application (John Bywater's library, its PostgreSQL store)
  with a participant and a case aggregate. Per command it reads the aggregate it needs
  (the participant, or the case), checks the same ownership, and saves the new event; one
  `save` per command, and, as its batched variant, one `save` of every aggregate a batch
  touched. It keeps no inbox, no replies and no outbox: less work than ours per command.

Both commit to the same PostgreSQL server with the same durability (`synchronous_commit`
and `fsync` as the server has them, reported with the figures).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from pydantic import SecretStr

from coaching.app import MIGRATIONS
from coaching.handlers import SERVICE, CoachingHandlers
from coaching.settings import CoachingSettings
from durchstarten.clock import Clock
from durchstarten.db.pool import create_pool
from durchstarten.events import new_event
from durchstarten.events.coaching import OpenCase, RecordSession
from durchstarten.events.intake import ParticipantRegistered
from durchstarten.events.topics import INTAKE_EVENTS, inbound
from durchstarten.messaging.commands import InboundCommand, parse_command
from durchstarten.service import ServiceRuntime
from durchstarten_bench.measure import rate
from durchstarten_deploy.postgres import create_databases, with_database
from durchstarten_deploy.testing import ConsumedRecord
from durchstarten_simulator.wire import envelope

PROVIDER = "diakonie-herford"
SITE = "herford"
TODAY = date(2024, 1, 15)
ENTRY = date(2022, 3, 1)


@dataclass(frozen=True)
class Workload:
    """Cases, sessions per case, and the batch size of the batched runs."""

    cases: int
    sessions_per_case: int
    batch_size: int

    @property
    def commands(self) -> int:
        """Commands per run: each case's opening and its sessions."""
        return self.cases * (1 + self.sessions_per_case)


def _commands(participants: Sequence[uuid.UUID], sessions: int) -> Iterator[bytes]:
    """Each participant's case opened, then its sessions, as the provider writes them."""
    for participant in participants:
        case = uuid.uuid4()
        yield _wire(
            OpenCase.command_type,
            {
                "case_id": str(case),
                "participant_id": str(participant),
                "module": "F1",
                "site": SITE,
                "opened_on": "2022-03-02",
            },
        )
        for n in range(sessions):
            yield _wire(
                RecordSession.command_type,
                {
                    "session_id": str(uuid.uuid4()),
                    "case_id": str(case),
                    "date": (date(2022, 3, 9) + timedelta(days=7 * n)).isoformat(),
                    "minutes": 60,
                    "languages": ["de", "ar"],
                    "topics": ["training-search"],
                    "coach_id": "dia-coach-07",
                },
            )


def _wire(type_: str, data: dict[str, Any]) -> bytes:
    return json.dumps(envelope(PROVIDER, type_, data)).encode()


def _parse(raw: bytes) -> InboundCommand:
    return parse_command(raw, provider=PROVIDER, accepted=CoachingHandlers.accepted)


# --- ours ------------------------------------------------------------------------------------


async def _our_handlers(url: str) -> tuple[CoachingHandlers, asyncpg.Pool]:
    settings = CoachingSettings(
        database_url=SecretStr(url), providers=[PROVIDER], sites={PROVIDER: [SITE]}
    )
    runtime = ServiceRuntime(
        service=SERVICE, settings=settings, migrations=MIGRATIONS, with_outbox_relay=True
    )
    pool = await create_pool(url, min_size=1, max_size=4)
    await runtime.attach_database(pool)
    handlers = CoachingHandlers(
        runtime, clock=Clock(TODAY), sites={PROVIDER: [SITE]}, hold_for=timedelta(minutes=5)
    )
    return handlers, pool


async def _learn(handlers: CoachingHandlers, count: int) -> list[uuid.UUID]:
    """`count` participants intake registered, as coaching learns of them (not timed)."""
    participants = [uuid.uuid4() for _ in range(count)]
    records = []
    for offset, participant in enumerate(participants):
        registered = ParticipantRegistered.model_validate(
            ParticipantRegistered.example
            | {
                "participant_id": str(participant),
                "provider": PROVIDER,
                "entry_date": ENTRY.isoformat(),
            }
        )
        wrapped = new_event(
            source="/services/intake",
            type_=registered.event_type,
            data=registered,
            subject=str(participant),
        )
        records.append(ConsumedRecord(INTAKE_EVENTS, wrapped.to_json(), offset=offset))
    for start in range(0, len(records), 500):
        await handlers.learn_batch(records[start : start + 500])
    return participants


async def measure_ours(url: str, workload: Workload) -> dict[str, Any]:
    """Our write path, one command per transaction and one batch per transaction."""
    handlers, pool = await _our_handlers(url)
    try:
        figures = {}
        participants = await _learn(handlers, 2 * workload.cases)
        one_by_one = list(_commands(participants[: workload.cases], workload.sessions_per_case))
        started = time.perf_counter()
        statuses = [(await handlers.execute(_parse(raw))).status for raw in one_by_one]
        figures["one_by_one"] = _figures(statuses, time.perf_counter() - started)

        batched = list(_commands(participants[workload.cases :], workload.sessions_per_case))
        topic = inbound(PROVIDER, SERVICE)
        started = time.perf_counter()
        statuses = []
        for first in range(0, len(batched), workload.batch_size):
            batch = [
                (_parse(raw), ConsumedRecord(topic, raw, offset=first + n))
                for n, raw in enumerate(batched[first : first + workload.batch_size])
            ]
            statuses += [outcome.status for outcome in await handlers.execute_batch(batch)]
        figures["batched"] = _figures(statuses, time.perf_counter() - started)
        return figures
    finally:
        await pool.close()


def _figures(statuses: list[str], seconds: float) -> dict[str, Any]:
    accepted = statuses.count("accepted")
    if accepted != len(statuses):
        msg = f"write path: {len(statuses) - accepted} of {len(statuses)} commands not accepted"
        raise RuntimeError(msg)
    return {
        "commands": len(statuses),
        "seconds": round(seconds, 3),
        "commands_per_s": rate(len(statuses), seconds),
    }


# --- the peer --------------------------------------------------------------------------------


class Refused(Exception):
    """The peer refuses a command (unknown participant, another provider's case)."""


class Participant(Aggregate):
    """A participant coaching knows of, and the provider it is assigned to."""

    @staticmethod
    def create_id(participant_id: uuid.UUID, provider: str) -> uuid.UUID:
        """The participant's own pseudonym is the aggregate's id."""
        del provider
        return participant_id

    @event("Registered")
    def __init__(self, participant_id: uuid.UUID, provider: str) -> None:
        """Learnt from intake's registration."""
        self.provider = provider


class Case(Aggregate):
    """A coaching case and the sessions recorded in it."""

    @staticmethod
    def create_id(case_id: uuid.UUID, **_: Any) -> uuid.UUID:
        """The provider's case id is the aggregate's id."""
        return case_id

    @event("Opened")
    def __init__(
        self, case_id: uuid.UUID, participant_id: uuid.UUID, provider: str, site: str
    ) -> None:
        """Opened by the participant's provider at one of its sites."""
        self.participant_id = participant_id
        self.provider = provider
        self.site = site
        self.sessions: list[uuid.UUID] = []

    @event("SessionRecorded")
    def record_session(self, session_id: uuid.UUID, on: str, minutes: int) -> None:
        """One session of the case."""
        self.sessions.append(session_id)


class CoachingPeer(Application[uuid.UUID]):
    """The peer's application: the same two commands under the same ownership rules."""

    def learn(self, participant_ids: Sequence[uuid.UUID]) -> None:
        """Participants intake registered (not timed)."""
        self.save(*(Participant(participant_id=p, provider=PROVIDER) for p in participant_ids))

    def handle(self, command: InboundCommand, pending: dict[uuid.UUID, Aggregate]) -> Aggregate:
        """Decide one parsed command; the aggregate to save (`pending`: unsaved ones)."""
        match command.command:
            case OpenCase() as opening:
                participant = self._get(opening.participant_id, pending)
                if not isinstance(participant, Participant) or participant.provider != (
                    command.provider
                ):
                    raise Refused
                if opening.case_id in pending:
                    raise Refused
                return Case(
                    case_id=opening.case_id,
                    participant_id=opening.participant_id,
                    provider=command.provider,
                    site=opening.site,
                )
            case RecordSession() as session:
                case = self._get(session.case_id, pending)
                if not isinstance(case, Case) or case.provider != command.provider:
                    raise Refused
                case.record_session(
                    session_id=session.session_id,
                    on=session.date.isoformat(),
                    minutes=session.minutes,
                )
                return case
        raise Refused

    def _get(self, aggregate_id: uuid.UUID, pending: dict[uuid.UUID, Aggregate]) -> Aggregate:
        found = pending.get(aggregate_id)
        return found if found is not None else self.repository.get(aggregate_id)

    def one(self, raw: bytes) -> None:
        """One command, one transaction: the library's usual use."""
        self.save(self.handle(_parse(raw), {}))

    def batch(self, raws: Sequence[bytes]) -> None:
        """A batch of commands, every aggregate they touched saved in one transaction."""
        pending: dict[uuid.UUID, Aggregate] = {}
        for raw in raws:
            aggregate = self.handle(_parse(raw), pending)
            pending[aggregate.id] = aggregate
        self.save(*pending.values())


def _peer_environment(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/"),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or ""),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "CREATE_TABLE": "y",
    }


def measure_peer(url: str, workload: Workload) -> dict[str, Any]:
    """The peer, one command per `save` and one `save` per batch (blocking: a thread's)."""
    peer = CoachingPeer(env=_peer_environment(url))
    try:
        participants = [uuid.uuid4() for _ in range(2 * workload.cases)]
        for first in range(0, len(participants), 500):
            peer.learn(participants[first : first + 500])
        figures = {}
        one_by_one = list(_commands(participants[: workload.cases], workload.sessions_per_case))
        started = time.perf_counter()
        for raw in one_by_one:
            peer.one(raw)
        figures["one_by_one"] = _figures(
            ["accepted"] * len(one_by_one), time.perf_counter() - started
        )
        batched = list(_commands(participants[workload.cases :], workload.sessions_per_case))
        started = time.perf_counter()
        for first in range(0, len(batched), workload.batch_size):
            peer.batch(batched[first : first + workload.batch_size])
        figures["batched"] = _figures(["accepted"] * len(batched), time.perf_counter() - started)
        return figures
    finally:
        peer.close()


async def measure(admin_url: str, prefix: str, workload: Workload) -> dict[str, Any]:
    """Both write paths on fresh databases of the same server; their figures and ratios."""
    names = {side: f"{prefix}_writepath_{side}" for side in ("ours", "peer")}
    await create_databases(admin_url, list(names.values()))
    ours_url = with_database(admin_url, names["ours"])
    peer_url = with_database(admin_url, names["peer"])
    ours = await measure_ours(ours_url, workload)
    peer = await asyncio.to_thread(measure_peer, peer_url, workload)
    connection = await asyncpg.connect(admin_url)
    try:
        durability = {
            name: str(await connection.fetchval(f"SHOW {name}"))
            for name in ("synchronous_commit", "fsync")
        }
        for name in names.values():
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
    return {
        "commands": "open-case.v1, then record-session.v1 per session",
        "cases": workload.cases,
        "sessions_per_case": workload.sessions_per_case,
        "batch_size": workload.batch_size,
        "ours": ours,
        "peer": peer,
        "peer_library": "eventsourcing (PostgreSQL store)",
        "durability": durability,
        "ratio_ours_to_peer": {
            mode: round(ours[mode]["commands_per_s"] / peer[mode]["commands_per_s"], 2)
            for mode in ("one_by_one", "batched")
        },
        "ratio_ours_batched_to_peer_one_by_one": round(
            ours["batched"]["commands_per_s"] / peer["one_by_one"]["commands_per_s"], 2
        ),
    }
