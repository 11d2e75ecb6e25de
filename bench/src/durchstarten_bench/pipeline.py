"""The benchmark run: the machine's limits, then the pipeline's figures, on one local stack.

Stages, in order (each returns a dict of figures):
1. limits: raw aiokafka produce and consume, Kafka's ProducerPerformance, asyncpg COPY;
2. ingest: a backlog of commands sent as fast as the generator goes, timed from the first
   send to the projection commit of the last resulting event, with each process's CPU time;
3. profile: another burst, with py-spy sampling every service;
4. lag: commands at a fixed open-loop rate, each event's lag from its command's send to the
   commit of the projection transaction that applied it;
5. rebuild: synthetic histories straight into the domain topics (the live projection catches
   up, timed), then a blue-green rebuild from the earliest offset through the admin API;
6. queries: the quarterly table at a fixed request rate while commands keep arriving, from
   reporting's API instances (the production layout: the projector apart);
7. registrations: a burst of registrations through intake, duplicate matching included,
   from the first send to the last reply;
8. write path: coaching's command side beside an `eventsourcing` peer doing the same
   commands on the same server (`durchstarten_bench.writepath`).

Reporting runs as in production (`ReportingRole`): one projector (the stack's `reporting`,
where rebuilds start) and `api_instances` API processes that answer every report request.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from durchstarten.auth import Role
from durchstarten.events.topics import WRITE_SERVICES
from durchstarten.logging import get_logger
from durchstarten_bench import limits, profiling, statewide, writepath
from durchstarten_bench.measure import CpuMeter, percentile, rate, ratio, summary_ms
from durchstarten_bench.observe import Observer
from durchstarten_bench.synthetic import ENTRY_SPAN_DAYS, FIRST_ENTRY, Histories, check_valid
from durchstarten_deploy.kafka import KafkaNode
from durchstarten_deploy.stack import SERVICES, Stack
from durchstarten_simulator.load import prepare_load, send_load
from durchstarten_simulator.wire import producer, send_all

log = get_logger(__name__)
REPORTING_ROLE = "DURCHSTARTEN_REPORTING_ROLE"


WRITE_PATH = writepath.Workload(cases=1000, sessions_per_case=4, batch_size=500)
"""The full run's write-path workload: 5,000 commands per run and mode."""
HALF_YEAR_DAYS = 182
"""Past this day of the year, this year's history is long enough to measure a release over."""


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of every stage; `full()` for the figures, `smoke()` for CI's 10-second check."""

    name: str
    raw_messages: int
    copy_rows: int
    ingest_participants: int
    ingest_commands: int
    profile_commands: int
    profile_seconds: float
    lag_participants: int
    lag_rate: float
    lag_seconds: float
    rebuild_events: int
    query_rate: float
    query_seconds: float
    query_ingest_rate: float
    catch_up_timeout_s: float
    year_people: int
    """People in the one year of history the first release is measured over."""
    afresh_times: int
    """Releases of the year's history computed afresh."""
    afresh_history_times: int = 1
    """Releases of the whole history computed afresh (at the full size, minutes each)."""
    statewide_people: int = 0
    """People of the 53-county load the state table is measured over (0: no such stage)."""
    statewide_releases: int = 1
    statewide_requests: int = 20
    history_first_entry: date = FIRST_ENTRY
    """The first entry of the rebuild's histories (the query stage's release runs from it)."""
    history_span_days: int = ENTRY_SPAN_DAYS
    """Entries fall on this many days from the first."""
    api_instances: int = 2
    """Reporting API processes beside the projector."""
    registrations: int = 2000
    """Registrations of the registration burst (duplicate matching on)."""
    write_path: writepath.Workload = WRITE_PATH
    """The write path's and its peer's commands: each run opens these cases, records these."""

    @classmethod
    def full(cls) -> BenchConfig:
        """The benchmark the figures in docs/BENCHMARKS.md come from."""
        return cls(
            name="full",
            raw_messages=200_000,
            copy_rows=500_000,
            ingest_participants=600,
            ingest_commands=20_000,
            profile_commands=6_000,
            profile_seconds=10,
            lag_participants=200,
            lag_rate=2000,
            lag_seconds=10,
            rebuild_events=1_000_000,
            query_rate=500,
            query_seconds=15,
            query_ingest_rate=500,
            catch_up_timeout_s=900,
            year_people=1000,
            afresh_times=5,
            statewide_people=53 * 40,
            statewide_releases=3,
            statewide_requests=200,
        )

    @classmethod
    def smoke(cls) -> BenchConfig:
        """A few seconds of every stage: proves the benchmark works, measures nothing."""
        today = datetime.now(UTC).date()
        first = date(today.year - 1, 1, 2)
        last_entry = today - timedelta(days=Histories.days_per_person)
        return cls(
            name="smoke",
            raw_messages=5_000,
            copy_rows=10_000,
            ingest_participants=30,
            ingest_commands=600,
            profile_commands=400,
            profile_seconds=1,
            lag_participants=20,
            lag_rate=100,
            lag_seconds=2,
            rebuild_events=5_000,
            query_rate=50,
            query_seconds=2,
            query_ingest_rate=50,
            catch_up_timeout_s=180,
            year_people=40,
            afresh_times=1,
            statewide_people=53 * 2,
            statewide_releases=1,
            statewide_requests=4,
            registrations=100,
            write_path=writepath.Workload(cases=20, sessions_per_case=4, batch_size=50),
            # Histories from the start of last year: a release over two years, not eight.
            # The eight-year one is the full run's figure; here it would be 20 s of CI
            # proving nothing the short one does not.
            history_first_entry=first,
            history_span_days=(last_entry - first).days,
        )


class Bench:
    """Runs the stages against a stack whose infrastructure and services are up."""

    def __init__(self, stack: Stack, config: BenchConfig, artefacts: Path) -> None:
        """`artefacts` receives the raw profiles."""
        self.stack = stack
        self.config = config
        self.artefacts = artefacts
        self._observer: Observer | None = None
        self.sizes: dict[str, int] = {}
        self._seed = 100

    @property
    def observer(self) -> Observer:
        """The observer of the running stack (made once the stack has started)."""
        if self._observer is None:
            urls = {service: self.stack.service_database_url(service) for service in SERVICES}
            self._observer = Observer(self.stack.access, urls)
        return self._observer

    def start_services(self) -> None:
        """The four services, reporting as one projector beside its API instances."""
        for name in SERVICES:
            if name == "reporting":
                self.stack.start_service(name, extra_env={REPORTING_ROLE: "projector"})
            else:
                self.stack.start_service(name)
        for number in range(1, self.config.api_instances + 1):
            self.stack.start_service(
                "reporting", instance=f"reporting-api-{number}", extra_env={REPORTING_ROLE: "api"}
            )

    def stop_api_instances(self) -> None:
        """Stop reporting's API instances (by process id)."""
        for name, service in list(self.stack.services.items()):
            if name.startswith("reporting-api-"):
                service.stop()
                del self.stack.services[name]

    @property
    def api_urls(self) -> list[str]:
        """Base URLs of reporting's API instances (the projector answers no report)."""
        return [
            service.url
            for name, service in self.stack.services.items()
            if name.startswith("reporting-api-")
        ]

    def _next_seed(self) -> int:
        # Each stage invents other people: a repeated seed would register the same
        # persons again, and intake would (rightly) take them for duplicates.
        self._seed += 1
        return self._seed

    def _pids(self) -> dict[str, int]:
        pids = {name: service.process.pid for name, service in self.stack.services.items()}
        kafka = self.stack.kafka
        if isinstance(kafka, KafkaNode) and kafka.process is not None:
            pids["kafka"] = kafka.process.pid
        if self.stack.postgres is not None and self.stack.postgres.process is not None:
            pids["postgres"] = self.stack.postgres.process.pid
        pids["bench"] = os.getpid()
        return pids

    async def limits(self) -> dict[str, Any]:
        """Raw Kafka and PostgreSQL, with messages the size of our events."""
        histories = Histories(seed=1)
        sample = histories.person(0)
        size = round(sum(len(m.value) for m in sample) / len(sample))
        payload = max(sample, key=lambda m: abs(len(m.value) - size)).value[:size]
        payload = payload.ljust(size, b" ")
        self.sizes["event_bytes"] = size
        kafka_access = self.stack.access
        count = self.config.raw_messages
        produce = await limits.raw_produce(
            kafka_access,
            "bench.raw",
            count=count,
            payload=payload,
            partitions=self.stack.partitions,
        )
        consume = await limits.raw_consume(kafka_access, "bench.raw", count=count)
        if self.stack.kafka is None:
            tool: dict[str, Any] = {"skipped": "an existing broker: no jars at hand"}
        else:
            tool = await asyncio.to_thread(
                limits.kafka_producer_tool,
                self.stack.kafka.jars,
                kafka_access,
                "bench.raw",
                count=count,
                size=size,
            )
        copy = await limits.postgres_copy(
            self.stack.service_database_url("reporting"), rows=self.config.copy_rows
        )
        return {
            "kafka_produce_aiokafka": produce,
            "kafka_consume_aiokafka": consume,
            "kafka_producer_perf_tool": tool,
            "postgres_copy": copy,
        }

    async def ingest(self) -> dict[str, Any]:
        """Commands through the write services into the projections, as fast as they go."""
        prepared = await prepare_load(
            self.stack.access,
            participants=self.config.ingest_participants,
            seed=self._next_seed(),
            providers=list(self.stack.providers),
        )
        await self.observer.wait_caught_up(timeout_s=self.config.catch_up_timeout_s)
        projected_before = await self.observer.projected()
        meter = CpuMeter(self._pids(), with_children=frozenset({"postgres"}))
        meter.start()
        started = time.time()
        # Open loop at a rate no generator here reaches: a backlog builds at once.
        commands = self.config.ingest_commands
        load = await send_load(self.stack.access, prepared, rate=commands, duration_s=1.0)
        await self.observer.wait_caught_up(timeout_s=self.config.catch_up_timeout_s)
        cpu, _ = meter.stop()
        finished = await self.observer.last_commit(started)
        events = await self.observer.projected() - projected_before
        seconds = finished - started
        per_event: dict[str, float] = {}
        for name, used in cpu.items():
            handled = load.by_service.get(name, 0) if name in WRITE_SERVICES else events
            per_event[name] = round(used * 1e6 / handled, 1) if handled else 0.0
        return {
            "commands": load.sent,
            "commands_by_service": load.by_service,
            "generator_rate_per_s": round(load.achieved_rate, 1),
            "events_projected": events,
            "seconds": round(seconds, 3),
            "commands_per_s": rate(load.sent, seconds),
            "events_per_s": rate(events, seconds),
            "cpu_seconds": {name: round(used, 2) for name, used in cpu.items()},
            "cpu_us_per_message": per_event,
            "cpu_us_per_message_note": (
                "CPU time of each process during the run, divided by the commands it was "
                "sent (write services) or by the events projected (reporting, and the "
                "shared infrastructure: kafka, postgres, the bench's own generator)"
            ),
        }

    async def profile(self) -> dict[str, Any]:
        """A burst of commands while py-spy samples every service."""
        prepared = await prepare_load(
            self.stack.access,
            participants=self.config.ingest_participants,
            seed=self._next_seed(),
            providers=list(self.stack.providers),
        )
        await self.observer.wait_caught_up(timeout_s=self.config.catch_up_timeout_s)
        self.artefacts.mkdir(parents=True, exist_ok=True)
        seconds = self.config.profile_seconds
        # The write services and reporting's projector: the API instances idle meanwhile.
        files = {name: self.artefacts / f"profile-{name}.txt" for name in SERVICES}
        recordings = [
            profiling.record(self.stack.services[name].process.pid, files[name], seconds=seconds)
            for name in SERVICES
        ]
        commands = self.config.profile_commands
        load = send_load(self.stack.access, prepared, rate=commands, duration_s=1.0)
        outcome = await asyncio.gather(load, *recordings, return_exceptions=True)
        failures = [repr(o) for o in outcome if isinstance(o, BaseException)]
        await self.observer.wait_caught_up(timeout_s=self.config.catch_up_timeout_s)
        profiles: dict[str, Any] = {}
        for name, path in files.items():
            if path.exists():
                profiles[name] = profiling.summarise(path.read_text())
        return {"seconds": seconds, "services": profiles, "failures": failures}

    async def lag(self, per_second: float) -> dict[str, Any]:
        """End-to-end lag at a fixed open-loop rate: command sent -> projection committed."""
        prepared = await prepare_load(
            self.stack.access,
            participants=self.config.lag_participants,
            seed=self._next_seed(),
            providers=list(self.stack.providers),
        )
        await self.observer.wait_caught_up(timeout_s=self.config.catch_up_timeout_s)
        start = await self.observer.domain_ends()
        send_times: dict[str, float] = {}
        load = await send_load(
            self.stack.access,
            prepared,
            rate=per_second,
            duration_s=self.config.lag_seconds,
            send_times=send_times,
        )
        await self.observer.wait_caught_up(timeout_s=self.config.catch_up_timeout_s)
        end = await self.observer.domain_ends()
        causes = await self.observer.causes(start, end)
        ours = {event: cause for event, cause in causes.items() if cause in send_times}
        committed = await self.observer.commit_times(list(ours))
        lags = [committed[event] - send_times[ours[event]] for event in committed]
        events = sum(end[tp] - start.get(tp, 0) for tp in end)
        return {
            "target_commands_per_s": per_second,
            "achieved_commands_per_s": round(load.achieved_rate, 1),
            "events_per_s": rate(events, self.config.lag_seconds),
            "seconds": self.config.lag_seconds,
            "lag": summary_ms(lags),
            "measured_to": (
                "projection commit (pg_xact_commit_timestamp)"
                if self.observer.commit_timestamps
                else "projection transaction start (track_commit_timestamp is off)"
            ),
        }

    async def rebuild(self) -> dict[str, Any]:
        """Fill the domain topics with histories; time the live catch-up and a rebuild."""
        histories = Histories(
            seed=self._next_seed(),
            first_entry=self.config.history_first_entry,
            span_days=self.config.history_span_days,
        )
        check_valid(histories)
        projected_before = await self.observer.projected()
        kafka = producer(self.stack.access.options())
        await kafka.start()
        started = time.time()
        try:
            sent = await send_all(kafka, histories.messages(self.config.rebuild_events))
        finally:
            await kafka.stop()
        produced = time.time()
        await self.observer.wait_caught_up(timeout_s=self.config.catch_up_timeout_s)
        finished = await self.observer.last_commit(started)
        live_events = await self.observer.projected() - projected_before
        total = sum((await self.observer.domain_ends()).values())

        reporting = self.stack.services["reporting"].url
        headers = {"Authorization": f"Bearer {self.stack.token(Role.ADMIN)}"}
        async with httpx.AsyncClient(base_url=reporting, headers=headers, timeout=30) as client:
            began = time.monotonic()
            response = await client.post("/v1/admin/rebuilds")
            response.raise_for_status()
            rebuild_id = response.json()["rebuild_id"]
            while True:
                status = (await client.get(f"/v1/admin/rebuilds/{rebuild_id}")).json()
                if status["state"] in ("live", "failed"):
                    break
                if time.monotonic() - began > self.config.catch_up_timeout_s:
                    msg = f"rebuild {rebuild_id} still {status['state']}"
                    raise TimeoutError(msg)
                await asyncio.sleep(0.2)
            seconds = time.monotonic() - began
        if status["state"] != "live":
            msg = f"rebuild failed: {status.get('error_class')}"
            raise RuntimeError(msg)
        return {
            "synthetic_events": sent,
            "produce_per_s": rate(sent, produced - started),
            "live_catch_up": {
                "events": live_events,
                "seconds": round(finished - started, 3),
                "events_per_s": rate(live_events, finished - started),
                "note": (
                    "from the first send of the synthetic events to the last commit; the "
                    "benchmark's producer shares the machine meanwhile"
                ),
            },
            "rebuild": {
                "events_in_topics": total,
                "events_applied": status["events_applied"],
                "seconds": round(seconds, 3),
                "events_per_s": rate(status["events_applied"], seconds),
                "note": "from POST /v1/admin/rebuilds to the switch, as its client sees it",
            },
        }

    async def queries(self, capacity: float) -> dict[str, Any]:
        """The quarterly table at a fixed request rate while commands keep arriving.

        Commands arrive at `query_ingest_rate`, or at half the ingest capacity measured
        before if that is less: past its capacity the pipeline takes every core there is,
        and the figure would show the queries' share of a saturated machine.
        """
        ingest_rate = min(self.config.query_ingest_rate, max(1.0, round(capacity / 2)))
        prepared = await prepare_load(
            self.stack.access,
            participants=self.config.lag_participants,
            seed=self._next_seed(),
            providers=list(self.stack.providers),
        )
        await self.observer.wait_caught_up(timeout_s=self.config.catch_up_timeout_s)
        projected = await self.observer.projected()
        path = "/v1/reports/quarterly-monitoring?year=2021&quarter=2"
        urls = [f"{base}{path}" for base in self.api_urls]
        uncached = await self._compute_times(
            urls[0], Role.COORDINATOR, self.config.afresh_history_times
        )
        warmed = await self._warm(urls)
        seconds = self.config.query_seconds
        ingest = asyncio.create_task(
            send_load(
                self.stack.access,
                prepared,
                rate=ingest_rate,
                duration_s=seconds + 2,  # ingest runs before, during and after the queries
            )
        )
        await asyncio.sleep(1)
        client = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "durchstarten_bench.httpload",
            *urls,
            "--rate",
            str(self.config.query_rate),
            "--seconds",
            str(seconds),
            env={**os.environ, "BENCH_TOKEN": self.stack.token(Role.COORDINATOR)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await client.communicate()
        load = await ingest
        if client.returncode != 0:
            msg = f"the HTTP load client failed: {stderr.decode(errors='replace')[-1000:]}"
            raise RuntimeError(msg)
        figures: dict[str, Any] = json.loads(stdout)
        await self.observer.wait_caught_up(timeout_s=self.config.catch_up_timeout_s)
        figures["events_in_projection"] = projected
        figures["computed_afresh"] = uncached
        figures["ingest_commands_per_s"] = round(load.achieved_rate, 1)
        figures["warm_up_statuses"] = list(warmed.values())
        figures["query"] = f"GET {path}"
        figures["api_instances"] = len(urls)
        return figures

    async def _warm(self, urls: list[str]) -> dict[str, int]:
        """One request to each API instance, so each has its release before the timed phase.

        The status each answered: a release that cannot be computed (a statement past the
        pool's timeout) is a finding to report, not a reason to lose the run.
        """
        reader = {"Authorization": f"Bearer {self.stack.token(Role.COORDINATOR)}"}
        statuses = {}
        async with httpx.AsyncClient(timeout=1800) as client:
            for url in urls:
                statuses[url.split("/v1/", 1)[0]] = (
                    await client.get(url, headers=reader)
                ).status_code
        return statuses

    async def release_year(self) -> dict[str, Any]:
        """The quarterly table over one year of history, computed afresh (a new release).

        The first stage, while the projection holds nothing else: this year's people (last
        year's, early in a year), written straight to the domain topics as the relays
        would. The release's period family is that year to this one
        (`reporting.release`).
        """
        today = datetime.now(UTC).date()
        year = today.year if today.timetuple().tm_yday > HALF_YEAR_DAYS else today.year - 1
        first = date(year, 1, 1)
        last_entry = min(date(year, 12, 31), today) - timedelta(days=Histories.days_per_person)
        histories = Histories(
            seed=self._next_seed(), first_entry=first, span_days=max((last_entry - first).days, 1)
        )
        kafka = producer(self.stack.access.options())
        await kafka.start()
        try:
            count = self.config.year_people * Histories.events_per_person
            sent = await send_all(kafka, histories.messages(count))
        finally:
            await kafka.stop()
        await self.observer.wait_caught_up(timeout_s=self.config.catch_up_timeout_s)
        url = f"{self.api_urls[0]}/v1/reports/quarterly-monitoring?year={year}&quarter=2"
        found = await self._compute_times(url, Role.COORDINATOR, self.config.afresh_times)
        found.update(year=year, people=self.config.year_people, events=sent)
        return found

    async def _compute_times(self, url: str, role: Role, times: int) -> dict[str, Any]:
        """How long the report takes computed afresh, idle: a new release, then the table.

        Every report is served from a release (`reporting.release`): all of them computed
        in one snapshot and protected together. Afresh means a release computed for this
        request (`POST /v1/releases`), then the table read from it.
        """
        reporting = url.split("/v1/", 1)[0]  # the instance the table is read from
        admin = {"Authorization": f"Bearer {self.stack.token(Role.ADMIN)}"}
        reader = {"Authorization": f"Bearer {self.stack.token(role)}"}
        latencies, releases = [], []
        async with httpx.AsyncClient(timeout=600) as client:
            for _ in range(times):
                began = time.perf_counter()
                made = await client.post(f"{reporting}/v1/releases", headers=admin)
                made.raise_for_status()
                response = await client.get(url, headers=reader)
                response.raise_for_status()
                latencies.append(time.perf_counter() - began)
                releases.append(made.json())
        found: dict[str, Any] = dict(summary_ms(latencies))
        last = releases[-1]
        # The same percentile as the latencies', so the release's never exceeds the whole.
        found["release_s_p50"] = round(percentile([r["seconds"] for r in releases], 0.5), 3)
        found["release"] = {
            k: last[k] for k in ("reports", "withheld", "primary", "secondary", "first_year")
        }
        return found

    async def registrations(self) -> dict[str, Any]:
        """A burst of registrations through intake: duplicate matching for every one.

        All sent at once over Kafka; timed from the first send to the last reply, with
        intake's CPU time over the burst.
        """
        await self.observer.wait_caught_up(timeout_s=self.config.catch_up_timeout_s)
        meter = CpuMeter({"intake": self.stack.services["intake"].process.pid})
        meter.start()
        prepared = await prepare_load(
            self.stack.access,
            participants=self.config.registrations,
            seed=self._next_seed(),
            providers=list(self.stack.providers),
            timeout_s=self.config.catch_up_timeout_s,
            # Each provider registers in its own counties: every registration is eligible
            # and goes through matching (not refused early as outside the county).
            counties=self.stack.county_files(),
        )
        cpu, _ = meter.stop()
        seconds = prepared.registration_seconds
        # Every command answered (or `prepare_load` raised): the registrations and one
        # course scheduled per provider, the invented people's refusals (too old, a status
        # outside the programme) included; each eligible one was matched.
        answered = sum(prepared.outcomes.values())
        return {
            "registrations": self.config.registrations,
            "commands_answered": answered,
            "accepted": len(prepared.known),
            "outcomes": prepared.outcomes,
            "seconds": round(seconds, 3),
            "registrations_per_s": rate(self.config.registrations, seconds),
            "intake_cpu_us_per_registration": round(
                cpu["intake"] * 1e6 / self.config.registrations, 1
            ),
            "note": "from the first send to the last reply, matching every eligible "
            "registration against the blocking index",
        }

    async def write_path(self) -> dict[str, Any]:
        """Coaching's write path beside the `eventsourcing` peer (`writepath`)."""
        return await writepath.measure(
            self.stack.admin_url, self.stack.database_prefix, self.config.write_path
        )

    async def statewide(self) -> dict[str, Any]:
        """The state table over the 53-county load, computed afresh and served."""
        today = datetime.now(UTC).date()
        first = date(today.year - 2, 1, 4)
        last_entry = today - timedelta(days=Histories.days_per_person)
        load = statewide.StatewideLoad(
            people=self.config.statewide_people,
            first_entry=first,
            span_days=(last_entry - first).days,
            releases=self.config.statewide_releases,
            requests=self.config.statewide_requests,
        )
        return await statewide.measure(self.stack, load, seed=self._next_seed())

    async def run(self, figures: dict[str, Any] | None = None) -> dict[str, Any]:
        """Every pipeline stage; the limits are measured before the services start.

        The figures go into `figures` stage by stage: a run that fails keeps what it has.
        """
        await self.observer.start()
        if figures is None:
            figures = {}
        try:
            log.info("bench: a release over a year of history")
            figures["release_year"] = await self.release_year()
            log.info("bench: ingest")
            figures["ingest"] = await self.ingest()
            log.info("bench: profile")
            figures["profile"] = await self.profile()
            log.info("bench: lag")
            figures["lag"] = [await self.lag(self.config.lag_rate)]
            capacity = figures["ingest"]["commands_per_s"]
            if capacity < self.config.lag_rate * 1.25:
                # Past its capacity a system's lag only measures the backlog: show it
                # also at half the capacity measured above.
                figures["lag"].append(await self.lag(round(capacity / 2)))
            log.info("bench: rebuild")
            figures["rebuild"] = await self.rebuild()
            log.info("bench: queries")
            figures["queries"] = await self.queries(capacity)
            # Each would go on computing a release of the data the queries' ingest left
            # (minutes at this size): not beside the stages that follow.
            self.stop_api_instances()
            log.info("bench: registrations")
            figures["registrations"] = await self.registrations()
            log.info("bench: write path beside the eventsourcing peer")
            figures["write_path"] = await self.write_path()
            if self.config.statewide_people:
                log.info("bench: the state table over the 53-county load")
                figures["statewide"] = await self.statewide()
            return figures
        finally:
            await self.observer.stop()


def ratios(figures: dict[str, Any]) -> dict[str, float | None]:
    """Our figures as fractions of the limits measured in the same run."""
    consume = figures["limits"]["kafka_consume_aiokafka"]["messages_per_s"]
    produce = figures["limits"]["kafka_produce_aiokafka"]["messages_per_s"]
    copy = figures["limits"]["postgres_copy"]["rows_per_s"]
    batched = figures["write_path"]["ours"]["batched"]["commands_per_s"]
    return {
        "ingest_commands_vs_raw_produce": ratio(figures["ingest"]["commands_per_s"], produce),
        "ingest_events_vs_raw_consume": ratio(figures["ingest"]["events_per_s"], consume),
        "lag_commands_vs_raw_produce": ratio(figures["lag"][0]["achieved_commands_per_s"], produce),
        "registrations_vs_raw_produce": ratio(
            figures["registrations"]["registrations_per_s"], produce
        ),
        "write_path_batched_vs_postgres_copy": ratio(batched, copy),
        "peer_batched_vs_postgres_copy": ratio(
            figures["write_path"]["peer"]["batched"]["commands_per_s"], copy
        ),
        "rebuild_vs_raw_consume": ratio(figures["rebuild"]["rebuild"]["events_per_s"], consume),
        "rebuild_vs_postgres_copy": ratio(figures["rebuild"]["rebuild"]["events_per_s"], copy),
        "live_catch_up_vs_raw_consume": ratio(
            figures["rebuild"]["live_catch_up"]["events_per_s"], consume
        ),
    }
