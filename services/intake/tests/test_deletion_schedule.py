"""The deletion schedule against the real PostgreSQL: identifiers go when the plan says.

The handlers' clock is moved forward as the years pass; the schedule runs as it does in the
service (its background task, on a short timer) and erases by itself what is past its
deletion date, leaving a legal hold's person alone until the hold is released.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta

import asyncpg
import pytest

from durchstarten.clock import Clock
from durchstarten.events.reasons import ReasonCode
from durchstarten.retention import CalendarPeriod, DeletionPeriods, calendar_period, load_plan
from durchstarten_deploy.testing import (
    TEST_PROVIDERS,
    assert_rejected,
    fetch_rows,
    outbox_messages,
    registered,
    send_as_coordinator,
    send_command,
)
from intake import repository
from intake.deletion import deletion_schedule
from intake.handlers import SCHEDULE_ACTOR, IntakeHandlers
from intake.keystore import KeyStore

pytestmark = [pytest.mark.integration, pytest.mark.database]

ALPHA, _ = TEST_PROVIDERS
PERIODS = load_plan().stores.vault.deletion_periods()


def by_date(period: CalendarPeriod | None) -> CalendarPeriod:
    """A period the shipped plan sets (it deletes identifiers by date, in both cases)."""
    assert period is not None
    return period


AFTER_EXIT, WITHOUT_EXIT = by_date(PERIODS.after_exit), by_date(PERIODS.without_exit)
ENTRY = date(2022, 3, 1)  # RegisterParticipant.example's entry date
EXIT = date(2022, 5, 31)


def test_the_deletion_date_counts_calendar_years_from_the_exit_or_else_the_entry() -> None:
    periods = DeletionPeriods(calendar_period("3y"), calendar_period("6y"))
    assert periods.deletion_date(entry_date=ENTRY, exit_date=EXIT) == date(2025, 5, 31)
    assert periods.deletion_date(entry_date=ENTRY, exit_date=None) == date(2028, 3, 1)
    # A leap day in between changes nothing; from 29 February a year ends on 28 February.
    assert periods.deletion_date(entry_date=ENTRY, exit_date=date(2023, 3, 1)) == date(2026, 3, 1)
    leap = DeletionPeriods(calendar_period("1y"), None)
    assert leap.deletion_date(entry_date=ENTRY, exit_date=date(2024, 2, 29)) == date(2025, 2, 28)
    # "forever" in one case keeps identifiers in that case only.
    assert leap.deletion_date(entry_date=ENTRY, exit_date=None) is None
    assert DeletionPeriods(None, None).any is False
    with pytest.raises(ValueError, match="deletion period"):
        calendar_period("5h")  # a deletion date is a day


async def test_the_schedules_sql_counts_the_days_as_the_record_shows_them(
    fresh_pool: asyncpg.Pool,
) -> None:
    async with fresh_pool.acquire() as connection:
        for start, text in (("2024-02-29", "1 years"), ("2023-03-01", "3 years")):
            in_sql = await connection.fetchval(
                "SELECT ($1::date + $2::text::interval)::date", date.fromisoformat(start), text
            )
            count = int(text.split()[0])
            assert in_sql == CalendarPeriod(count, "y").after(date.fromisoformat(start))


async def exited(handlers: IntakeHandlers) -> uuid.UUID:
    pid = await registered(handlers, ALPHA)
    exit_ = {"participant_id": pid, "exit_date": EXIT.isoformat(), "reason": "placed"}
    _, outcome = await send_command(handlers, "record-programme-exit.v1", ALPHA, exit_)
    assert outcome.status == "accepted", outcome
    return uuid.UUID(pid)


async def statuses(pool: asyncpg.Pool, people: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = await fetch_rows(
        pool,
        "SELECT participant_id, status FROM participants WHERE participant_id = ANY($1)",
        people,
    )
    return {r["participant_id"]: r["status"] for r in rows}


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait for the background task to get there (a bound, not a timed assertion)."""
    deadline = time.monotonic() + 60
    while not await check():
        assert time.monotonic() < deadline, f"{what}: not within 60 s"
        await asyncio.sleep(0.05)


async def hold(pool: asyncpg.Pool, handlers: IntakeHandlers, pid: uuid.UUID) -> None:
    sealed = await handlers.ring.encrypt_for(pid, "Klage vor dem Sozialgericht anhängig")
    assert sealed is not None
    async with pool.acquire() as connection:
        assert await repository.set_legal_hold(connection, pid, reason=sealed, set_by="ki-03")
        assert not await repository.set_legal_hold(connection, pid, reason=sealed, set_by="x")


async def test_identifiers_are_erased_by_themselves_when_due_and_a_legal_hold_is_respected(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool, key_store: KeyStore
) -> None:
    done, held, never_exited = await exited(handlers), await exited(handlers), None
    never_exited = uuid.UUID(await registered(handlers, ALPHA))
    people = [done, held, never_exited]
    await hold(fresh_pool, handlers, held)
    schedule = deletion_schedule(handlers, periods=PERIODS, interval_s=0.05)
    await schedule.start()
    try:
        # The day before the exit's deletion date: nothing goes.
        handlers.clock = Clock(AFTER_EXIT.after(EXIT) - timedelta(days=1))
        assert await schedule.run_once() == 0
        handlers.clock = Clock(AFTER_EXIT.after(EXIT))

        async def done_erased() -> bool:
            return (await statuses(fresh_pool, people))[done] == "erased"

        await until(done_erased, "the exited person erased on the deletion date")
        assert await statuses(fresh_pool, people) == {
            done: "erased",
            held: "registered",  # under the legal hold
            never_exited: "registered",  # counted from the entry: longer
        }
        handlers.clock = Clock(WITHOUT_EXIT.after(ENTRY))

        async def never_exited_erased() -> bool:
            return (await statuses(fresh_pool, people))[never_exited] == "erased"

        await until(never_exited_erased, "the person without an exit erased")
        assert (await statuses(fresh_pool, people))[held] == "registered"
        async with fresh_pool.acquire() as connection:
            assert await repository.release_legal_hold(connection, held, released_by="ki-03")

        async def held_erased() -> bool:
            return (await statuses(fresh_pool, people))[held] == "erased"

        await until(held_erased, "the held person erased once released")
    finally:
        await schedule.stop()

    assert await key_store.get(people) == {}
    assert await fetch_rows(fresh_pool, "SELECT 1 FROM identities") == []
    assert await fetch_rows(fresh_pool, "SELECT 1 FROM identity_index") == []
    # The hold stays listed for review, without its (sealed) reason.
    (hold_row,) = await fetch_rows(
        fresh_pool, "SELECT reason_encrypted, set_by, released_by FROM legal_holds"
    )
    assert hold_row == {"reason_encrypted": None, "set_by": "ki-03", "released_by": "ki-03"}
    erasures = await fetch_rows(fresh_pool, "SELECT participant_id, basis FROM erasures")
    assert sorted((r["participant_id"], r["basis"]) for r in erasures) == sorted(
        (p, "schedule") for p in people
    )
    announced = [
        m.data for m in await outbox_messages(fresh_pool) if m.type == "participant.erased.v1"
    ]
    assert sorted(a["participant_id"] for a in announced) == sorted(str(p) for p in people)
    assert {a["reason"] for a in announced} == {"purpose-ended"}
    trail = await fetch_rows(
        fresh_pool,
        "SELECT participant_id FROM audit_trail WHERE action = 'identity.erase' AND actor = $1",
        SCHEDULE_ACTOR,
    )
    assert sorted(r["participant_id"] for r in trail) == sorted(people)


async def test_two_schedules_at_once_erase_everyone_due_exactly_once(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    people = [await exited(handlers) for _ in range(7)]
    handlers.clock = Clock(AFTER_EXIT.after(EXIT))
    schedules = [
        deletion_schedule(handlers, periods=PERIODS, interval_s=60, batch_size=2) for _ in range(2)
    ]
    counts = await asyncio.gather(*(s.run_once() for s in schedules))
    assert sum(counts) == len(people)
    assert set((await statuses(fresh_pool, people)).values()) == {"erased"}
    announced = [
        m.data["participant_id"]
        for m in await outbox_messages(fresh_pool)
        if m.type == "participant.erased.v1"
    ]
    assert sorted(announced) == sorted(str(p) for p in people)  # once each
    assert await schedules[0].run_once() == 0


async def test_an_erasure_on_request_is_not_repeated_by_the_schedule(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    pid = await exited(handlers)
    erase = {"participant_id": str(pid), "reason": "participant-request"}
    _, outcome = await send_command(handlers, "request-erasure.v1", ALPHA, erase)
    assert outcome.status == "accepted"
    handlers.clock = Clock(AFTER_EXIT.after(EXIT) + timedelta(days=400))
    schedule = deletion_schedule(handlers, periods=PERIODS, interval_s=60)
    assert await schedule.run_once() == 0
    (record,) = await fetch_rows(fresh_pool, "SELECT basis FROM erasures")
    assert record == {"basis": "request"}
    types = [m.type for m in await outbox_messages(fresh_pool)]
    assert types.count("participant.erased.v1") == 1


async def test_under_a_legal_hold_only_a_coordinator_has_identifiers_erased_which_ends_the_hold(
    handlers: IntakeHandlers, fresh_pool: asyncpg.Pool
) -> None:
    pid = await exited(handlers)
    await hold(fresh_pool, handlers, pid)
    erase = {"participant_id": str(pid), "reason": "participant-request"}
    _, refused = await send_command(handlers, "request-erasure.v1", ALPHA, erase)
    assert_rejected(refused, ReasonCode.LEGAL_HOLD_IN_FORCE)
    assert (await statuses(fresh_pool, [pid]))[pid] == "registered"
    _, decided = await send_as_coordinator(handlers, "request-erasure.v1", erase)
    assert decided.status == "accepted", decided
    assert (await statuses(fresh_pool, [pid]))[pid] == "erased"
    (row,) = await fetch_rows(fresh_pool, "SELECT released_by FROM legal_holds")
    assert row == {"released_by": "ki-koordination-03"}
