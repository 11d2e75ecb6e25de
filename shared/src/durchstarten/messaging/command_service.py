"""The command side every write service shares: execute, hold, retry, publish, reply.

A service subclasses `CommandService` and implements `decide_and_save`; everything around it
(deduplication, holding commands about participants not known yet, the outbox, the replies
on the provider's outbound topic, learning from other services' events) is the same for
every service. Where a service needs more, it overrides a hook: `repeated` (the answer to a
command seen before) or `learns` (which of the other services' events it reads at all).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

import asyncpg
from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from durchstarten.clock import Clock
from durchstarten.db.pool import connection_from
from durchstarten.domain import NotKnownYet, RuleViolation
from durchstarten.events import CloudEvent, CommandAccepted, Event, new_event, read_event
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.replies import RuleFailure
from durchstarten.events.topics import ServiceName, domain_events, outbound
from durchstarten.logging import get_logger
from durchstarten.messaging import answers
from durchstarten.messaging.batch import gathering
from durchstarten.messaging.broker import in_one_or_each, with_retries
from durchstarten.messaging.commands import InboundCommand, acceptance, parse_command, rejection
from durchstarten.messaging.errors import PermanentError
from durchstarten.messaging.holding import Held, HeldCommandRetrier, hold
from durchstarten.messaging.inbox import first_time, first_times
from durchstarten.messaging.lag import group_lag
from durchstarten.messaging.outbox import enqueue
from durchstarten.messaging.records import KafkaRecord
from durchstarten.service import ServiceRuntime
from durchstarten.tracing import batch_work, consuming

log = get_logger(__name__)

UNKNOWN_AFTER_HOLD = {
    "participant": ReasonCode.UNKNOWN_PARTICIPANT,
    "case": ReasonCode.UNKNOWN_CASE,
    "referral": ReasonCode.UNKNOWN_REFERRAL,
}
"""The rejection of a held command whose `NotKnownYet("<what>:<id>")` never became known."""

Expiry = Literal["not-yet", "once-read-up", "now"]


def expiry(held: Held, *, now: datetime, at_most: timedelta) -> Expiry:
    """When a held command that still waits is rejected.

    Not yet; once the service has read everything published (its wait is over); or now (the
    deletion plan's limit for held commands is reached, read up or not).
    """
    if now >= held.held_at + at_most:
        return "now"
    return "not-yet" if now < held.hold_until else "once-read-up"


CAUGHT_UP_CACHE_S = 1.0
"""How long one answer to "has the service read everything?" serves a pass of the retrier."""


@dataclass(frozen=True)
class Decision:
    """What a service decided for a command it carries out: its events and its reply.

    `participant` defaults to the first event's participant; `status` and `failed_rules` are
    the acceptance's details where a command has them (registration).
    """

    events: Sequence[Event] = ()
    participant: uuid.UUID | None = None
    status: str | None = None
    failed_rules: tuple[RuleFailure, ...] = field(default=())

    @classmethod
    def of(cls, result: Sequence[Event] | Decision) -> Decision:
        """A service's result as a Decision: a plain list of events gets the defaults."""
        if isinstance(result, Decision):
            return result
        first = getattr(result[0], "participant_id", None) if result else None
        return cls(events=result, participant=first)


@dataclass(frozen=True)
class Outcome:
    """What became of a command: accepted, rejected, held or duplicate (seen before)."""

    status: str
    violation: RuleViolation | None = None
    decision: Decision | None = None


class CommandService:
    """Base of a write service's command handling; subclasses decide and save."""

    service: ClassVar[ServiceName]
    accepted: ClassVar[frozenset[str]]
    learns: ClassVar[frozenset[str] | None] = None
    """Event types of other services this one keeps; None: every type (parsed in full)."""

    def __init__(
        self, runtime: ServiceRuntime, *, clock: Clock, hold_for: timedelta = timedelta(0)
    ) -> None:
        """Bind to the runtime; `hold_for` is how long an unknown reference may wait.

        A service whose rules never raise NotKnownYet keeps the default and does not start
        the retrier.
        """
        self.runtime = runtime
        self.clock = clock
        self._hold_for = hold_for
        at_most = runtime.settings.deletion_plan_rules().stores.held_commands.seconds
        self._hold_at_most = timedelta(seconds=at_most) if at_most else hold_for
        self._learner: tuple[Callable[[], AIOKafkaConsumer | None], tuple[str, ...]] | None = None
        self._caught_up: tuple[float, bool] = (float("-inf"), False)
        self.providers = frozenset(runtime.settings.providers)
        self.inbox = f"{self.service}.commands"
        self.retrier = HeldCommandRetrier(lambda: runtime.pool, self.inbox, self._retry_held)

    @property
    def holds(self) -> bool:
        """Whether commands about something not known yet wait (and need the retrier)."""
        return self._hold_for > timedelta(0)

    def learns_through(
        self, consumer: Callable[[], AIOKafkaConsumer | None], topics: Sequence[str]
    ) -> None:
        """Name the consumer (its group) that reads what held commands wait for.

        A held command is rejected only once that group has read everything published on
        `topics` (lag 0 by its committed offsets): after an outage, the registration it
        waits for is most likely still unread, not missing.
        """
        self._learner = (consumer, tuple(topics))

    async def has_read_everything(self) -> bool:
        """Whether the learning group has no lag on any partition (cached for a moment).

        Without a learner there is nothing to wait for; when Kafka cannot say, the answer
        is no, so a held command waits rather than being rejected by mistake.
        """
        loop = asyncio.get_running_loop()
        asked_at, answer = self._caught_up
        if loop.time() - asked_at < CAUGHT_UP_CACHE_S:
            return answer
        answer = await self._ask_whether_caught_up()
        self._caught_up = (loop.time(), answer)
        return answer

    async def _ask_whether_caught_up(self) -> bool:
        if self._learner is None:
            return True
        consumer_of, topics = self._learner
        consumer = consumer_of()
        if consumer is None:
            return False  # not started yet, or stopping
        try:
            lag = await group_lag(consumer, topics)
        except Exception as error:  # Kafka away or not described yet: keep waiting
            log.warning("lag unknown; held commands keep waiting", error_class=type(error).__name__)
            return False
        return not any(lag.values())

    async def decide_and_save(
        self, connection: asyncpg.Connection, inbound: InboundCommand
    ) -> Sequence[Event] | Decision:
        """Apply the service's rules and store the result; raise RuleViolation or NotKnownYet."""
        raise NotImplementedError

    async def repeated(
        self, connection: asyncpg.Connection, inbound: InboundCommand
    ) -> Decision | None:
        """What to answer a command carried out before (None: only that it is a repeat)."""
        del connection, inbound
        return None

    async def read_ahead(
        self, connection: asyncpg.Connection, commands: Sequence[InboundCommand]
    ) -> None:
        """Load the state a batch's new commands will read, a few statements for all of them.

        Kept in the batch's `PendingWrites.known`, where the service's repository looks
        first; by default nothing is read ahead (every read goes to the database).
        """

    async def execute_record(self, inbound: InboundCommand, record: KafkaRecord) -> str:
        """Carry out a command from an inbound topic (the InboundEdge executor)."""
        source = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        return (await self.execute(inbound, source=source)).status

    async def execute(
        self, inbound: InboundCommand, *, source: dict[str, Any] | None = None
    ) -> Outcome:
        """Carry out one command in one transaction: held, accepted, rejected or a repeat.

        What an accepted command stored (a case, access granted by a referral's answer) may
        be what a held command waits for: the retrier is woken once it is committed.
        """
        outcome = await self._execute(inbound, source=source)
        if outcome.status == "accepted":
            self.retrier.wake()
        return outcome

    async def _execute(self, inbound: InboundCommand, *, source: dict[str, Any] | None) -> Outcome:
        """The one transaction of `execute`: seen before, carried out, rejected or held."""
        async with connection_from(self.runtime.pool) as connection, connection.transaction():
            if not await first_time(connection, self.inbox, inbound.dedupe_key):
                return await self._again(connection, inbound)
            await answers.record(connection, self.inbox, inbound.dedupe_key, inbound.envelope)
            return await self._carry_out(connection, inbound, source=source)

    async def execute_batch(
        self, commands: Sequence[tuple[InboundCommand, KafkaRecord]]
    ) -> list[Outcome]:
        """Carry out a batch of commands in one transaction, in order; one outcome each.

        Each command is decided on its own, exactly as `execute` would one after the other
        (a later command sees what an earlier one stored: the last place of a course, a
        registration and its duplicate), and one command's rejection or hold never touches
        another's. What is set-based is the bookkeeping around them: the inbox and the
        answers are recorded for the whole batch at once, the outbox rows and kept answers
        are written with one statement each, and the batch commits once, so one WAL flush
        serves every command in it.

        Any error other than a rule's rejection or a hold aborts the whole transaction; the
        caller then carries the batch out one command at a time (`execute_record`), which
        isolates the command that fails.
        """
        tracer = self.runtime.tracing.tracer()
        outcomes: list[Outcome] = []
        # The statements run once for the batch (inbox, reading ahead, the flush, the
        # commit) are in the batch's span; each command's own in its record's.
        with batch_work(tracer, [record for _, record in commands], "carry out batch"):
            async with connection_from(self.runtime.pool) as connection, connection.transaction():
                with gathering(connection) as pending:
                    keys = list(dict.fromkeys(inbound.dedupe_key for inbound, _ in commands))
                    new = await first_times(connection, self.inbox, keys)
                    firsts: dict[str, int] = {}  # each new id's first place in the batch
                    for place, (inbound, _) in enumerate(commands):
                        if inbound.dedupe_key in new:
                            firsts.setdefault(inbound.dedupe_key, place)
                    await answers.record_many(
                        connection,
                        self.inbox,
                        [(key, commands[place][0].envelope) for key, place in firsts.items()],
                    )
                    await self.read_ahead(
                        connection, [commands[place][0] for place in firsts.values()]
                    )
                    for place, (inbound, record) in enumerate(commands):
                        with consuming(tracer, record, "process"):
                            if firsts.get(inbound.dedupe_key) == place:
                                source = {
                                    "topic": record.topic,
                                    "partition": record.partition,
                                    "offset": record.offset,
                                }
                                outcomes.append(
                                    await self._carry_out(connection, inbound, source=source)
                                )
                            else:
                                # Seen before, perhaps earlier in this batch: its answer must be
                                # in the table before it is read.
                                await pending.flush()
                                outcomes.append(await self._again(connection, inbound))
                    await pending.flush()
        if any(outcome.status == "accepted" for outcome in outcomes):
            self.retrier.wake()
        return outcomes

    async def _carry_out(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        *,
        source: dict[str, Any] | None,
    ) -> Outcome:
        """Decide and save a command seen for the first time, or hold it until it can be."""
        try:
            return await self._apply(connection, inbound)
        except NotKnownYet as missing:
            await hold(
                connection,
                consumer=self.inbox,
                provider=inbound.provider,
                dedupe_key=inbound.dedupe_key,
                actor={"provider": inbound.provider},
                envelope=inbound.envelope.model_dump(mode="json", exclude_none=True),
                source=source,
                waiting_for=missing.waiting_for,
                hold_until=self.clock.now() + self._hold_for,
            )
            log.info("command held", waiting_for=missing.waiting_for)
            return Outcome("held")

    async def _again(self, connection: asyncpg.Connection, inbound: InboundCommand) -> Outcome:
        """A command with an id seen before: the first one's answer again, or a refusal.

        The same command sent again gets the reply the first got, marked as a repeat (a
        held one gets its reply when it is decided). The same id with other data is refused:
        the first command stands, and the provider must not believe the second carried out.
        """
        first = await answers.earlier(connection, self.inbox, inbound.dedupe_key, inbound.envelope)
        if first is not None and not first.same:
            violation = RuleViolation(
                ReasonCode.ID_REUSED,
                None,
                "A command with this id and other data was received before; "
                "send a new command with a new id.",
                "Ein Befehl mit dieser Kennung und anderen Daten ging bereits ein; "
                "senden Sie einen neuen Befehl mit neuer Kennung.",
            )
            log.info("command id reused with other data", command_id=inbound.envelope.id)
            await self.reply(connection, inbound, violation=violation, keep=False)
            return Outcome("rejected", violation)
        if first is not None and first.reply is not None and inbound.provider in self.providers:
            repeat = answers.repeat_of(first.reply)
            await enqueue(
                connection, outbound(inbound.provider, self.service), repeat, key=repeat.subject
            )
        log.info("command sent again; answered as before", command_id=inbound.envelope.id)
        return Outcome("duplicate", decision=await self.repeated(connection, inbound))

    async def _apply(self, connection: asyncpg.Connection, inbound: InboundCommand) -> Outcome:
        """Decide and save; a rule violation becomes the provider's rejection."""
        try:
            decision = Decision.of(await self.decide_and_save(connection, inbound))
        except RuleViolation as violation:
            await self.reply(connection, inbound, violation=violation)
            return Outcome("rejected", violation)
        for event in decision.events:
            await self.publish(connection, event, inbound)
        await self.reply(connection, inbound, decision=decision)
        return Outcome("accepted", decision=decision)

    async def _retry_held(self, connection: asyncpg.Connection, held: Held) -> bool:
        """Try a held command again; reject it for good once its hold has expired.

        It expires when its wait is over and the service has read everything published so
        far (what it waits for is then not coming), or at the latest when the deletion
        plan's period for held commands ends.
        """
        try:
            envelope = CloudEvent.model_validate(held.envelope)
            inbound = parse_command(
                envelope.to_json(), provider=held.provider, accepted=self.accepted
            )
        except (ValidationError, PermanentError):
            # It parsed when it was held; only a contract change in between gets here.
            log.error("held command no longer parses; dropped", held_id=held.id)
            return True
        try:
            await self._apply(connection, inbound)
        except NotKnownYet as missing:
            due = expiry(held, now=self.clock.now(), at_most=self._hold_at_most)
            if due == "not-yet" or (due == "once-read-up" and not await self.has_read_everything()):
                return False
            what = missing.waiting_for.split(":", 1)[0]
            violation = RuleViolation(
                UNKNOWN_AFTER_HOLD.get(what, ReasonCode.UNKNOWN_PARTICIPANT),
                f"{what}_id",
                f"No {what} with this id became known in time.",
                "Die Kennung wurde nicht rechtzeitig bekannt.",
            )
            await self.reply(connection, inbound, violation=violation, source=held.source)
        return True

    async def learn_from(self, record: KafkaRecord) -> None:
        """Take in another service's event (idempotent by event id), then retry held commands.

        An event that cannot be read is parked on the dead-letter topic; its partition moves on.
        Types outside `learns` are passed over unparsed.
        """
        read = await self._read_learnt(record)
        if read is None:
            return

        async def work() -> None:
            async with connection_from(self.runtime.pool) as connection, connection.transaction():
                if not await first_time(connection, f"{self.service}.learnt-events", read[0]):
                    return
                await self.learn(connection, read[1])

        await with_retries(work, what=f"event {record.topic}@{record.offset}")
        self.retrier.wake()

    async def learn_batch(self, records: Sequence[KafkaRecord]) -> None:
        """Take in a batch of other services' events in one transaction, in order.

        The event ids of the whole batch are recorded in one statement and the batch commits
        once. An error that is not transient aborts it; the batch is then taken in one event
        at a time (`learn_from`), as it was before batches.
        """
        events: list[tuple[KafkaRecord, str, Event | None]] = []
        for record in records:
            read = await self._read_learnt(record)
            if read is not None:
                events.append((record, *read))
        if not events:
            return

        async def work() -> None:
            tracer = self.runtime.tracing.tracer()
            async with connection_from(self.runtime.pool) as connection, connection.transaction():
                with gathering(connection) as pending:
                    ids = list(dict.fromkeys(event_id for _, event_id, _ in events))
                    new = await first_times(connection, f"{self.service}.learnt-events", ids)
                    for record, event_id, event in events:
                        if event_id not in new:
                            continue
                        new.discard(event_id)  # the same event twice in one batch: once
                        with consuming(tracer, record, "process"):
                            await self.learn(connection, event)
                    await pending.flush()

        async def one_at_a_time() -> None:
            for record, _, _ in events:
                await self.learn_from(record)

        first = events[0][0]
        await in_one_or_each(work, one_at_a_time, what=f"events from {first.topic}@{first.offset}")
        self.retrier.wake()

    async def _read_learnt(self, record: KafkaRecord) -> tuple[str, Event | None] | None:
        """An event to learn from as (id, event); None for a type not kept or one parked."""
        try:
            envelope = CloudEvent.from_json(record.value or b"")
            if self.learns is not None and envelope.type not in self.learns:
                return None
            event = read_event(envelope)
        except ValidationError:
            await self.runtime.dead_letters.park(
                record, error_class="invalid-event", error_message="not a valid event"
            )
            return None
        return envelope.id, event

    async def learn(self, connection: asyncpg.Connection, event: Event | None) -> None:
        """Keep what the service needs of another service's event (None: an unknown type)."""

    async def publish(
        self, connection: asyncpg.Connection, event: Event, inbound: InboundCommand
    ) -> None:
        """Announce a domain event a command caused (keyed by participant, else its first id)."""
        await self.announce(
            connection,
            event,
            correlationid=inbound.envelope.correlationid or inbound.envelope.id,
            causationid=inbound.envelope.id,
        )

    async def announce(
        self,
        connection: asyncpg.Connection,
        event: Event,
        *,
        correlationid: str,
        causationid: str | None = None,
    ) -> None:
        """Announce a domain event, also one no command caused (a schedule's, say)."""
        subject = getattr(event, "participant_id", None)
        fallback = getattr(event, "course_id", None) or getattr(event, "case_id", None)
        envelope = new_event(
            source=f"/services/{self.service}",
            type_=event.event_type,
            data=event,
            subject=str(subject) if subject else None,
            correlationid=correlationid,
            causationid=causationid,
        )
        key = str(subject or fallback) if (subject or fallback) else None
        await enqueue(connection, domain_events(self.service), envelope, key=key)

    async def reply(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        *,
        decision: Decision | None = None,
        violation: RuleViolation | None = None,
        source: dict[str, Any] | None = None,
        keep: bool = True,
    ) -> None:
        """Answer on the provider's outbound topic: accepted, or rejected with the reason.

        The answer is kept (unless `keep` is false) so a command sent again gets it again.
        County staff's commands (HTTP) have no outbound topic: the HTTP response answers.
        """
        if inbound.provider not in self.providers:
            return
        key: str | None = None
        if violation is None:
            decided = decision or Decision()
            key = str(decided.participant) if decided.participant else None
            reply = acceptance(
                service=self.service,
                inbound=inbound,
                reply=CommandAccepted(
                    command_id=inbound.envelope.id,
                    command_type=inbound.envelope.type,
                    participant_id=decided.participant,
                    status=decided.status,
                    failed_rules=list(decided.failed_rules),
                ),
            )
        else:
            error = PermanentError(
                violation.reason,
                field=f"data.{violation.field}" if violation.field else None,
                message_en=violation.message_en,
                message_de=violation.message_de,
            )
            reply = rejection(
                service=self.service,
                error=error,
                command_id=inbound.envelope.id,
                command_type=inbound.envelope.type,
                source=(source["topic"], source["partition"], source["offset"]) if source else None,
                failed_rules=violation.failed_rules,
            )
        await enqueue(connection, outbound(inbound.provider, self.service), reply, key=key)
        if keep:
            participant = decision.participant if decision is not None else None
            await answers.answered(connection, self.inbox, inbound.dedupe_key, reply, participant)
