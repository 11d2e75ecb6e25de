"""Object-level checks end to end: one provider asking about another's objects learns nothing.

Provider ALPHA registers a person, opens a case, makes a referral and runs a course with the
person in it. Provider BETA then sends every id-bearing command, over HTTP and on its inbound
topics, naming ALPHA's participant, case, referral or course, and reads every id-bearing
endpoint. Each answer must be exactly the answer for an id nobody knows (404, 403, 422, or
202 held and later the rejection on BETA's outbound topic) and must carry nothing of ALPHA:
not its provider id, not the person's names, birth date or status, not the ids of ALPHA's
objects. At the end ALPHA's objects are as ALPHA left them. An assigned provider (a sure
duplicate) works with the person but is refused exit and erasure without naming ALPHA.

New-id fields (the case id of `open-case`, a session, placement or referral id, the course id
of `schedule-course`) are not probed: any id in use is answered `duplicate-id`, which tells
only that an id the sender holds already is taken.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from tests.support import (
    client,
    command,
    encoded,
    eventually,
    post,
    produce,
    read_participant,
    replies_to,
    v2_registration,
)

from durchstarten.auth import Role
from durchstarten.events import COMMANDS
from durchstarten.events.topics import ServiceName, inbound
from durchstarten_deploy.stack import ServiceProcess, Stack
from durchstarten_deploy.testing import TEST_PROVIDERS
from reporting.report_routes import REPORTS

pytestmark = pytest.mark.integration

ALPHA, BETA = TEST_PROVIDERS

NOT_IN_AN_ANSWER = ("command_id", "source_partition", "source_offset")
"""What differs between two answers that tell the same: the ids of the commands answered."""


@dataclass(frozen=True)
class AlphasWorld:
    """ALPHA's objects, and everything an answer to BETA must not carry."""

    participant_id: str
    case_id: str
    referral_id: str
    course_id: str
    betas_course_id: str
    person: dict[str, Any]

    @property
    def secrets(self) -> list[str]:
        """ALPHA's provider id, the person's identifiers and status, the objects' ids."""
        return [
            ALPHA,
            self.person["given_name"],
            self.person["family_name"],
            self.person["birth_date"],
            '"registered"',
            self.participant_id,
            self.case_id,
            self.referral_id,
            self.course_id,
        ]


@dataclass(frozen=True)
class Probe:
    """A command of BETA's naming one of ALPHA's objects, and its twin naming a fresh id."""

    service: ServiceName
    type: str
    data: Callable[[AlphasWorld], dict[str, Any]]
    id_field: str
    http_status: int
    reason: str  # the rejection's reason: at once, or when the hold expires

    def foreign(self, world: AlphasWorld) -> dict[str, Any]:
        """The command's data about ALPHA's object."""
        return self.data(world)

    def unknown(self, world: AlphasWorld) -> dict[str, Any]:
        """The same data about an id nobody knows."""
        return self.data(world) | {self.id_field: str(uuid.uuid4())}


def example(type_: str, **changes: Any) -> dict[str, Any]:
    """The contract's example of a command, with fresh new ids and the given fields."""
    data: dict[str, Any] = dict(COMMANDS[type_].example)
    for new_id in ("session_id", "placement_id", "referral_id"):
        if new_id in data:
            data[new_id] = str(uuid.uuid4())
    return data | changes


def case_probe(type_: str, **changes: Any) -> Probe:
    """A coaching command about ALPHA's case: held like an unknown case, then refused."""
    return Probe(
        "coaching",
        type_,
        lambda w: example(type_, case_id=w.case_id, **changes),
        "case_id",
        202,
        "unknown-case",
    )


def course_probe(type_: str, **changes: Any) -> Probe:
    """A courses command about ALPHA's course (with ALPHA's participant): unknown course."""
    return Probe(
        "courses",
        type_,
        lambda w: example(type_, course_id=w.course_id, participant_id=w.participant_id, **changes),
        "course_id",
        404,
        "unknown-course",
    )


def own_course_probe(type_: str, status: int, reason: str, **changes: Any) -> Probe:
    """A courses command about ALPHA's participant in BETA's own course."""
    return Probe(
        "courses",
        type_,
        lambda w: example(
            type_, course_id=w.betas_course_id, participant_id=w.participant_id, **changes
        ),
        "participant_id",
        status,
        reason,
    )


def participant_probe(type_: str, status: int, reason: str) -> Probe:
    """An intake command about ALPHA's participant."""
    return Probe(
        "intake",
        type_,
        lambda w: example(type_, participant_id=w.participant_id),
        "participant_id",
        status,
        reason,
    )


CERTIFICATE = {"issued_on": "2023-02-20"}  # inside the course: only the enrolment is missing

PROBES: dict[str, Probe] = {
    # intake: another provider's participant is unknown; coordinators' decisions are theirs
    "intake status change": participant_probe(
        "record-residence-status-change.v1", 404, "unknown-participant"
    ),
    "intake exit": participant_probe("record-programme-exit.v1", 404, "unknown-participant"),
    "intake erasure": participant_probe("request-erasure.v1", 404, "unknown-participant"),
    "intake exception approval": participant_probe(
        "approve-eligibility-exception.v1", 403, "forbidden-role"
    ),
    "intake exception denial": participant_probe(
        "deny-eligibility-exception.v1", 403, "forbidden-role"
    ),
    "intake duplicate resolution": participant_probe("resolve-duplicate.v1", 403, "forbidden-role"),
    "intake rectification": participant_probe("correct-identity.v1", 404, "unknown-participant"),
    "intake consent": participant_probe("record-consent.v1", 404, "unknown-participant"),
    "intake consent withdrawal": participant_probe(
        "withdraw-consent.v1", 404, "unknown-participant"
    ),
    "intake consent override": participant_probe("override-consent.v1", 403, "forbidden-role"),
    # coaching: another's participant, case or referral is held like an unknown one
    "coaching open case": Probe(
        "coaching",
        "open-case.v1",
        lambda w: (
            example("open-case.v1", case_id=str(uuid.uuid4()), participant_id=w.participant_id)
            | {"site": "herford"}
        ),
        "participant_id",
        202,
        "unknown-participant",
    ),
    "coaching session": case_probe("record-session.v1"),
    "coaching referral": case_probe(
        "make-referral.v1", target={"kind": "regular-service", "service": "jobcenter"}
    ),
    "coaching placement": case_probe("record-placement.v1"),
    "coaching follow-up": case_probe("record-follow-up.v1", window="4-weeks"),
    "coaching closing": case_probe("close-case.v1"),
    "coaching answer": Probe(
        "coaching",
        "answer-referral.v1",
        lambda w: example("answer-referral.v1", referral_id=w.referral_id),
        "referral_id",
        202,
        "unknown-referral",
    ),
    # courses: another's course is unknown; another's participant in an own course too
    "courses enrolment": course_probe("enrol.v1"),
    "courses attendance": course_probe("record-attendance.v1"),
    "courses exam": course_probe("record-exam-result.v1"),
    "courses certificate": course_probe("record-certificate.v1", **CERTIFICATE),
    "courses completion": course_probe("complete-participation.v1"),
    "courses drop-out": course_probe("drop-out.v1"),
    "own course enrolment": own_course_probe("enrol.v1", 202, "unknown-participant"),
    "own course attendance": own_course_probe("record-attendance.v1", 422, "not-enrolled"),
    "own course exam": own_course_probe("record-exam-result.v1", 422, "not-enrolled"),
    "own course certificate": own_course_probe(
        "record-certificate.v1", 422, "not-enrolled", **CERTIFICATE
    ),
    "own course completion": own_course_probe("complete-participation.v1", 422, "not-enrolled"),
    "own course drop-out": own_course_probe("drop-out.v1", 422, "not-enrolled"),
}


def test_every_id_bearing_command_is_probed() -> None:
    # Every command that names an existing object (not only a new id) is probed above.
    probed = {probe.type for probe in PROBES.values()}
    new_ids_only = {
        "register-participant.v1",
        "register-participant.v2",
        "register-participant.v3",
        "schedule-course.v1",
    }
    assert probed == set(COMMANDS) - new_ids_only


@dataclass(frozen=True)
class Answers:
    """What BETA heard to a probe: over HTTP, and on its outbound topic for each command."""

    http_foreign: httpx.Response
    http_unknown: httpx.Response
    replies: dict[str, dict[str, Any]]  # "http"/"kafka" x "foreign"/"unknown" -> reply

    def told(self) -> str:
        """Everything BETA was told, as one text."""
        bodies = [self.http_foreign.json(), self.http_unknown.json(), self.replies]
        return json.dumps(bodies)


async def known_to(stack: Stack, service: str, participant_id: str) -> None:
    """Wait until `service` has learnt of the participant (from intake's events)."""

    async def known() -> bool:
        connection = await asyncpg.connect(stack.service_database_url(service))
        try:
            return bool(
                await connection.fetchval(
                    "SELECT count(*) FROM participants WHERE participant_id = $1",
                    uuid.UUID(participant_id),
                )
            )
        finally:
            await connection.close()

    await eventually(known, what=f"{service} learnt of the participant")


async def send(
    stack: Stack, provider: str, service: ServiceName, type_: str, data: dict[str, Any]
) -> httpx.Response:
    """A command over HTTP as the provider's system."""
    return await post(
        stack, command(type_, provider, data), Role.PROVIDER, provider, service=service
    )


async def accepted(
    stack: Stack, provider: str, service: ServiceName, type_: str, data: dict[str, Any]
) -> None:
    """Send a command over HTTP that must be carried out."""
    response = await send(stack, provider, service, type_, data)
    assert response.status_code == 201, response.text


def course_schedule() -> dict[str, Any]:
    """A youth integration course in Herford, like the contract's example, with a new id."""
    return example("schedule-course.v1", course_id=str(uuid.uuid4()))


@pytest_asyncio.fixture(scope="module")
async def world(stack: Stack, services: dict[str, ServiceProcess]) -> AlphasWorld:
    """ALPHA's participant with a case, an open referral and a course place; BETA's course."""
    registration = v2_registration(ALPHA)
    response = await post(stack, registration, Role.PROVIDER, ALPHA)
    assert response.status_code == 201, response.text
    participant_id: str = response.json()["participant_id"]
    await asyncio.gather(
        known_to(stack, "coaching", participant_id), known_to(stack, "courses", participant_id)
    )

    case_id, referral_id = str(uuid.uuid4()), str(uuid.uuid4())
    await accepted(
        stack,
        ALPHA,
        "coaching",
        "open-case.v1",
        example("open-case.v1", case_id=case_id, participant_id=participant_id),
    )
    await accepted(
        stack,
        ALPHA,
        "coaching",
        "make-referral.v1",
        example("make-referral.v1", referral_id=referral_id, case_id=case_id),
    )
    alphas, betas = course_schedule(), course_schedule()
    await accepted(stack, ALPHA, "courses", "schedule-course.v1", alphas)
    await accepted(stack, BETA, "courses", "schedule-course.v1", betas)
    await accepted(
        stack,
        ALPHA,
        "courses",
        "enrol.v1",
        example("enrol.v1", course_id=alphas["course_id"], participant_id=participant_id),
    )
    return AlphasWorld(
        participant_id=participant_id,
        case_id=case_id,
        referral_id=referral_id,
        course_id=alphas["course_id"],
        betas_course_id=betas["course_id"],
        person=registration["data"],
    )


@pytest_asyncio.fixture(scope="module")
async def answers(stack: Stack, world: AlphasWorld) -> dict[str, Answers]:
    """Every probe sent by BETA over HTTP and on its inbound topic, and what BETA heard.

    All at once, so the holds (a few seconds in the test stack) expire together.
    """
    sent: dict[str, dict[str, dict[str, Any]]] = {}
    http: dict[str, tuple[httpx.Response, httpx.Response]] = {}
    for name, probe in PROBES.items():
        commands = {
            f"{way}-{whose}": command(probe.type, BETA, data(world))
            for way in ("http", "kafka")
            for whose, data in (("foreign", probe.foreign), ("unknown", probe.unknown))
        }
        sent[name] = commands
        http[name] = (
            await post(stack, commands["http-foreign"], Role.PROVIDER, BETA, service=probe.service),
            await post(stack, commands["http-unknown"], Role.PROVIDER, BETA, service=probe.service),
        )
        await produce(
            stack,
            inbound(BETA, probe.service),
            encoded([commands["kafka-foreign"], commands["kafka-unknown"]]),
        )

    ids: dict[ServiceName, set[str]] = {}
    for name, commands in sent.items():
        ids.setdefault(PROBES[name].service, set()).update(c["id"] for c in commands.values())
    heard = await asyncio.gather(
        *(replies_to(stack, BETA, service, wanted) for service, wanted in ids.items())
    )
    replies = {reply_id: reply for found in heard for reply_id, reply in found.items()}
    return {
        name: Answers(
            http_foreign=http[name][0],
            http_unknown=http[name][1],
            replies={key: replies[c["id"]] for key, c in sent[name].items()},
        )
        for name in PROBES
    }


def what_it_tells(body: dict[str, Any]) -> dict[str, Any]:
    """An answer without the ids of the command it answers."""
    return {k: v for k, v in body.items() if k not in NOT_IN_AN_ANSWER}


@pytest.mark.parametrize("name", list(PROBES))
async def test_another_providers_id_is_answered_like_an_unknown_one(
    name: str, world: AlphasWorld, answers: dict[str, Answers]
) -> None:
    probe, heard = PROBES[name], answers[name]

    statuses = (heard.http_foreign.status_code, heard.http_unknown.status_code)
    assert statuses == (probe.http_status, probe.http_status), heard.http_foreign.text
    assert what_it_tells(heard.http_foreign.json()) == what_it_tells(heard.http_unknown.json())

    for way in ("http", "kafka"):
        foreign, unknown = heard.replies[f"{way}-foreign"], heard.replies[f"{way}-unknown"]
        assert foreign["type"] == unknown["type"] == "command.rejected.v1", (way, foreign)
        assert what_it_tells(foreign["data"]) == what_it_tells(unknown["data"]), way
        assert foreign["data"]["reason"] == probe.reason, (way, foreign["data"])
        if probe.http_status != 403:  # a role check names no field
            assert foreign["data"]["field"] == f"data.{probe.id_field}", way

    told = heard.told()
    assert [secret for secret in world.secrets if secret in told] == []


async def get(stack: Stack, service: str, path: str, caller: str, **params: Any) -> httpx.Response:
    """GET `path` of `service` as the provider `caller`."""
    async with client(stack, service, Role.PROVIDER, caller) as http:
        return await http.get(path, params=params)


async def test_reading_another_providers_objects_is_answered_like_unknown_ids(
    stack: Stack, world: AlphasWorld
) -> None:
    async def read(what: str, object_id: str) -> httpx.Response:
        if what == "participant":
            return await read_participant(stack, object_id, Role.PROVIDER, BETA)
        service, path = {"case": ("coaching", "/v1/cases"), "course": ("courses", "/v1/courses")}[
            what
        ]
        return await get(stack, service, f"{path}/{object_id}", BETA)

    for what, foreign_id in (
        ("participant", world.participant_id),
        ("case", world.case_id),
        ("course", world.course_id),
    ):
        foreign = await read(what, foreign_id)
        unknown = await read(what, str(uuid.uuid4()))
        assert (foreign.status_code, unknown.status_code) == (404, 404), what
        assert foreign.json() == unknown.json() == {"detail": {"reason": f"unknown-{what}"}}
        assert [s for s in world.secrets if s in foreign.text] == [], what


@pytest.mark.parametrize("report", [report.name for report in REPORTS])
async def test_another_providers_figures_are_refused_like_an_unknown_providers(
    stack: Stack, services: dict[str, ServiceProcess], report: str
) -> None:
    path = f"/v1/reports/{report}"
    period = {"year": 2022, "quarter": 1}
    foreign = await get(stack, "reporting", path, BETA, provider=ALPHA, **period)
    unknown = await get(stack, "reporting", path, BETA, provider="no-such-provider", **period)
    assert (foreign.status_code, unknown.status_code) == (403, 403), foreign.text
    assert foreign.json() == unknown.json()
    assert ALPHA not in foreign.text


async def test_due_lists_hold_only_the_providers_own_referrals_and_follow_ups(
    stack: Stack, world: AlphasWorld
) -> None:
    on = {"on": "2022-06-01"}
    alphas = await get(stack, "coaching", "/v1/due/referrals", ALPHA, **on)
    betas = await get(stack, "coaching", "/v1/due/referrals", BETA, **on)
    assert world.referral_id in {row["referral_id"] for row in alphas.json()["due"]}
    assert [s for s in world.secrets if s in betas.text] == []
    follow_ups = await get(stack, "coaching", "/v1/due/follow-ups", BETA, on="2030-01-01")
    assert follow_ups.status_code == 200
    assert [s for s in world.secrets if s in follow_ups.text] == []


async def test_alphas_objects_are_as_alpha_left_them(
    stack: Stack, world: AlphasWorld, answers: dict[str, Answers]
) -> None:
    del answers  # every probe has been answered (held ones refused) by now
    person = await read_participant(stack, world.participant_id, Role.PROVIDER, ALPHA)
    assert person.status_code == 200
    assert (person.json()["status"], person.json()["exit_date"]) == ("registered", None)

    case = (await get(stack, "coaching", f"/v1/cases/{world.case_id}", ALPHA)).json()
    assert (case["sessions"], case["closed_on"], case["follow_ups"]) == (0, None, [])
    assert case["current_placement"] is None
    assert [(r["referral_id"], r["answer"]) for r in case["referrals"]] == [
        (world.referral_id, None)
    ]

    course = (await get(stack, "courses", f"/v1/courses/{world.course_id}", ALPHA)).json()
    assert [(p["participant_id"], p["status"]) for p in course["participants"]] == [
        (world.participant_id, "enrolled")
    ]
    assert course["delivered_ue"] == {}
    betas = (await get(stack, "courses", f"/v1/courses/{world.betas_course_id}", BETA)).json()
    assert betas["participants"] == []


async def test_an_assigned_provider_works_with_the_person_but_ends_nothing_for_alpha(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    first = v2_registration(ALPHA)
    registered = await post(stack, first, Role.PROVIDER, ALPHA)
    participant_id = registered.json()["participant_id"]
    # The same person, registered by BETA: a sure duplicate, so BETA is assigned.
    again = command("register-participant.v2", BETA, first["data"] | {"provider_reference": "B-1"})
    assigned = await post(stack, again, Role.PROVIDER, BETA)
    assert assigned.status_code == 201, assigned.text
    assert (assigned.json()["status"], assigned.json()["participant_id"]) == (
        "existing-participant",
        participant_id,
    )

    change = "record-residence-status-change.v1"
    await accepted(stack, BETA, "intake", change, example(change, participant_id=participant_id))
    for type_ in ("record-programme-exit.v1", "request-erasure.v1"):
        data = example(type_, participant_id=participant_id)
        refused = await send(stack, BETA, "intake", type_, data)
        assert refused.status_code == 422, type_
        assert refused.json()["reason"] == "not-registering-provider", type_
        assert ALPHA not in refused.text
        assert first["data"]["family_name"] not in refused.text
