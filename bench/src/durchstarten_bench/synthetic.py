"""Synthetic domain events for the rebuild benchmark: many people's histories, fast.

Each person's history is built from the contract's own examples (validated once through the
event models, so every message is a valid event of the current version), with fresh ids
and dates spread over the programme's years. Written straight to the domain topics, as the
services' relays would, keyed by participant.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from durchstarten.counties import load_counties
from durchstarten.events import CloudEvent, read_event
from durchstarten.events import coaching as c
from durchstarten.events import courses as k
from durchstarten.events import intake as i
from durchstarten.events.base import Event
from durchstarten.events.topics import COACHING_EVENTS, COURSES_EVENTS, INTAKE_EVENTS
from durchstarten.events.values import county_of_municipality
from durchstarten_simulator.wire import Record

MUNICIPALITIES = tuple(m.key for county in load_counties().all() for m in county.municipalities)
"""Where the synthetic people live: every municipality of the shipped county files."""
PROVIDERS = ("diakonie-herford", "in-via", "awo-owl")
FIRST_ENTRY = date(2019, 4, 9)
ENTRY_SPAN_DAYS = 1400  # entries until early 2023


def _template(model: type[Event]) -> dict[str, Any]:
    """The model's example as JSON-ready data (validated, so it is a current, valid event)."""
    data: dict[str, Any] = model.model_validate(model.example).model_dump(mode="json")
    return data


class Histories:
    """People's event histories: 17 events a person, in the order the services emit them."""

    events_per_person = 17
    days_per_person = 121
    """From a person's entry to their last event (the exit, 120 days on)."""

    def __init__(
        self,
        seed: int = 0,
        *,
        first_entry: date = FIRST_ENTRY,
        span_days: int = ENTRY_SPAN_DAYS,
        municipalities: Sequence[str] = MUNICIPALITIES,
        providers: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """A seeded generator: the same seed gives the same people and dates.

        Entries fall on the `span_days` days from `first_entry`; people live in one of
        `municipalities` (official keys). `providers`: county key -> the providers working
        there, one of whom registers each of its people (None: PROVIDERS, round robin).
        """
        self._municipalities = list(municipalities)
        self._providers = providers
        self._rng = random.Random(seed)  # noqa: S311  # invented data, not security
        self._first_entry, self._span_days = first_entry, span_days
        kinds: list[tuple[type[Event], str, str]] = [
            (i.ParticipantRegistered, INTAKE_EVENTS, "intake"),
            (i.ParticipantExited, INTAKE_EVENTS, "intake"),
            (c.CaseOpened, COACHING_EVENTS, "coaching"),
            (c.SessionRecorded, COACHING_EVENTS, "coaching"),
            (c.PlacementRecorded, COACHING_EVENTS, "coaching"),
            (k.ParticipantEnrolled, COURSES_EVENTS, "courses"),
            (k.AttendanceRecorded, COURSES_EVENTS, "courses"),
            (k.FundingAccrued, COURSES_EVENTS, "courses"),
            (k.ExamResultRecorded, COURSES_EVENTS, "courses"),
            (k.ParticipationCompleted, COURSES_EVENTS, "courses"),
        ]
        self._templates = {
            model.event_type: (topic, source, _template(model)) for model, topic, source in kinds
        }
        self._time = datetime.now(UTC).isoformat()

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _message(self, type_: str, key: str, changes: dict[str, Any]) -> Record:
        topic, source, template = self._templates[type_]
        envelope = {
            "specversion": "1.0",
            "id": self._uuid(),
            "source": f"/services/{source}",
            "type": type_,
            "time": self._time,
            "subject": changes.get("participant_id") or None,
            "datacontenttype": "application/json",
            "data": {**template, **changes},
        }
        if envelope["subject"] is None:
            del envelope["subject"]
        value = json.dumps(envelope, separators=(",", ":")).encode()
        return Record(topic, value, key.encode())

    def person(self, number: int) -> list[Record]:
        """The events of person `number`: registration to exit, with coaching and a course."""
        rng = self._rng
        pid = self._uuid()
        case_id, course_id = self._uuid(), self._uuid()
        entry = self._first_entry + timedelta(days=rng.randrange(self._span_days))
        place = rng.choice(self._municipalities)
        working = PROVIDERS if self._providers is None else self._providers[place[:5]]
        provider = working[number % len(working)]

        def day(offset: int) -> str:
            return (entry + timedelta(days=offset)).isoformat()

        own = {"participant_id": pid, "provider": provider}
        messages = [
            self._message(
                "participant.registered.v3",
                pid,
                {
                    **own,
                    "entry_date": entry.isoformat(),
                    "age_at_entry": rng.randint(18, 27),
                    "sex": rng.choice(["female", "male", "male"]),
                    "country_of_origin": rng.choice(["SYR", "AFG", "IRQ", "GIN", "ERI"]),
                    "municipality": place,
                    "county": county_of_municipality(place),
                },
            ),
            self._message("case.opened.v1", pid, {**own, "case_id": case_id, "opened_on": day(3)}),
        ]
        messages += [
            self._message(
                "case.session-recorded.v1",
                pid,
                {**own, "case_id": case_id, "session_id": self._uuid(), "date": day(7 * n + 7)},
            )
            for n in range(5)
        ]
        messages.append(
            self._message(
                "case.placement-recorded.v1",
                pid,
                {
                    **own,
                    "case_id": case_id,
                    "placement_id": self._uuid(),
                    "category": rng.choice(["ausbildung-company", "employment", "school"]),
                    "start_date": day(60),
                },
            )
        )
        course = {**own, "course_id": course_id}
        messages.append(
            self._message("course.participant-enrolled.v1", pid, {**course, "enrolled_on": day(10)})
        )
        messages += [
            self._message("course.attendance-recorded.v1", pid, {**course, "date": day(11 + n)})
            for n in range(4)
        ]
        messages.append(
            self._message(
                "course.funding-accrued.v1",
                course_id,
                {"course_id": course_id, "provider": provider, "accrued_on": day(11)},
            )
        )
        messages.append(
            self._message("course.exam-result-recorded.v1", pid, {**course, "exam_date": day(40)})
        )
        messages.append(
            self._message(
                "course.participation-completed.v1", pid, {**course, "completed_on": day(41)}
            )
        )
        messages.append(self._message("participant.exited.v1", pid, {**own, "exit_date": day(120)}))
        return messages

    def messages(self, count: int) -> Iterator[Record]:
        """At least `count` events: whole histories, person after person."""
        for number in range(-(-count // self.events_per_person)):
            yield from self.person(number)


def check_valid(histories: Histories) -> int:
    """Parse one person's events through the contract (envelope and model); return the count.

    Raises if any is not a valid, known event: the benchmark must feed real events.
    """
    messages = histories.person(0)
    for message in messages:
        event = read_event(CloudEvent.from_json(message.value))
        if event is None:
            msg = f"not a known event: {message.value[:80]!r}"
            raise ValueError(msg)
    return len(messages)
