"""The writes of one batch's transaction, gathered and sent as a few set-based statements.

A write service carries out a whole batch of commands (or learns a batch of events) in one
PostgreSQL transaction: one commit, so one WAL flush, for the batch instead of one per
command. Inside it, the messages the batch announces (outbox rows) and the answers it keeps
are not written one statement each: `enqueue` and `answers.answered` add them to the
`PendingWrites` of the connection, and `flush` writes each kind with one `unnest` statement
before the commit (or earlier, where a later command of the same batch must read them).

A service may also read ahead (`CommandService.read_ahead`): the state its commands will
read, loaded for the whole batch in a few statements and kept in `PendingWrites.known`,
where its repository finds it instead of asking again; a repository that writes such state
keeps it up to date there, or forgets it. Rows no decision of the batch reads back (and
whose duplicates the known state catches) may be deferred to the flush (`defer`).

The gathering is bound to one connection in one task (a context variable): code that writes
on another connection, or outside the batch, writes at once as before.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from durchstarten.db.sqlfiles import SqlFiles

SQL = SqlFiles(Path(__file__).parent / "sql")


@dataclass
class PendingWrites:
    """Outbox rows and kept answers of one transaction, in the order they were made."""

    connection: asyncpg.Connection
    outbox: list[tuple[str, bytes | None, bytes, str]] = field(default_factory=list)
    answers: list[tuple[str, str, uuid.UUID | None, str]] = field(default_factory=list)
    known: dict[str, dict[Any, Any]] = field(default_factory=dict)
    """State read ahead for the batch, by kind and key, kept up to date by its writers."""
    deferred: dict[tuple[int, str], list[tuple[Any, ...]]] = field(default_factory=dict)
    """Rows to write at the flush, by rank and statement, in the order they came."""
    deferring: bool = False
    """Whether the service's own inserts are deferred now (`deferring`)."""
    first: dict[str, Callable[[], Awaitable[None]]] = field(default_factory=dict)
    """Work to do before the deferred rows, by name (e.g. keys committed elsewhere first)."""

    def before_rows(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` at the next flush, before the deferred rows (once, however often named)."""
        self.first.setdefault(name, work)

    def defer(self, statement: str, *arguments: Any, rank: int = 0) -> None:
        """Run `statement` with `arguments` at the next flush (before the outbox rows).

        Statements run in the order of their `rank`, then of their first use: a row that
        refers to another's (a session to its case) takes a higher rank than it.
        """
        self.deferred.setdefault((rank, statement), []).append(arguments)

    def forget(self, *kinds: str) -> None:
        """Drop state read ahead (every kind if none is named): it is read again from here."""
        for kind in kinds or list(self.known):
            self.known.pop(kind, None)

    def add_message(
        self, topic: str, key: bytes | None, value: bytes, headers: list[list[str]]
    ) -> None:
        """An outbox row to write at the next flush (its sequence number follows the order)."""
        self.outbox.append((topic, key, value, json.dumps(headers)))

    def add_answer(
        self, consumer: str, dedupe_key: str, participant: uuid.UUID | None, reply: bytes
    ) -> None:
        """A command's answer (its JSON as sent) to keep at the next flush (the row exists)."""
        self.answers.append((consumer, dedupe_key, participant, reply.decode()))

    async def write_deferred(self) -> None:
        """Write the deferred rows now: before a statement that may touch them."""
        while self.first:
            _, work = self.first.popitem()
            await work()
        for (_, statement), rows in sorted(self.deferred.items(), key=lambda item: item[0][0]):
            # One round trip for the rows: asyncpg pipelines executemany's binds.
            await self.connection.executemany(statement, rows)
        self.deferred.clear()

    async def flush(self) -> None:
        """Write what was gathered: one statement per kind, rows in the order they came."""
        await self.write_deferred()
        if self.outbox:
            topics, keys, values, headers = (
                list(column) for column in zip(*self.outbox, strict=True)
            )
            await self.connection.execute(SQL["outbox_insert_many"], topics, keys, values, headers)
            self.outbox.clear()
        if self.answers:
            consumers, dedupe_keys, participants, replies = (
                list(column) for column in zip(*self.answers, strict=True)
            )
            await self.connection.execute(
                SQL["answers_reply_many"], consumers, dedupe_keys, participants, replies
            )
            self.answers.clear()


_pending: ContextVar[PendingWrites | None] = ContextVar("pending_writes", default=None)


def pending_for(connection: asyncpg.Connection) -> PendingWrites | None:
    """The writes gathered for `connection` in this task, if a batch is gathering them."""
    pending = _pending.get()
    if pending is None or pending.connection is not connection:
        return None
    return pending


def known(connection: asyncpg.Connection, kind: str) -> dict[Any, Any]:
    """What the batch on `connection` read ahead of `kind`.

    Empty outside a batch, or once forgotten: a fresh dict, so a writer may update it
    either way.
    """
    pending = pending_for(connection)
    return pending.known.get(kind, {}) if pending is not None else {}


def forget(connection: asyncpg.Connection, *kinds: str) -> None:
    """Drop what the batch on `connection` read ahead (every kind if none is named)."""
    pending = pending_for(connection)
    if pending is not None:
        pending.forget(*kinds)


async def write_deferred(connection: asyncpg.Connection) -> None:
    """Write the rows deferred on `connection` (nothing outside a batch)."""
    pending = pending_for(connection)
    if pending is not None:
        await pending.write_deferred()


@contextlib.contextmanager
def deferring(connection: asyncpg.Connection) -> Iterator[PendingWrites | None]:
    """Defer the inserts of the block to the batch's flush (nothing outside a batch).

    For a block whose rows no later statement of the same command reads back, such as a
    new person's first rows: the service's repository asks `PendingWrites.deferring`.
    """
    pending = pending_for(connection)
    if pending is None:
        yield None
        return
    before, pending.deferring = pending.deferring, True
    try:
        yield pending
    finally:
        pending.deferring = before


@contextlib.contextmanager
def gathering(connection: asyncpg.Connection) -> Iterator[PendingWrites]:
    """Gather outbox rows and answers written on `connection` until the block ends.

    The caller flushes before its transaction commits; what is not flushed is dropped with
    the block (the transaction it belonged to did not commit either).
    """
    pending = PendingWrites(connection)
    token = _pending.set(pending)
    try:
        yield pending
    finally:
        _pending.reset(token)
