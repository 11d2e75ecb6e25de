"""What reporting publishes for one state of its data: every report under one pattern.

A *release* is every report reporting can serve (each report for every period of the
family and every scope, the dashboard, the participant count), computed unsuppressed in
one read snapshot, then protected together: `reporting.protection` chooses the withheld
cells over the union of everything any role can fetch, the frozen snapshots included as
published constants, and `withhold` applies that one pattern to every table. Every
endpoint answers from the release of the newest data state it has (`ReleaseKeeper`), so
no two numbers a caller can fetch at one moment come from different patterns.

The period family: every quarter and year from the first year anything is dated in
(`reporting.audit_collect.first_data_year`) to this year. The years from 2019 (the API's
first) to the family's first are empty: they are served as zero tables, each checked to
be all zeros when it is computed (`empty_report`), and the pattern is chosen knowing
them, as an attacker would (`reporting.audit_model.TimeAxis`). A short history thus
protects a short family. A later year than this one is refused (422), never answered:
its tables are not in the pattern.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
from fastapi import Response

from durchstarten.db.sqlfiles import SqlFiles
from reporting.audit import CellKey, ProtectionRule
from reporting.audit_collect import Collection, collect, first_data_year, protect_collection
from reporting.audit_model import LINKED_PROTECTION, Publication
from reporting.disclosure import SUPPRESSED_MARKER, tables_of
from reporting.exports import as_format
from reporting.protection import Protection
from reporting.versions import reading

SQL = SqlFiles(Path(__file__).parent / "db")


@dataclass(frozen=True)
class DataState:
    """What a release was computed from: change any of it and the release is out of date."""

    schema: str
    """The live projection version."""
    applied: int
    """The sum of the live version's next offsets: it grows with every applied batch."""
    snapshots: int
    """Frozen snapshots (each is part of what the pattern must respect)."""
    quarter: tuple[int, int]
    """Today's quarter: the family ends with its year, the dashboard's series with it."""


async def data_state(connection: asyncpg.Connection, *, today: date) -> DataState:
    """The state `connection` reads (inside `reporting.versions.reading`)."""
    row = await connection.fetchrow(SQL["release_state"])
    quarter = (today.year, (today.month - 1) // 3 + 1)
    return DataState(row["schema"], int(row["applied"]), int(row["snapshots"]), quarter)


def _withheld_cell() -> dict[str, Any]:
    return {"value": None, "suppressed": True, "marker": SUPPRESSED_MARKER}


def _positions(table: dict[str, Any]) -> Iterator[tuple[str, str, list[dict[str, Any]], int]]:
    """(row, column, the list holding the cell, its index) of every position of a table."""
    rows, columns = table["rows"], table["columns"]
    for r, row in enumerate(rows):
        for c, column in enumerate(columns):
            yield row, column, table["cells"][r], c
    for c, column in enumerate(columns if "column_totals" in table else []):
        yield "total", column, table["column_totals"], c
    for r, row in enumerate(rows if "row_totals" in table else []):
        yield row, "total", table["row_totals"], r


def withhold(
    report: dict[str, Any], source: str, hidden: frozenset[CellKey], *, threshold: int
) -> dict[str, Any]:
    """`report` (computed unsuppressed) with the cells of the pattern `hidden` withheld.

    Then what is built from withheld counts goes too: a placement rate over a withheld
    count, the pass rate when an exam count is withheld, and the exam fees (paid per exam,
    so they count exams) of a report whose exam counts are not all published.
    """
    body: dict[str, Any] = _copied(report)
    for name, table in tables_of(body):
        for row, column, holder, index in _positions(table):
            if CellKey(source, name, row, column) in hidden:
                holder[index] = _withheld_cell()
        if "total" in table and CellKey(source, name, "total", "total") in hidden:
            table["total"] = _withheld_cell()
    count = CellKey(source, "participants", "participants", "count")
    if "suppressed" in body.get("participants", {}) and count in hidden:
        body["participants"] = _withheld_cell()
    _withhold_derived(body)
    body["min_cell_count"] = threshold
    body["disclosure_control"] = LINKED_PROTECTION
    return body


def _copied(value: Any) -> Any:
    """A copy of a JSON value (dicts, lists and scalars): several times quicker than deepcopy."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


def _withhold_derived(body: dict[str, Any]) -> None:
    """Rates, and exam fees, over counts that are withheld."""
    if body.get("report") == "outcomes":
        steps = body["participants"]
        cell = {s: line[0] for s, line in zip(steps["rows"], steps["cells"], strict=True)}
        for rate, counts in (
            ("placement_rate_reached", ("placed", "reached")),
            ("placement_rate_exited", ("placed_exited", "exited")),
        ):
            if any(cell[c]["suppressed"] for c in counts):
                body[rate] = None
    if body.get("report") == "courses-and-funds":
        exams = body["exam_results"]
        withheld = {
            level
            for level, line in zip(exams["rows"], exams["cells"], strict=True)
            if line[0]["suppressed"]
        }
        if withheld - {"did-not-sit"}:
            body["pass_rate"] = None
        if withheld:
            for amounts in body["funds_by_module"].values():
                amounts["exam_fees_eur"] = None


def empty_report(report: dict[str, Any]) -> bool:
    """Whether an unsuppressed report counts nothing: every cell, total and amount is 0."""
    for _, table in tables_of(report):
        if any(holder[index]["value"] != 0 for _, _, holder, index in _positions(table)):
            return False
        if "total" in table and table["total"]["value"] != 0:
            return False
    amounts = [a for funds in report.get("funds_by_module", {}).values() for a in funds.values()]
    figures = [v for k, v in report.items() if k != "min_cell_count" and _is_number(v)]
    return all(not a for a in amounts) and all(v == 0 for v in figures)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Release:
    """Every report of one data state, protected by one pattern."""

    state: DataState
    providers: tuple[str, ...]
    """The provider scopes it holds."""
    reports: Mapping[str, dict[str, Any]]
    """The protected body of every report, by its source (`Publication.source`)."""
    collection: Collection
    """The same reports as published with their truth, and the snapshots: for the audit."""
    protection: Protection
    computed_at: float
    """`time.monotonic()` when the computation finished."""
    seconds: float
    """How long the computation took."""
    generated_at: str
    """When its read snapshot was taken (ISO 8601, UTC)."""
    _responses: dict[tuple[str, str, str], Response] = field(default_factory=dict)
    _empty: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Reports of periods before the family, found empty while this release was served."""

    @property
    def first_year(self) -> int:
        """The family's first year: every period before it is empty (`empty_report`)."""
        return self.collection.first_year

    def keep_empty(self, source: str, report: dict[str, Any], *, threshold: int) -> bool:
        """Serve `report`, computed unsuppressed, at `source` from now on if it is empty.

        Nothing in it is withheld: its zeros are what the pattern was chosen knowing. A
        report that counts something is not kept (False): the data has changed.
        """
        if not empty_report(report):
            return False
        self._empty[source] = withhold(report, source, frozenset(), threshold=threshold)
        return True

    def summary(self) -> dict[str, Any]:
        """What an operator sees of it: its data state, cost and pattern (no numbers)."""
        protection = self.protection
        return {
            "generated_at": self.generated_at,
            "seconds": round(self.seconds, 3),
            "projection": self.state.schema,
            "applied_offsets": self.state.applied,
            "snapshots": self.state.snapshots,
            "first_year": self.first_year,
            "providers": list(self.providers),
            "reports": len(self.reports),
            "withheld": len(protection.hidden),
            "primary": len(protection.primary),
            "secondary": len(protection.secondary),
            "exposed": sorted(str(key) for key in protection.exposed),
            "disclosure_control": LINKED_PROTECTION,
        }

    def body(self, source: str) -> dict[str, Any] | None:
        """The protected report at `source`, or None when the release has none."""
        found = self.reports.get(source)
        return self._empty.get(source) if found is None else found

    def response(self, source: str, format_: str, name: str) -> Response | None:
        """The report at `source` in its format, serialised once per release."""
        key = (source, format_, name)
        found = self._responses.get(key)
        if found is None:
            body = self.body(source)
            if body is None:
                return None
            found = self._responses[key] = as_format(body, format_, name)
        return found


@dataclass(frozen=True)
class ReleaseInput:
    """What one read snapshot gives a release: its state and every report unsuppressed."""

    state: DataState
    providers: tuple[str, ...]
    """The scopes: every configured provider and every provider the data names."""
    truths: Collection
    generated_at: str
    started: float


async def read_release_input(
    connection: asyncpg.Connection,
    *,
    providers: Sequence[str],
    today: date,
    state: DataState | None = None,
) -> ReleaseInput:
    """Every report of the family, unsuppressed, in the snapshot `connection` reads.

    `state`: the data state, when read before (statewide, outside a county's lens).
    """
    started = time.monotonic()
    generated_at = datetime.now(UTC).isoformat()
    state = state or await data_state(connection, today=today)
    named = {row["provider"] for row in await connection.fetch(SQL["release_providers"])}
    scopes = tuple(sorted({*providers, *named}))
    truths = await collect(
        connection,
        providers=scopes,
        last_year=today.year,
        min_cell_count=1,
        check_files=False,
        first_year=await first_data_year(connection, this_year=today.year),
    )
    return ReleaseInput(state, scopes, truths, generated_at, started)


def protect_release(given: ReleaseInput, *, rule: ProtectionRule, verify: bool = False) -> Release:
    """The pattern over everything `given` holds, applied to every report (CPU only).

    `verify` audits the pattern too (seconds more; `python -m reporting audit` and the
    tests do, over the release as served).
    """
    protection = protect_collection(
        given.truths,
        providers=given.providers,
        last_year=given.state.quarter[0],
        rule=rule,
        verify=verify,
    )
    return release_of(given, protection, rule=rule)


def release_of(given: ReleaseInput, protection: Protection, *, rule: ProtectionRule) -> Release:
    """The release of `given` under the pattern `protection` (chosen for it or statewide)."""
    truths = given.truths
    reports: dict[str, dict[str, Any]] = {}

    def published(publication: Publication) -> Publication:
        if publication.report == "snapshot" or publication.truth is None:
            return publication  # as it was frozen
        body = withhold(
            publication.truth, publication.source, protection.hidden, threshold=rule.threshold
        )
        reports[publication.source] = body
        return replace(publication, published=body)

    collection = replace(
        truths,
        reports=tuple(published(p) for p in truths.reports),
        county_pages=tuple(published(p) for p in truths.county_pages),
        problems=(),
    )
    return Release(
        given.state,
        given.providers,
        reports,
        collection,
        protection,
        computed_at=time.monotonic(),
        seconds=time.monotonic() - given.started,
        generated_at=given.generated_at,
    )


async def compute_release(
    pool: asyncpg.Pool,
    *,
    providers: Sequence[str],
    rule: ProtectionRule,
    today: date,
    verify: bool = False,
) -> Release:
    """Read in one snapshot, then protect in a worker thread (the event loop stays free)."""
    async with reading(pool) as connection:
        given = await read_release_input(connection, providers=providers, today=today)
    return await asyncio.to_thread(protect_release, given, rule=rule, verify=verify)


async def current_state(pool: asyncpg.Pool, *, today: date) -> DataState:
    """The data state of the live version now."""
    async with reading(pool) as connection:
        return await data_state(connection, today=today)


class _Stated(Protocol):
    @property
    def state(self) -> DataState: ...


ReleaseT = TypeVar("ReleaseT", bound=_Stated)


class ReleaseKeeper(Generic[ReleaseT]):
    """The newest release, recomputed when the data state it came from has changed.

    Within `ttl_s` of the moment a release was last known current it is served without a
    look at the data; after that one cheap query tells whether the data state is still
    the same (one query for every request asking at that moment; once found changed, it
    is not looked at again for `ttl_s`). When it has changed, the release is served while
    its successor is computed
    (one computation at a time, shared by every waiting request) as long as it was
    current less than `max_stale_s` ago (while the data keeps changing, background
    computations take at most `refresh_share` of the time: at 0.25 one starts three times
    as long after the last as the last took); otherwise, and whenever the caller asks for
    the newest (`fresh`, and every request when `ttl_s` is 0), the caller waits for a release
    computed after its request. A failed computation is not kept: the next request tries
    again.
    """

    def __init__(
        self,
        compute: Callable[[], Awaitable[ReleaseT]],
        state: Callable[[], Awaitable[DataState]],
        *,
        ttl_s: float,
        max_stale_s: float,
        refresh_share: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`compute()` makes a release; `state()` reads the current data state."""
        if not 0 < refresh_share <= 1:
            msg = f"refresh_share must be in (0, 1], not {refresh_share}"
            raise ValueError(msg)
        self._compute = compute
        self._state = state
        self._ttl_s = ttl_s
        self._max_stale_s = max_stale_s
        self._pause = (1 - refresh_share) / refresh_share  # times the last computation
        self._clock = clock
        self._current: ReleaseT | None = None
        self._current_at = 0.0  # when the current release was last known current
        self._current_since = -math.inf  # when the computation that made it started
        self._changed_at = -math.inf  # when the data was last found changed since it
        self._checking: asyncio.Task[DataState] | None = None
        self._checking_since = -math.inf
        self._running: asyncio.Task[ReleaseT] | None = None
        self._running_since = 0.0
        self._finished_at = -math.inf  # when the last computation ended, and how long it took
        self._took = 0.0
        self.computed = 0

    @property
    def current(self) -> ReleaseT | None:
        """The newest release computed so far (None before the first)."""
        return self._current

    def _start(
        self, compute: Callable[[], Awaitable[ReleaseT]] | None = None
    ) -> asyncio.Task[ReleaseT]:
        if self._running is None or self._running.done():
            self.computed += 1
            self._running_since = self._clock()
            self._running = asyncio.ensure_future(
                self._run(self._running_since, compute or self._compute)
            )
            # A background computation's failure is the next caller's to see, not a warning.
            self._running.add_done_callback(
                lambda task: None if task.cancelled() else task.exception()
            )
        return self._running

    async def _run(self, since: float, compute: Callable[[], Awaitable[ReleaseT]]) -> ReleaseT:
        try:
            release = await compute()
        finally:
            # A failed computation paces the next as a finished one does: one that fails
            # every time (a builder out of memory) must not run back to back.
            self._finished_at, self._took = self._clock(), self._clock() - since
        # One computation at a time: this one started after the current release's.
        if self._current is None or since >= self._current_since:
            self._current, self._current_since = release, since
            self._current_at = max(self._current_at, since)
        return release

    def _refresh_in_background(self) -> None:
        # While the data keeps changing, computing back to back would take a connection
        # and a core for good: a background computation waits a multiple of what the
        # last took (`refresh_share`).
        if self._clock() - self._finished_at >= self._took * self._pause:
            self._start()

    async def recompute(self, compute: Callable[[], Awaitable[ReleaseT]] | None = None) -> ReleaseT:
        """A release computed after this call, whether or not the data has changed.

        `compute`: how to compute it (default: as every other). A computation already
        running is awaited first, then this one starts.
        """
        while (running := self._running) is not None and not running.done():
            # Someone else's computation (it may have started before this call): wait
            # for it to end, whatever its outcome, then start this one.
            with contextlib.suppress(Exception):
                await asyncio.shield(running)
        return await asyncio.shield(self._start(compute))

    async def _checked_state(self, *, fresh: bool) -> tuple[DataState, float]:
        """The data state and when its query started.

        One query is shared by every request that asks meanwhile; a `fresh` request runs
        its own (one started before it may not see what it must).
        """
        if fresh:
            since = self._clock()
            return await self._state(), since
        if self._checking is None or self._checking.done():
            self._checking_since = self._clock()
            self._checking = asyncio.ensure_future(self._state())
            # Its failure is for its waiters to see; with none left, not a warning.
            self._checking.add_done_callback(
                lambda task: None if task.cancelled() else task.exception()
            )
        since = self._checking_since
        return await asyncio.shield(self._checking), since

    async def _served(self, current: ReleaseT, asked: float, *, fresh: bool) -> ReleaseT | None:
        """`current` if it may answer a request made at `asked`; None: wait for a new one."""
        if not fresh and asked - self._current_at < self._ttl_s:
            return current
        stale_ok = not fresh and asked - self._current_at < self._max_stale_s
        if stale_ok and asked - self._changed_at < self._ttl_s:
            # Found changed within ttl_s: no request looks again before then (during an
            # ingest every request would otherwise query the data state).
            self._refresh_in_background()
            return current
        found, since = await self._checked_state(fresh=fresh)
        latest = self._current or current  # a newer release may have come meanwhile
        if found == latest.state:
            self._current_at = max(self._current_at, since)
            return latest
        if latest is not current and not fresh:
            return latest  # newer than what was looked at: nothing to start
        self._changed_at = max(self._changed_at, since)
        if stale_ok:
            self._refresh_in_background()
            return current
        return None

    async def get(self, *, fresh: bool = False) -> ReleaseT:
        """The release to answer a request from (see the class docstring)."""
        fresh = fresh or self._ttl_s <= 0  # 0: every answer is of the data as it stands
        asked = self._clock()
        current = self._current
        if current is not None:
            served = await self._served(current, asked, fresh=fresh)
            if served is not None:
                return served
        while True:
            task = self._start()
            started = self._running_since
            release = await asyncio.shield(task)
            if started >= asked or await self._state() == release.state:
                return release


__all__ = [
    "DataState",
    "Release",
    "ReleaseInput",
    "ReleaseKeeper",
    "compute_release",
    "current_state",
    "data_state",
    "empty_report",
    "protect_release",
    "read_release_input",
    "withhold",
]
