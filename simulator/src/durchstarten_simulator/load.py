"""Load mode: synthetic participants and a realistic mix of commands at a fixed arrival rate.

Open loop: command i leaves at t0 + i/rate whatever the services answer, so a slow system
builds a backlog instead of slowing the generator down (the way real providers behave).
Before the timed phase, the participants are registered and one course per provider is
scheduled (their pseudonyms are needed); that preparation is not part of the measurement.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from durchstarten.counties import (
    Counties,
    County,
    CountyKind,
    MunicipalityEntry,
    ProgrammeRun,
    ProviderEntry,
    Site,
)
from durchstarten.events.topics import WRITE_SERVICES, inbound
from durchstarten.events.values import ModuleCode
from durchstarten.messaging.access import KafkaAccess
from durchstarten_simulator import people
from durchstarten_simulator.wire import (
    KafkaTransport,
    Outgoing,
    ProviderSends,
    envelope,
)

DEFAULT_PROVIDERS = ("diakonie-herford", "in-via", "awo-owl")
ACK_EVERY_S = 0.1
"""Acknowledgements are awaited per batch: at most this long's worth of sends at once."""

_POPULATION: dict[str, dict[str, float]] = {
    "sex": {"male": 72, "female": 27, "diverse": 1},
    "origins": {"SYR": 24, "AFG": 22, "IRQ": 14, "GIN": 12, "ERI": 8, "IRN": 8, "SOM": 5},
    "statuses": {"gestattung": 45, "duldung": 45, "ausbildungsduldung": 10},
    "municipalities": {
        "herford": 30,
        "buende": 16,
        "loehne": 15,
        "enger": 7,
        "vlotho": 7,
        "hiddenhausen": 8,
        "spenge": 5,
        "kirchlengern": 6,
        "roedinghausen": 4,
    },
    "german_levels": {"none": 8, "A1": 34, "A2": 36, "B1": 22},
}
_LEGAL_BASIS = {
    "gestattung": "asylg-55",
    "duldung": "aufenthg-60a",
    "ausbildungsduldung": "aufenthg-60c",
}
_SYLLABLES = ["ba", "ko", "ri", "mu", "te", "sa", "di", "lo", "ne", "fu", "ga", "hi", "ja", "pe"]
ENTRY = date(2022, 1, 10)
OPENED = date(2022, 1, 17)
COURSE_START = date(2022, 1, 17)
COURSE_END = date(2022, 12, 23)


STATE_COUNTIES = 53
"""NRW's Kreise and kreisfreie Städte: the counties of the statewide load."""


def statewide_counties(
    count: int = STATE_COUNTIES, *, municipalities: int = 8, providers_per_county: int = 2
) -> Counties:
    """A synthetic statewide configuration: `count` counties, for load and benchmarks only.

    Keys 05001, 05002, ... (no real NRW county's: theirs begin at 05111), each with
    `municipalities` municipalities (05001001, ...; a kreisfreie Stadt every fifth county,
    with one) and its own providers (`load-05001-1`, ...) working at a site in every
    municipality with every module.
    """
    made = {}
    for number in range(1, count + 1):
        key = f"{number:05d}"
        city = number % 5 == 0
        places = [
            MunicipalityEntry(key=f"{key}{m:03d}", name=f"Gemeinde {key}-{m}")
            for m in range(1, (1 if city else municipalities) + 1)
        ]
        made[key] = County(
            key=key,
            name=f"Synthetischer {'Stadt' if city else 'Kreis'} {key}",
            kind=CountyKind.KREISFREIE_STADT if city else CountyKind.KREIS,
            source="synthetic: durchstarten_simulator.load.statewide_counties (load only)",
            municipalities=places,
            programmes=[ProgrammeRun.model_validate({"id": "durchstarten", "from": "2019-04-09"})],
            providers=[
                ProviderEntry(
                    id=f"load-{key}-{p}",
                    name=f"Lasttraeger {key}-{p}",
                    modules=[m for m in ModuleCode if m is not ModuleCode.F5],
                    sites=[Site(id=f"s{m.key}", municipality=m.key) for m in places],
                )
                for p in range(1, providers_per_county + 1)
            ],
        )
    return Counties(made)


@dataclass(frozen=True)
class LoadResult:
    """What the timed phase achieved.

    `per_second[k]` counts the sends in second k after `started` (time.monotonic()).
    """

    sent: int
    target_rate: float
    achieved_rate: float
    per_second: list[int]
    started: float
    ended: float
    participants: int
    prepared: int
    by_service: dict[str, int] = field(default_factory=dict)


def _suffix(number: int) -> str:
    """A pronounceable, unique name part: keeps intake from joining two invented people."""
    letters = []
    while True:
        number, digit = divmod(number, len(_SYLLABLES))
        letters.append(_SYLLABLES[digit])
        if number == 0:
            return "".join(letters).capitalize()


class _Synthetic:
    """Synthetic participants and their commands, from one seeded generator."""

    def __init__(self, seed: int, providers: list[str], counties: Counties | None = None) -> None:
        """A seeded generator of `providers`' commands.

        `counties`: each provider registers people in its counties' municipalities (by key)
        and works at its sites there; None: Kreis Herford by its older names.
        """
        self.rng = random.Random(seed)  # noqa: S311  # invented data, not security
        self.providers = providers
        self.registered = 0
        self.courses = {p: self.uuid() for p in providers}
        self._sites: dict[str, list[tuple[str, str]]] = {}  # provider -> (site, municipality)
        if counties is not None:
            for county in counties.all():
                for entry in county.providers:
                    self._sites.setdefault(entry.id, []).extend(
                        (site.id, site.municipality) for site in entry.sites
                    )

    def _site(self, provider: str) -> tuple[str, str | None]:
        """A site of the provider and its municipality key (Herford's names: None)."""
        sites = self._sites.get(provider)
        if not sites:
            return "herford", None
        return sites[self.rng.randrange(len(sites))]

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def registration(self, provider: str) -> Outgoing:
        self.registered += 1
        rng = self.rng
        sex = people.pick(rng, _POPULATION["sex"])
        origin = people.pick(rng, _POPULATION["origins"])
        given, family = people.name(rng, origin, sex)
        status = people.pick(rng, _POPULATION["statuses"])
        born = people.birth_date(rng, ENTRY, people.age(rng, 18, 27), set())
        reference = f"LOAD-{self.registered:07d}"
        _, key = self._site(provider)
        data = {
            "provider_reference": reference,
            "given_name": given,
            "family_name": f"{family} {_suffix(self.registered)}",
            "birth_date": born.isoformat(),
            "sex": sex,
            "country_of_origin": origin,
            "residence_status": {"status": status, "legal_basis": _LEGAL_BASIS[status]},
            "municipality": key or people.pick(rng, _POPULATION["municipalities"]),
            "german_level": {"overall": people.pick(rng, _POPULATION["german_levels"])},
            "languages": people.languages(rng, origin),
            "entry_date": ENTRY.isoformat(),
        }
        # The current version names the municipality by its key; Herford's names are v2.
        type_ = "register-participant.v2" if key is None else "register-participant.v3"
        return Outgoing(provider, "intake", reference, envelope(provider, type_, data))

    def schedule(self, provider: str) -> Outgoing:
        course_id = self.courses[provider]
        data = {
            "course_id": course_id,
            "course_type": "preparatory-course",
            "module": "F4",
            "site": self._site(provider)[0],
            "start_date": COURSE_START.isoformat(),
            "end_date": COURSE_END.isoformat(),
            "parts": [{"name": "kurs", "planned_ue": 2000}],
        }
        return Outgoing(
            provider, "courses", course_id, envelope(provider, "schedule-course.v1", data)
        )

    def script(self, provider: str, participant: str) -> Iterator[Outgoing]:
        """One person's commands in a realistic order, then more for as long as needed.

        A case and its sessions mostly, a course place with attendance, a placement.
        """
        rng = self.rng
        case_id = self.uuid()
        course_id = self.courses[provider]

        def out(service: str, type_: str, data: dict[str, Any]) -> Outgoing:
            return Outgoing(provider, service, participant, envelope(provider, type_, data))

        def session(day: int) -> Outgoing:
            return out(
                "coaching",
                "record-session.v1",
                {
                    "session_id": self.uuid(),
                    "case_id": case_id,
                    "date": (OPENED + timedelta(days=day % 330)).isoformat(),
                    "minutes": rng.choice([30, 45, 60, 90]),
                    "languages": ["de"],
                    "topics": [rng.choice(["training-search", "applications", "housing"])],
                    "coach_id": "load-coach-1",
                },
            )

        def attendance(day: int) -> Outgoing:
            return out(
                "courses",
                "record-attendance.v1",
                {
                    "course_id": course_id,
                    "participant_id": participant,
                    "part": "kurs",
                    "date": (COURSE_START + timedelta(days=day % 300)).isoformat(),
                    "ue": 4,
                },
            )

        yield out(
            "coaching",
            "open-case.v1",
            {
                "case_id": case_id,
                "participant_id": participant,
                "module": "F1",
                "site": self._site(provider)[0],
                "opened_on": OPENED.isoformat(),
            },
        )
        yield session(1)
        yield out(
            "courses",
            "enrol.v1",
            {
                "course_id": course_id,
                "participant_id": participant,
                "requested_on": COURSE_START.isoformat(),
            },
        )
        yield attendance(1)
        yield session(8)
        yield attendance(2)
        yield out(
            "coaching",
            "record-placement.v1",
            {
                "placement_id": self.uuid(),
                "case_id": case_id,
                "category": rng.choice(["ausbildung-company", "language-course", "school"]),
                "start_date": (OPENED + timedelta(days=30)).isoformat(),
            },
        )
        for n in itertools.count(3):
            yield session(7 * n) if n % 2 else attendance(n)

    def stream(self, known: dict[str, str]) -> Iterator[Outgoing]:
        """Round robin over the participants (one step each), a new registration now and then."""
        scripts = [self.script(provider, pid) for pid, provider in known.items()]
        step = itertools.count()
        for turn in itertools.count():
            if turn % 10 == 9 or not scripts:
                yield self.registration(self.providers[turn % len(self.providers)])
            else:
                yield next(scripts[next(step) % len(scripts)])


async def _prepare(
    access: KafkaAccess, synthetic: _Synthetic, participants: int, timeout_s: float
) -> tuple[dict[str, str], float, dict[str, int]]:
    """Register the participants and schedule the courses; wait for every reply.

    Also how long it took from the first send to the last reply (the transport ready), and
    the replies by outcome (`accepted`, or the reason of a refusal).
    """
    transport = KafkaTransport(access, synthetic.providers)
    await transport.start()
    try:
        providers = synthetic.providers
        commands = [synthetic.schedule(p) for p in providers]
        commands += [
            synthetic.registration(providers[n % len(providers)]) for n in range(participants)
        ]
        started = time.monotonic()
        await transport.send(commands)
        replies = await transport.wait({c.id for c in commands}, timeout_s)
        seconds = time.monotonic() - started
    finally:
        await transport.stop()
    known = {
        str(reply.participant_id): command.provider
        for command in commands
        if (reply := replies[command.id]).accepted and reply.participant_id
    }
    outcomes = Counter(
        "accepted" if reply.accepted else str(reply.reason) for reply in replies.values()
    )
    return known, seconds, dict(outcomes)


@dataclass(frozen=True)
class PreparedLoad:
    """Participants registered and courses scheduled, ready for a timed phase."""

    synthetic: _Synthetic
    known: dict[str, str]
    prepared: int
    registration_seconds: float = 0.0
    """From the first registration sent to the last reply received."""
    outcomes: dict[str, int] = field(default_factory=dict)
    """The replies by outcome: `accepted`, or the reason of a refusal."""


async def prepare_load(
    access: KafkaAccess,
    *,
    participants: int = 200,
    seed: int = 0,
    providers: tuple[str, ...] | list[str] = DEFAULT_PROVIDERS,
    timeout_s: float = 120.0,
    counties: Counties | None = None,
) -> PreparedLoad:
    """Register `participants` and schedule one course per provider; wait for the replies.

    `counties`: the deployment's counties (e.g. `statewide_counties()`), whose providers and
    sites the load uses; None: Kreis Herford's providers by its older municipality names.
    """
    if counties is not None and tuple(providers) == DEFAULT_PROVIDERS:
        providers = counties.provider_ids()
    synthetic = _Synthetic(seed, list(providers), counties)
    known, seconds, outcomes = await _prepare(access, synthetic, participants, timeout_s)
    return PreparedLoad(
        synthetic, known, participants + len(synthetic.providers), seconds, outcomes
    )


async def send_load(
    access: KafkaAccess,
    prepared: PreparedLoad,
    *,
    rate: float,
    duration_s: float,
    send_times: dict[str, float] | None = None,
) -> LoadResult:
    """Send commands about the prepared participants at `rate` per second for `duration_s`.

    Open loop: no send waits for a reply; acknowledgements of the broker are awaited per
    batch (at most ACK_EVERY_S or wire.ACK_BATCH of sends), never thousands at once.
    `send_times`, if given, receives each command's id and wall-clock send time
    (time.time()), for latency measurements downstream.
    """
    stream = prepared.synthetic.stream(prepared.known)
    sends = ProviderSends(access, prepared.synthetic.providers)  # each settles per batch
    await sends.start()
    # Learn every inbound topic's partitions now: a first send to a topic waits for its
    # metadata, which would otherwise stall the first second of the timed phase.
    for provider, kafka in sends.producers.items():
        for service in WRITE_SERVICES:
            await kafka.partitions_for(inbound(provider, service))
    per_second = [0] * (int(duration_s) + 1)
    by_service: Counter[str] = Counter()
    try:
        started = time.monotonic()
        last_ack = started
        total = int(duration_s * rate)
        while sends.sent < total:
            due = min(int((time.monotonic() - started) * rate) + 1, total)
            while sends.sent < due:
                command = next(stream)
                await sends.send(command)
                if send_times is not None:
                    send_times[command.id] = time.time()
                by_service[command.service] += 1
                per_second[min(int(time.monotonic() - started), len(per_second) - 1)] += 1
            if time.monotonic() - last_ack >= ACK_EVERY_S:
                await sends.settle()
                last_ack = time.monotonic()
            await asyncio.sleep(max(0.0, started + sends.sent / rate - time.monotonic()))
        ended = time.monotonic()
        await sends.settle()
    finally:
        await sends.stop()
    sent = sends.sent
    elapsed = max(ended - started, 1e-9)
    whole = list(per_second[: int(duration_s)])
    return LoadResult(
        sent=sent,
        target_rate=rate,
        achieved_rate=sent / max(elapsed, duration_s) if sent else 0.0,
        per_second=whole,
        started=started,
        ended=ended,
        participants=len(prepared.known),
        prepared=prepared.prepared,
        by_service=dict(by_service),
    )


async def run_load(
    access: KafkaAccess,
    *,
    rate: float,
    duration_s: float,
    participants: int = 200,
    seed: int = 0,
    providers: tuple[str, ...] | list[str] = DEFAULT_PROVIDERS,
    prepare_timeout_s: float = 120.0,
    counties: Counties | None = None,
) -> LoadResult:
    """Register `participants`, then send commands at `rate` per second for `duration_s`.

    The preparation is not part of the timed phase (see `send_load`); `counties` as in
    `prepare_load` (the statewide load: `statewide_counties()`).
    """
    prepared = await prepare_load(
        access,
        participants=participants,
        seed=seed,
        providers=providers,
        timeout_s=prepare_timeout_s,
        counties=counties,
    )
    return await send_load(access, prepared, rate=rate, duration_s=duration_s)
