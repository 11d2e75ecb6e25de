"""Turn a scenario and a seed into a history: the commands the providers' systems send.

The same scenario and seed give the same history, byte for byte (`History.digest`). A command
that names a participant carries `person`, the provider and reference of the registration
whose reply will give the pseudonym; the runner fills in `participant_id` at send time.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import IntEnum
from typing import Any

from durchstarten_simulator import people
from durchstarten_simulator.scenario import Coaching, Course, Scenario

IN_WORK = frozenset(
    {"employment", "ausbildung-company", "ausbildung-school", "qualification-measure"}
)
DEFAULT_LEGAL_BASIS = {
    "duldung": "aufenthg-60a",
    "ausbildungsduldung": "aufenthg-60c",
    "beschaeftigungsduldung": "aufenthg-60d",
    "gestattung": "asylg-55",
    "aufenthaltserlaubnis": "aufenthg-25",
}
TOPICS = [
    "training-search",
    "applications",
    "language-course",
    "residence-law",
    "housing",
    "health",
    "money",
    "school",
    "other",
]
EXIT_REASON = {
    "moved-away": "moved-away",
    "left-country": "left-country",
    "deported": "deported",
    "regular-system": "regular-end",
    "unknown": "no-contact",
}
# Commands whose payload names the participant; the runner fills it in.
NAMES_PARTICIPANT = frozenset(
    {
        "open-case.v1",
        "enrol.v1",
        "record-attendance.v1",
        "record-exam-result.v1",
        "record-certificate.v1",
        "complete-participation.v1",
        "record-programme-exit.v1",
    }
)


class Stage(IntEnum):
    """Waves the runner sends one after the other, each once the previous one is answered.

    A provider's system works the same way: it needs the pseudonym from the registration's
    reply before it can open a case, and the referral before it can answer it. Courses that
    need nothing from coaching go along with the coaching stage (different services work in
    parallel); a course that takes referred participants enrols once the referrals are
    accepted (only then is the person the course provider's to enrol), and an F2 place needs
    the placement coaching reported, so both wait for their stage.
    """

    REGISTER = 0
    DUPLICATES = 1
    COACHING = 2
    ANSWERS = 3
    ENROL = 4
    COURSE_WORK = 5
    EXIT = 6


@dataclass(frozen=True)
class Planned:
    """One command of the history, before it is wrapped in its envelope."""

    stage: Stage
    day: date
    provider: str
    service: str
    type: str
    data: dict[str, Any]
    person: str | None = None  # "<provider id>/<provider reference>" of the registration

    @property
    def key(self) -> str:
        """Kafka key: one person's commands stay in order; a course's schedule by itself."""
        if self.person is not None:
            return self.person
        return str(self.data.get("course_id") or self.data.get("provider_reference"))

    def as_json(self) -> dict[str, Any]:
        """A plain form for digests and files."""
        return {
            "stage": int(self.stage),
            "day": self.day.isoformat(),
            "provider": self.provider,
            "service": self.service,
            "type": self.type,
            "data": self.data,
            "person": self.person,
        }


@dataclass
class History:
    """Every command of one generated history, in sending order."""

    scenario: Scenario
    seed: int
    commands: list[Planned] = field(default_factory=list)

    @property
    def digest(self) -> str:
        """SHA-256 over the commands: equal for equal histories."""
        text = json.dumps([c.as_json() for c in self.commands], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _Person:
    ref: str  # provider id / provider reference
    provider: str
    registration: dict[str, Any]
    entry: date
    origin: str
    language: str
    cases: dict[str, tuple[date, date]] = field(default_factory=dict)  # programme -> open, close
    case_ids: dict[str, str] = field(default_factory=dict)
    placement: tuple[str, date] | None = None
    last_day: date = date.min
    in_course: bool = False


class _Generator:
    """Builds one history; all randomness comes from one seeded generator, in fixed order."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.seed = seed
        self.rng = random.Random(seed)  # noqa: S311  # invented data, not security
        self.commands: list[tuple[Planned, int]] = []
        self.births: set[date] = set()
        self.references: dict[str, int] = {}
        self.by_programme: dict[str, list[_Person]] = {}
        self.everyone: list[_Person] = []

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def add(self, planned: Planned, order: int = 0) -> None:
        self.commands.append((planned, order))

    def day_between(self, first: date, last: date) -> date:
        if last <= first:
            return first
        return first + timedelta(days=self.rng.randint(0, (last - first).days))

    # --- registrations ---------------------------------------------------------------------

    def reference(self, provider: str, year: int) -> str:
        self.references[provider] = self.references.get(provider, 0) + 1
        prefix = provider.replace("-", "")[:3].upper()
        return f"{prefix}-{year}-{self.references[provider]:04d}"

    def register(
        self, provider: str, entry: date, *, stage: Stage = Stage.REGISTER, **overrides: Any
    ) -> _Person:
        population = self.scenario.population
        sex = people.pick(self.rng, population.sex)
        origin = people.pick(self.rng, population.origins)
        given, family = people.name(self.rng, origin, sex)
        age = overrides.pop("age", None) or people.age(
            self.rng, population.age_min, population.age_max
        )
        born = people.birth_date(self.rng, entry, age, self.births)
        status = overrides.pop("status", None) or people.pick(self.rng, population.statuses)
        spoken = people.languages(self.rng, origin)
        reference = self.reference(provider, entry.year)
        data: dict[str, Any] = {
            "provider_reference": reference,
            "given_name": given,
            "family_name": family,
            "birth_date": born.isoformat(),
            "sex": sex,
            "country_of_origin": origin,
            "residence_status": {
                "status": status,
                "legal_basis": DEFAULT_LEGAL_BASIS[status],
                "since": (entry - timedelta(days=self.rng.randint(30, 900))).isoformat(),
            },
            "municipality": people.pick(self.rng, population.municipalities),
            "school_education": people.pick(self.rng, population.school_education),
            "german_level": {"overall": people.pick(self.rng, population.german_levels)},
            "languages": spoken,
            "consent": {
                "scopes": ["data-sharing-between-providers", "follow-up-contact"],
                "given_on": entry.isoformat(),
            },
            "entry_date": entry.isoformat(),
        }
        data.update(overrides)
        person = _Person(
            ref=f"{provider}/{reference}",
            provider=provider,
            registration=data,
            entry=entry,
            origin=origin,
            language=spoken[0],
            last_day=entry,
        )
        self.add(Planned(stage, entry, provider, "intake", registration_type(data), data))
        return person

    # --- coaching --------------------------------------------------------------------------

    def coaching(self, programme: Coaching) -> None:
        provider = self.scenario.provider_id(programme.provider)
        if programme.from_programme is None:
            latest_entry = programme.end - timedelta(days=30 * programme.months_min)
            persons = [
                self.register(provider, self.entry_day(programme.start, latest_entry))
                for _ in range(programme.persons)
            ]
            self.everyone += persons
        else:
            source = self.by_programme[programme.from_programme]
            # Only people whose case was open while this programme ran can be taken on.
            fitting = [
                p
                for p in source
                if p.cases[programme.from_programme][1] >= programme.start + timedelta(days=14)
                and p.cases[programme.from_programme][0] <= programme.end - timedelta(days=30)
            ]
            wanted = round(len(source) * programme.share_of_source)
            persons = self.rng.sample(fitting, min(wanted, len(fitting)))
        self.by_programme[programme.name] = persons
        for person in persons:
            self.open_case(programme, provider, person)
        self.placements(programme, persons)
        for person in persons:
            self.close_case(programme, provider, person)

    def entry_day(self, first: date, last: date) -> date:
        day = self.day_between(first, last)
        return day + timedelta(days=1) if (day.month, day.day) == (2, 29) else day

    def open_case(self, programme: Coaching, provider: str, person: _Person) -> None:
        earliest = max(person.entry, programme.start)
        if programme.from_programme is not None:
            earliest = max(earliest, person.cases[programme.from_programme][0])
        opened = self.day_between(earliest, min(earliest + timedelta(days=14), programme.end))
        months = self.rng.randint(programme.months_min, programme.months_max)
        closed = min(opened + timedelta(days=30 * months), programme.end)
        if programme.from_programme is not None:
            # Participation management ends with the coaching it accompanies, at the latest.
            closed = min(closed, max(opened, person.cases[programme.from_programme][1]))
        case_id = self.uuid()
        person.cases[programme.name] = (opened, closed)
        person.case_ids[programme.name] = case_id
        site = people.pick(self.rng, programme.sites)
        self.add(
            Planned(
                Stage.COACHING,
                opened,
                provider,
                "coaching",
                "open-case.v1",
                {
                    "case_id": case_id,
                    "module": programme.module,
                    "site": site,
                    "opened_on": opened.isoformat(),
                },
                person.ref,
            ),
            order=0,
        )
        languages = ["de"]
        if person.language in programme.languages and person.language != "de":
            languages.append(person.language)
        for _ in range(self.rng.randint(programme.sessions_min, programme.sessions_max)):
            self.add(
                Planned(
                    Stage.COACHING,
                    self.day_between(opened, closed),
                    provider,
                    "coaching",
                    "record-session.v1",
                    {
                        "session_id": self.uuid(),
                        "case_id": case_id,
                        "date": "",  # set below, from the planned day
                        "minutes": self.rng.choice([30, 45, 60, 60, 90, 120]),
                        "languages": languages,
                        "topics": sorted(self.rng.sample(TOPICS, self.rng.randint(1, 3))),
                        "coach_id": f"{provider[:3]}-coach-{site}-{self.rng.randint(1, 3)}",
                    },
                    person.ref,
                ),
                order=1,
            )
        person.last_day = max(person.last_day, closed)

    def placements(self, programme: Coaching, persons: list[_Person]) -> None:
        if not programme.placements or not persons:
            return
        share = programme.placement_share + self.rng.uniform(
            -programme.placement_share_spread, programme.placement_share_spread
        )
        placed = set(self.rng.sample(range(len(persons)), round(len(persons) * share)))
        provider = self.scenario.provider_id(programme.provider)
        for index, person in enumerate(persons):
            if index in placed:
                category = people.pick(self.rng, programme.placements)
            elif programme.other_outcomes and self.rng.random() < programme.other_outcome_share:
                category = people.pick(self.rng, programme.other_outcomes)
            else:
                continue
            opened, closed = person.cases[programme.name]
            start = self.day_between(min(opened + timedelta(days=30), closed), closed)
            data: dict[str, Any] = {
                "placement_id": self.uuid(),
                "case_id": person.case_ids[programme.name],
                "category": category,
                "start_date": start.isoformat(),
            }
            if category == "employment":
                marginal = self.rng.random() < programme.employment_marginal_share
                data["employment"] = {"kind": "marginal" if marginal else "insured"}
            person.placement = (category, start)
            self.add(
                Planned(
                    Stage.COACHING,
                    start,
                    provider,
                    "coaching",
                    "record-placement.v1",
                    data,
                    person.ref,
                ),
                order=3,
            )

    def close_case(self, programme: Coaching, provider: str, person: _Person) -> None:
        closed = person.cases[programme.name][1]
        outcome = person.placement[0] if person.placement else None
        if outcome is None:
            reason = self.rng.choice(["no-contact", "programme-exit", "other"])
        elif outcome in EXIT_REASON:
            reason = "moved-away" if outcome in {"moved-away", "left-country"} else "transferred"
        else:
            reason = "goal-reached"
        if programme.from_programme is not None:
            reason = "programme-exit"
        self.add(
            Planned(
                Stage.COACHING,
                closed,
                provider,
                "coaching",
                "close-case.v1",
                {
                    "case_id": person.case_ids[programme.name],
                    "closed_on": closed.isoformat(),
                    "reason": reason,
                },
                person.ref,
            ),
            order=9,
        )

    # --- courses ---------------------------------------------------------------------------

    def course(self, course: Course) -> None:
        provider = self.scenario.provider_id(course.provider)
        course_id = self.uuid()
        self.add(
            Planned(
                Stage.REGISTER,
                course.start,
                provider,
                "courses",
                "schedule-course.v1",
                {
                    "course_id": course_id,
                    "course_type": course.course_type,
                    "module": course.module,
                    "site": course.site,
                    "start_date": course.start.isoformat(),
                    "end_date": course.end.isoformat(),
                    "parts": [{"name": p.name, "planned_ue": p.planned_ue} for p in course.parts],
                    **({"target_level": course.target_level} if course.target_level else {}),
                    **({"capacity": course.capacity} if course.capacity else {}),
                },
            )
        )
        enrolments = self.referrals(course, provider)
        enrolments += self.duplicates(course, provider)
        before = course.start - timedelta(days=28)
        for _ in range(course.new_participants):
            person = self.register(provider, self.entry_day(before, course.start))
            self.everyone.append(person)
            enrolments.append((person, course.start))
        for person, enrolled in enrolments:
            person.in_course = True
            self.attend(course, provider, course_id, person, enrolled)
        self.exams(course, provider, course_id, [p for p, _ in enrolments])

    def referrals(self, course: Course, provider: str) -> list[tuple[_Person, date]]:
        if course.referred_from is None or not course.referred:
            return []
        source = course.referred_from
        programme = next(c for c in self.scenario.coaching if c.name == source)
        coach = self.scenario.provider_id(programme.provider)
        latest = course.end - timedelta(days=60)
        candidates = []
        for person in self.by_programme[source]:
            opened, closed = person.cases[source]
            window = (max(opened, course.start - timedelta(days=60)), min(closed, latest))
            if person.in_course or window[0] > window[1]:
                continue
            if course.referred_needs_work:
                if person.placement is None or person.placement[0] not in IN_WORK:
                    continue
                window = (max(window[0], person.placement[1]), window[1])
                if window[0] > window[1]:
                    continue
            else:
                # A group course is joined at its start: the referral comes before it.
                window = (window[0], min(window[1], course.start - timedelta(days=1)))
                if window[0] > window[1]:
                    continue
            candidates.append((person, window))
        chosen = self.rng.sample(candidates, min(course.referred, len(candidates)))
        result = []
        for person, (first, last) in sorted(chosen, key=lambda c: c[0].ref):
            person.in_course = True
            made = self.day_between(first, last)
            answered = made + timedelta(days=self.rng.randint(1, 7))
            if not course.referred_needs_work:
                # A place in a group course is taken at its start, after the answer.
                answered = max(made, min(answered, course.start - timedelta(days=1)))
            referral_id = self.uuid()
            self.add(
                Planned(
                    Stage.COACHING,
                    made,
                    coach,
                    "coaching",
                    "make-referral.v1",
                    {
                        "referral_id": referral_id,
                        "case_id": person.case_ids[source],
                        "made_on": made.isoformat(),
                        "target": {"kind": "provider", "provider": provider},
                    },
                    person.ref,
                ),
                order=2,
            )
            self.add(
                Planned(
                    Stage.ANSWERS,
                    answered,
                    provider,
                    "coaching",
                    "answer-referral.v1",
                    {
                        "referral_id": referral_id,
                        "answer": "accepted",
                        "answered_on": answered.isoformat(),
                    },
                    person.ref,
                )
            )
            enrolled = course.start if course.referred_needs_work is False else answered
            result.append((person, max(enrolled, course.start)))
        return result

    def duplicates(self, course: Course, provider: str) -> list[tuple[_Person, date]]:
        """People another provider registered already, registered again for this course."""
        if not course.duplicates:
            return []
        registered_on = course.start - timedelta(days=7)
        candidates = [
            p
            for p in self.everyone
            if p.provider != provider
            and not p.in_course
            and p.entry < registered_on
            and age_on(date.fromisoformat(p.registration["birth_date"]), registered_on)
            <= self.scenario.population.age_max
        ]
        result = []
        for person in self.rng.sample(candidates, min(course.duplicates, len(candidates))):
            person.in_course = True
            again = dict(person.registration)
            # The other provider's system writes the family name in capitals: intake's
            # normalisation must still recognise the person for sure.
            again["family_name"] = again["family_name"].upper()
            again["provider_reference"] = self.reference(provider, registered_on.year)
            again["entry_date"] = registered_on.isoformat()
            again["consent"] = {
                "scopes": ["data-sharing-between-providers"],
                "given_on": registered_on.isoformat(),
            }
            self.add(
                Planned(
                    Stage.DUPLICATES,
                    registered_on,
                    provider,
                    "intake",
                    registration_type(again),
                    again,
                )
            )
            result.append((person, course.start))
        return result

    def attend(
        self, course: Course, provider: str, course_id: str, person: _Person, enrolled: date
    ) -> None:
        common = {"course_id": course_id}
        enrol, work = _course_stages(course)
        self.add(
            Planned(
                enrol,
                enrolled,
                provider,
                "courses",
                "enrol.v1",
                common | {"requested_on": enrolled.isoformat()},
                person.ref,
            )
        )
        last = course.exam_date - timedelta(days=3) if course.exam_date else course.end
        if course.module == "F2":
            last = min(last, enrolled + timedelta(days=180))
        per_day = course.attendance_ue_per_day
        units = [(p.name, per_day) for p in course.parts for _ in range(p.planned_ue // per_day)]
        units += [(p.name, p.planned_ue % per_day) for p in course.parts if p.planned_ue % per_day]
        units.sort(key=lambda u: [p.name for p in course.parts].index(u[0]))
        span = (last - enrolled).days
        day = enrolled
        for index, (part, ue) in enumerate(units if per_day else []):
            day = enrolled + timedelta(days=index * span // max(len(units), 1))
            self.add(
                Planned(
                    work,
                    day,
                    provider,
                    "courses",
                    "record-attendance.v1",
                    common | {"part": part, "date": day.isoformat(), "ue": ue},
                    person.ref,
                ),
                order=1,
            )
        # A group course ends for everyone on its last day; tutoring with the last lesson.
        finished = course.end if course.module != "F2" else day
        self.add(
            Planned(
                work,
                finished,
                provider,
                "courses",
                "complete-participation.v1",
                common | {"completed_on": finished.isoformat()},
                person.ref,
            ),
            order=8,
        )
        person.last_day = max(person.last_day, finished)

    def exams(self, course: Course, provider: str, course_id: str, sat: list[_Person]) -> None:
        if course.exam_date is None:
            return
        work = _course_stages(course)[1]
        passing = set(self.rng.sample(range(len(sat)), round(len(sat) * course.pass_share)))
        for index, person in enumerate(sat):
            if index in passing:
                skills = {
                    "listening_reading": "B1",
                    "speaking": "B1",
                    "writing": self.rng.choice(["B1", "B1", "A2"]),
                }
            else:
                skills = {
                    "listening_reading": self.rng.choice(["A2", "below-A2"]),
                    "speaking": "A2",
                    "writing": self.rng.choice(["A2", "below-A2"]),
                }
            self.add(
                Planned(
                    work,
                    course.exam_date,
                    provider,
                    "courses",
                    "record-exam-result.v1",
                    {"course_id": course_id, "exam_date": course.exam_date.isoformat(), **skills},
                    person.ref,
                ),
                order=5,
            )
            if index in passing:
                issued = course.exam_date + timedelta(days=10)
                self.add(
                    Planned(
                        work,
                        issued,
                        provider,
                        "courses",
                        "record-certificate.v1",
                        {
                            "course_id": course_id,
                            "certificate": "dtz",
                            "issued_on": issued.isoformat(),
                        },
                        person.ref,
                    ),
                    order=6,
                )

    # --- the rest --------------------------------------------------------------------------

    def applicants(self) -> None:
        kinds = ["age", "reception-facility", "residence-permit", "too-young"]
        for applicants in self.scenario.applicants:
            provider = self.scenario.provider_id(applicants.provider)
            for n in range(applicants.ineligible):
                kind = kinds[n % len(kinds)]
                last = self.scenario.programme_end - timedelta(days=270)
                entry = self.entry_day(self.scenario.programme_start, last)
                ineligible: dict[str, dict[str, Any]] = {
                    "age": {"age": 29},
                    "too-young": {"age": 17},
                    "reception-facility": {"lives_in_state_reception_facility": True},
                    "residence-permit": {"status": "aufenthaltserlaubnis"},
                }
                self.register(provider, entry, **ineligible[kind])

    def exits(self) -> None:
        for person in self.everyone:
            outcome = person.placement[0] if person.placement else None
            reason = (
                EXIT_REASON.get(outcome, "placed")
                if outcome
                else ("regular-end" if person.in_course else "no-contact")
            )
            self.add(
                Planned(
                    Stage.EXIT,
                    person.last_day,
                    person.provider,
                    "intake",
                    "record-programme-exit.v1",
                    {"exit_date": person.last_day.isoformat(), "reason": reason},
                    person.ref,
                )
            )

    def build(self) -> History:
        for programme in self.scenario.coaching:
            self.coaching(programme)
        for course in self.scenario.courses:
            self.course(course)
        self.applicants()
        self.exits()
        ordered = sorted(
            enumerate(self.commands), key=lambda c: (c[1][0].stage, c[1][0].day, c[1][1], c[0])
        )
        commands = [_dated(planned) for _, (planned, _) in ordered]
        return History(scenario=self.scenario, seed=self.seed, commands=commands)


def registration_type(data: dict[str, Any]) -> str:
    """The registration's version: v3 names the municipality by its official key.

    Kreis Herford's history keeps v2 and its names, as its providers sent them (the
    upcaster turns them into keys).
    """
    key = str(data["municipality"])
    return "register-participant.v3" if key.isdigit() else "register-participant.v2"


def _dated(planned: Planned) -> Planned:
    """Sessions take their date from the planned day (drawn after the payload was built)."""
    if planned.type == "record-session.v1":
        return Planned(
            planned.stage,
            planned.day,
            planned.provider,
            planned.service,
            planned.type,
            planned.data | {"date": planned.day.isoformat()},
            planned.person,
        )
    return planned


def _course_stages(course: Course) -> tuple[Stage, Stage]:
    """The stages of a course's enrolments and of its attendance, exams and completions.

    A course provider may enrol only people linked to it: a referred person once it has
    accepted the referral (stage ANSWERS), so such a course enrols after that stage.
    """
    if course.module == "F2" or (course.referred_from is not None and course.referred > 0):
        return Stage.ENROL, Stage.COURSE_WORK
    return Stage.COACHING, Stage.COACHING


def age_on(born: date, on: date) -> int:
    """Age in whole years on `on` of someone born on `born`."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def generate(scenario: Scenario, seed: int | None = None) -> History:
    """The history of `scenario` for `seed` (the scenario's own seed when None)."""
    used = scenario.seed if seed is None else seed
    return _Generator(scenario, used).build()
