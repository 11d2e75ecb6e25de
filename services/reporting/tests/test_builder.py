"""Releases built in a child process (`reporting.builder`), on a real PostgreSQL.

What a child builds is what the serving process would have built, minus the truths; the
serving process spends almost none of the build's CPU; a child killed mid-build fails
that build only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from services.reporting.tests.random_projection import random_facts, random_projection

from durchstarten_deploy.stack import Stack
from reporting.builder import BuildOrder, ReleaseBuilder
from reporting.settings import ReportingSettings
from reporting.statewide import StateRelease, compute_statewide

TODAY = date(2026, 12, 7)


@pytest_asyncio.fixture(scope="module")
async def reporting_db(stack: Stack) -> AsyncIterator[tuple[asyncpg.Pool, ReportingSettings]]:
    """A reporting database of its own with random facts (a short history, no moves)."""
    facts = random_facts(seed=11, people=200, first_day=date(2025, 1, 1), moves=False)
    async with random_projection(stack, "builder", facts) as found:
        yield found


def _order(settings: ReportingSettings) -> BuildOrder:
    return BuildOrder(
        database_url=settings.database_url.get_secret_value(),
        counties=settings.counties(),
        rule=settings.protection_rule(),
        today=TODAY,
        pattern_wait_s=0,
    )


def _served(release: StateRelease) -> dict[str, Any]:
    return {
        "state": release.state,
        "counties": {key: dict(county.reports) for key, county in release.counties.items()},
        "providers": {key: county.providers for key, county in release.counties.items()},
        "first_years": {key: county.first_year for key, county in release.counties.items()},
        "state_reports": dict(release.state_reports),
        "hidden": release.protection.hidden,
        "primary": release.protection.primary,
        "first_year": release.first_year,
        "names": dict(release.names),
    }


def _cpu_ticks(pid: int) -> int:
    """The CPU a process has used so far, in clock ticks (Linux: /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def _builder() -> ReleaseBuilder:
    return ReleaseBuilder(service="reporting-test", log_level="WARNING", log_format="json")


@pytest.mark.integration
@pytest.mark.asyncio
async def test_a_child_builds_what_the_serving_process_would_and_keeps_the_truths(
    reporting_db: tuple[asyncpg.Pool, ReportingSettings],
) -> None:
    pool, settings = reporting_db
    spent = time.process_time()
    here = await compute_statewide(
        pool, counties=settings.counties(), rule=settings.protection_rule(), today=TODAY
    )
    in_thread = time.process_time() - spent
    assert here.protection.hidden  # random facts have small counts to protect

    builder = _builder()
    try:
        await builder.build(_order(settings))  # the child's start (imports) is not counted
        spent = time.process_time()
        child = await builder.build(_order(settings))
        in_child = time.process_time() - spent
    finally:
        builder.close()
    assert _served(child) == _served(here)
    # What the API instance holds has no truth: no publications, no model.
    for county in child.counties.values():
        assert county.collection.reports == ()
        assert county.collection.county_pages == ()
    assert child.model.cells == []
    assert child.model.names == []
    # The serving process spent a small part of the build's CPU (receiving the result):
    # CPU time, not time on the clock, so a busy machine does not change it.
    assert in_child < in_thread / 4, (in_child, in_thread)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_a_child_killed_mid_build_fails_that_build_and_the_next_one_succeeds(
    reporting_db: tuple[asyncpg.Pool, ReportingSettings],
) -> None:
    _, settings = reporting_db
    builder = _builder()
    try:
        first = await builder.build(_order(settings))
        children = builder.children()
        assert len(children) == 1
        idle = _cpu_ticks(children[0])
        building = asyncio.ensure_future(builder.build(_order(settings)))
        # Another process's CPU: nothing to wait on but its clock ticks.
        while _cpu_ticks(children[0]) < idle + 10 and not building.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        assert not building.done()
        os.kill(children[0], signal.SIGKILL)
        with pytest.raises(Exception, match="terminated abruptly"):
            await asyncio.wait_for(building, 120)
        again = await builder.build(_order(settings))
        assert builder.children() != children  # a new child
        assert _served(again) == _served(first)
    finally:
        builder.close()
    assert builder.children() == []


# An API instance in miniature: starts a build and tells its child's process id.
_INSTANCE = """
import asyncio, os, sys
from datetime import date
from pydantic import SecretStr
from reporting.builder import BuildOrder, ReleaseBuilder
from reporting.settings import ReportingSettings

async def main() -> None:
    settings = ReportingSettings(database_url=SecretStr(os.environ["BUILDER_DATABASE_URL"]))
    builder = ReleaseBuilder(service="reporting-test", log_level="WARNING", log_format="json")
    order = BuildOrder(
        database_url=os.environ["BUILDER_DATABASE_URL"],
        counties=settings.counties(),
        rule=settings.protection_rule(),
        today=date(2026, 12, 7),
        pattern_wait_s=0,
    )
    await builder.build(order)
    building = asyncio.ensure_future(builder.build(order))
    print("child", builder.children()[0], flush=True)
    await building
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.integration
@pytest.mark.asyncio
async def test_a_child_ends_when_its_api_instance_is_killed(
    reporting_db: tuple[asyncpg.Pool, ReportingSettings],
) -> None:
    _, settings = reporting_db
    instance = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _INSTANCE,
        env={**os.environ, "BUILDER_DATABASE_URL": settings.database_url.get_secret_value()},
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert instance.stdout is not None
        line = b""
        while not line.startswith(b"child "):  # the solver's banner goes to stdout too
            line = await asyncio.wait_for(instance.stdout.readline(), 300)
            assert line, "the instance ended before it told its child"
        child = int(line.split()[1])
        assert _alive(child)
        instance.kill()  # no `finally`, no shutdown hook runs
        await instance.wait()
        for _ in range(600):  # the child looks for its parent every half second
            if not _alive(child):
                break
            await asyncio.sleep(0.1)
        assert not _alive(child)
    finally:
        if instance.returncode is None:
            instance.kill()
            await instance.wait()


@pytest.mark.integration
@pytest.mark.asyncio
async def test_a_child_that_died_idle_is_replaced_for_the_next_build_and_close_is_final(
    reporting_db: tuple[asyncpg.Pool, ReportingSettings],
) -> None:
    _, settings = reporting_db
    builder = _builder()
    try:
        first = await builder.build(_order(settings))
        (idle,) = builder.children()
        os.kill(idle, signal.SIGKILL)
        for _ in range(300):  # until the pool has seen it die (its management thread)
            if getattr(builder._executor, "_broken", False):  # the pool's own flag
                break
            await asyncio.sleep(0.1)
        again = await builder.build(_order(settings))  # not a failure: a new child takes it
        assert _served(again) == _served(first)
        assert builder.children() != [idle]
    finally:
        builder.close()
    with pytest.raises(RuntimeError, match="closed"):
        await builder.build(_order(settings))
    assert builder.children() == []
