"""The unit-level model of what reporting publishes: every published cell is a sum of atoms.

An atom counts the people (or placements, course facts, exams) who share one combination
of the attributes the tables use. Since every cell is a sum of atoms, every linear identity
between cells holds by construction and none can be forgotten: row, column and grand
totals, caseload(q) = caseload(q-1) + entries(q) - exits(q), the module table against the
municipality table, each provider's scope against the county, the dashboard against the
quarterly tables, the ESF+ tables against the entries and exits of their year.

One atom space for everything at once would be far too large, so the atoms come in families
that share attributes, linked by equal margins over what they share (a star around the
persons family). Where the families only share what they are linked on, any set of
margins that agrees there comes from some population (join the families conditionally on
the shared attributes), so the linking loses nothing. The families (T: the quarters of
the period family, plus "before" and "after"; S: the set of modelled providers a person
has a module participation with, at any time):

- persons N(municipality, entry quarter e, exit quarter x >= e or none, S): the quarterly
  tables by municipality, the dashboard's series, the participant count, the outcome
  counts "reached" and "exited" of the county;
- per module k and scope (county or provider P): M(x, f) people by exit quarter and first
  start of k (at P), linked to N on (x, S); caseload and entries of the module table;
- county outcomes O(e, x, f): f the first placement in a "placed" category, linked on (e, x);
- a provider's outcomes O_P(x, r, f): r the quarter by which the person is reached (entered
  and started with P), f the first "placed" placement recorded by P, linked on (x, P in S);
- ESF+ at entry E(year, sex, age band, education, nationality, S), linked on (entry year, S);
  ESF+ results R(year, result after 4 weeks, after 6 months, S), linked on (exit year, S);
- placements PL(quarter, category, provider, site, marginal), course facts C(year, module,
  event, provider), exam results X(year, level, provider, projected person): records, not
  people, so they link to the people only through the inequalities below.

Explicit identities and inequalities, where atoms would be impractical (all true of the
data, so the audit stays sound; each one loosens nothing the atoms would have said):
- a person may start a module more than once: entries(k, q) = first starts in q plus a
  restart slack, at most the people who started k before;
- the county module table against the providers' (when every provider is modelled): a
  county count lies between the largest provider count and their sum;
- a provider reaches only people entered by then: reached_P(q) <= entered by q in P's
  scope, exited_P(q) <= exited by q in P's scope; placed(q) >= placed_P(q);
- people first placed in quarter q <= the placements in "placed" categories in q (county,
  and per provider);
- the dashboard's "coached" (an F1 or F6 participation) lies between the larger of the
  two and their sum;
- a frozen snapshot is counted as the live people when every value it publishes agrees
  with today's true table (an attacker would assume so, and nothing contradicts it);
  otherwise it is a table of its own people (its own atoms, its module table free).
The median, rates and pass rate are not counts; the collector checks that they are
withheld whenever a count behind them is hidden. Funds are money, not people.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import combinations
from operator import itemgetter
from typing import Any

from durchstarten.events.values import ModuleCode, PlacementCategory, Sex
from reporting.audit import INF, CellKey, Expression, LinearModel, combine, total_of
from reporting.facts import PLACED_CATEGORIES
from reporting.reports import (
    COURSE_EVENTS,
    COURSE_MODULES,
    ESF_AGE_BANDS,
    ESF_RESULTS,
    ESF_WINDOWS,
    EXAM_LEVELS,
    MODULE_MEASURES,
    QUARTER_MEASURES,
)

FIRST_YEAR = 2019
"""The API's earliest year (`reporting.report_routes.Year`): nothing before it is published."""

OTHER = "(other)"
"""A provider or site no published table names (or none at all, for course facts)."""

ESF_SEXES = [s.value for s in Sex]
ESF_EDUCATION_GROUPS = ["isced-0-2", "isced-3-4", "unknown"]
ESF_NATIONALITY = ["third-country", "eu-eea-ch"]
ESF_DIMENSIONS = {
    "sex": ESF_SEXES,
    "age_band": ESF_AGE_BANDS,
    "education": ESF_EDUCATION_GROUPS,
    "nationality": ESF_NATIONALITY,
}
MODULES = [m.value for m in ModuleCode]
CATEGORIES = [c.value for c in PlacementCategory]
AUSBILDUNG = [c for c in CATEGORIES if c.startswith("ausbildung")]


@dataclass(frozen=True)
class Publication:
    """One report as a role receives it, with the same report unsuppressed (its truth)."""

    report: str
    """quarterly-monitoring, outcomes, courses, esf-indicators, dashboard, participants,
    or snapshot (a frozen quarterly-monitoring)."""
    published: dict[str, Any]
    truth: dict[str, Any] | None
    year: int | None = None
    quarter: int | None = None
    scope: str | None = None
    stichtag: str | None = None
    linked: bool = True
    """A snapshot only: counted as today's people (see the module docstring)."""

    @property
    def source(self) -> str:
        """The report, period and scope, as cell keys name them."""
        return source_of(self.report, self.year, self.quarter, self.scope, self.stichtag)


def source_of(
    report: str,
    year: int | None = None,
    quarter: int | None = None,
    scope: str | None = None,
    stichtag: str | None = None,
) -> str:
    """How cell keys name a report of a period and scope: `outcomes 2024-Q2 county`."""
    period = "" if year is None else f" {year}"
    if quarter is not None:
        period += f"-Q{quarter}"
    if report == "snapshot":
        return f"snapshot quarterly-monitoring{period} frozen {stichtag}"
    if report in ("dashboard", "participants"):
        return report
    return f"{report}{period} {scope or 'county'}"


class TimeAxis:
    """Quarters of the period family, indexed 1..n; 0 is before them, n+1 after, n+2 never.

    `empty_before`: the data has nothing dated before the family, and every period
    before it that the API serves is published as zeros (`reporting.release` serves the
    years from FIRST_YEAR to the family's first this way). The model then knows every
    atom with a moment before the family to be zero, as an attacker holding those zero
    tables would: anything a solver can derive over the whole family from FIRST_YEAR on
    it derives over the shorter one, so a pattern safe for this model is safe for that.
    """

    def __init__(self, first_year: int, last_year: int, *, empty_before: bool = False) -> None:
        """All quarters of the years `first_year` to `last_year`."""
        self.empty_before = empty_before
        self.years = list(range(first_year, last_year + 1))
        self.quarters = [(y, q) for y in self.years for q in (1, 2, 3, 4)]
        self.n = len(self.quarters)
        self.before = 0
        self.after = self.n + 1
        self.never = self.n + 2
        self._index = {yq: i + 1 for i, yq in enumerate(self.quarters)}

    def index(self, year: int, quarter: int) -> int:
        """The index of a quarter of the family (1..n)."""
        return self._index[(year, quarter)]

    def of_label(self, label: str) -> int:
        """The index of a dashboard row label such as `2019 Q4`."""
        year, quarter = label.split(" Q")
        return self.index(int(year), int(quarter))

    def of_year(self, year: int) -> range:
        """The indices of a year's four quarters."""
        first = self.index(year, 1)
        return range(first, first + 4)

    def bound(self, *moments: int) -> float:
        """The upper bound of an atom at these moments: 0 for one before an empty past."""
        return 0.0 if self.empty_before and self.before in moments else INF

    @property
    def moments(self) -> range:
        """Every quarter index including before and after (not never)."""
        return range(0, self.n + 2)

    @property
    def with_never(self) -> range:
        """Every quarter index and never."""
        return range(0, self.n + 3)


Scope = frozenset[str]


def _named(value: Any) -> str:
    """A variable's name part, the same in every process.

    A set's repr follows its iteration order, which follows string hashing, salted per
    process: two API instances would name one variable differently, and the digest of
    their models (`reporting.patterns`) would differ. Sets are named sorted.
    """
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(_named(each) for each in sorted(value, key=_named)) + "}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_named(each) for each in value) + ")"
    return repr(value)


def _cell(value: dict[str, Any]) -> int | None:
    return None if value["suppressed"] else int(value["value"])


@dataclass
class _Module:
    """A module family M(x, in scope, f) for one module and scope."""

    atoms: dict[tuple[int, bool, int], int] = field(default_factory=dict)
    restart: dict[int, int] = field(default_factory=dict)


class ReportingModel:
    """Builds the linear model of a set of publications (one role's), family by family."""

    def __init__(
        self,
        axis: TimeAxis,
        scope_providers: Sequence[str],
        *,
        providers_complete: bool,
        named_providers: Iterable[str] = (),
        named_sites: Iterable[str] = (),
        provider_sets: Iterable[Scope] | None = None,
        municipalities: Sequence[str] = (OTHER,),
    ) -> None:
        """A model over `axis`; people are told apart by their `scope_providers`.

        `providers_complete`: every module participation is with one of them (then the
        county's module counts are bounded by the providers'). Placements, course facts
        and exams carry the providers and sites some table names, plus OTHER.
        `provider_sets`: the sets of providers people really have (the auditor's
        knowledge); only these (cut to `scope_providers`) get atoms. The attacker may
        imagine others, so this model is a part of the attacker's: a table it finds is
        one the attacker cannot exclude, and a cell it finds safe is safe (it may find
        a safe cell unsafe). None: every subset, 2^len(scope_providers) of them.
        """
        self.axis = axis
        self.municipalities = list(municipalities)
        """The rows of the municipality tables (the county's keys), as published."""
        self.lp = LinearModel()
        self.scope_providers = list(scope_providers)
        self.complete = providers_complete
        if provider_sets is None:
            self.sets: list[Scope] = [
                frozenset(c)
                for size in range(len(self.scope_providers) + 1)
                for c in combinations(self.scope_providers, size)
            ]
        else:
            modelled = set(self.scope_providers)
            self.sets = sorted({frozenset(s & modelled) for s in provider_sets}, key=sorted)
        self.providers = [*sorted({*self.scope_providers, *named_providers}), OTHER]
        self.sites = [*sorted(set(named_sites)), OTHER]
        self._persons: dict[tuple[str, int, int, Scope], int] = {}
        for m in self.municipalities:
            for e in axis.moments:
                for x in range(e, axis.n + 2):  # an exit never precedes its entry (intake)
                    for s in self.sets:
                        self._persons[(m, e, x, s)] = self.lp.variable(
                            f"N[{m},{e},{x},{_named(s)}]", upper=axis.bound(e)
                        )
        self._aux: dict[tuple[Any, ...], int] = {}
        self._aux_layers: dict[tuple[Any, ...], dict[int, int]] = {}
        self._modules: dict[tuple[str, str | None], _Module] = {}
        self._outcomes: dict[tuple[int, int, int], int] | None = None
        self._provider_outcomes: dict[str, dict[tuple[int, int, int], int]] = {}
        self._placements: dict[tuple[int, str, str, str, bool], int] | None = None
        self._placements_outside: dict[str, int] = {}
        self._courses: dict[tuple[int, str, str, str], int] | None = None
        self._exams: dict[tuple[int, str, str, bool], int] | None = None
        self._esf_entry: dict[tuple[Any, ...], int] | None = None
        self._esf_results: dict[tuple[int, str, str, Scope], int] | None = None
        self._published_outcomes: set[tuple[str | None, int]] = set()

    # -- the persons family and its shared sums -------------------------------------------

    def _in(self, scope: str | None) -> list[Scope]:
        if scope is not None and scope not in self.scope_providers:
            msg = f"provider {scope!r} is not modelled"
            raise ValueError(msg)
        return [s for s in self.sets if scope is None or scope in s]

    def _sum(self, key: tuple[Any, ...], terms: Callable[[], Iterable[int]]) -> int:
        """A shared sum of variables, defined once (its definition is the identity)."""
        if key not in self._aux:
            self._aux[key] = self.lp.define(_named(key), total_of(terms()))
        return self._aux[key]

    def entries(self, m: str, q: int, s: Scope) -> int:
        """People of municipality m and set s entering in quarter q."""
        n = self.axis.n
        return self._sum(
            ("entries", m, q, s), lambda: (self._persons[(m, q, x, s)] for x in range(q, n + 2))
        )

    def exits(self, m: str, q: int, s: Scope) -> int:
        """People of municipality m and set s exiting in quarter q."""
        return self._sum(
            ("exits", m, q, s), lambda: (self._persons[(m, e, q, s)] for e in range(0, q + 1))
        )

    def caseload(self, m: str, q: int, s: Scope) -> int:
        """People of municipality m and set s entered by the end of q and not exited then."""
        n = self.axis.n
        return self._sum(
            ("caseload", m, q, s),
            lambda: (
                self._persons[(m, e, x, s)] for e in range(0, q + 1) for x in range(q + 1, n + 2)
            ),
        )

    def by_exit(self, x: int, s: Scope) -> int:
        """People of set s exiting in quarter x (after: not exited in the family)."""
        return self._sum(
            ("by-exit", x, s),
            lambda: (
                self._persons[(m, e, x, s)] for m in self.municipalities for e in range(0, x + 1)
            ),
        )

    def by_entry(self, e: int, s: Scope) -> int:
        """People of set s entering in quarter e."""
        n = self.axis.n
        return self._sum(
            ("by-entry", e, s),
            lambda: (
                self._persons[(m, e, x, s)] for m in self.municipalities for x in range(e, n + 2)
            ),
        )

    def by_entry_and_exit(self, e: int, x: int) -> int:
        """Everyone entering in e and exiting in x."""
        return self._sum(
            ("by-entry-exit", e, x),
            lambda: (self._persons[(m, e, x, s)] for m in self.municipalities for s in self.sets),
        )

    def everyone(self) -> int:
        """Every participant counted (the participant count)."""
        return self._sum(("everyone",), self._persons.values)

    # -- modules -------------------------------------------------------------------------

    def _module(self, k: str, scope: str | None) -> _Module:
        found = self._modules.get((k, scope))
        if found is not None:
            return found
        self._in(scope)  # a provider's module table needs the provider modelled
        axis, lp = self.axis, self.lp
        family = _Module()
        for x in axis.moments:
            for f in axis.with_never:
                family.atoms[(x, True, f)] = lp.variable(
                    f"M[{k},{scope},{x},{f}]", upper=axis.bound(f)
                )
            if scope is not None:
                # Outside P's scope no participation with P at all: never started k there.
                family.atoms[(x, False, axis.never)] = lp.variable(f"M[{k},{scope},{x},out]")
        for x in axis.moments:
            if scope is None:
                inside = total_of(family.atoms[(x, True, f)] for f in axis.with_never)
                people = total_of(self.by_exit(x, s) for s in self.sets)
                lp.constrain(combine(inside, _neg(people)), 0, 0, f"module {k} people by exit")
                continue
            inside = total_of(family.atoms[(x, True, f)] for f in axis.with_never)
            scoped = total_of(self.by_exit(x, s) for s in self.sets if scope in s)
            lp.constrain(combine(inside, _neg(scoped)), 0, 0, f"module {k} at {scope} by exit")
            outside = {family.atoms[(x, False, axis.never)]: 1.0}
            rest = total_of(self.by_exit(x, s) for s in self.sets if scope not in s)
            lp.constrain(combine(outside, _neg(rest)), 0, 0, f"module {k} not at {scope}")
        for q in range(1, axis.n + 1):
            # A second start of k in q by someone who had started it before.
            slack = lp.variable(f"restart[{k},{scope},{q}]")
            family.restart[q] = slack
            earlier = total_of(
                family.atoms[(x, True, f)] for x in axis.moments for f in range(0, q)
            )
            lp.at_most({slack: 1.0}, earlier, f"restarts of {k} in {q}")
        self._modules[(k, scope)] = family
        return family

    def module_caseload(self, k: str, q: int, scope: str | None) -> Expression:
        """People who started k (at the scope's provider) by the end of q, not exited then."""
        family = self._module(k, scope)
        return {
            self._sum(
                ("module-caseload", k, scope, q),
                lambda: (
                    family.atoms[(x, True, f)]
                    for x in range(q + 1, self.axis.n + 2)
                    for f in range(0, q + 1)
                ),
            ): 1.0
        }

    def module_entries(self, k: str, q: int, scope: str | None) -> Expression:
        """Distinct people starting k (at the scope's provider) in q."""
        family = self._module(k, scope)
        first = self._sum(
            ("module-first", k, scope, q),
            lambda: (family.atoms[(x, True, q)] for x in self.axis.moments),
        )
        return {first: 1.0, family.restart[q]: 1.0}

    def module_ever(self, k: str) -> Expression:
        """People who ever started k (any provider)."""
        family = self._module(k, None)
        axis = self.axis
        return total_of(
            family.atoms[(x, True, f)] for x in axis.moments for f in range(0, axis.never)
        )

    # -- outcomes (people) -----------------------------------------------------------------

    def _county_outcomes(self) -> dict[tuple[int, int, int], int]:
        if self._outcomes is None:
            axis, lp = self.axis, self.lp
            atoms: dict[tuple[int, int, int], int] = {}
            for e in axis.moments:
                for x in range(e, axis.n + 2):
                    inside = []
                    for f in axis.with_never:
                        atoms[(e, x, f)] = lp.variable(f"O[{e},{x},{f}]", upper=axis.bound(e, f))
                        inside.append(atoms[(e, x, f)])
                    people = {self.by_entry_and_exit(e, x): -1.0}
                    lp.constrain(combine(total_of(inside), people), 0, 0, "outcomes by entry/exit")
            self._outcomes = atoms
        return self._outcomes

    def _outcomes_of(self, provider: str) -> dict[tuple[int, int, int], int]:
        found = self._provider_outcomes.get(provider)
        if found is not None:
            return found
        axis, lp = self.axis, self.lp
        atoms: dict[tuple[int, int, int], int] = {}
        for x in axis.moments:
            for r in axis.moments:
                for f in axis.with_never:
                    atoms[(x, r, f)] = lp.variable(
                        f"O[{provider},{x},{r},{f}]", upper=axis.bound(x, r, f)
                    )
            atoms[(x, axis.never, axis.never)] = lp.variable(f"O[{provider},{x},out]")
            inside = total_of(atoms[(x, r, f)] for r in axis.moments for f in axis.with_never)
            scoped = total_of(self.by_exit(x, s) for s in self.sets if provider in s)
            lp.constrain(combine(inside, _neg(scoped)), 0, 0, f"outcomes of {provider} by exit")
            rest = total_of(self.by_exit(x, s) for s in self.sets if provider not in s)
            lp.constrain(
                combine({atoms[(x, axis.never, axis.never)]: 1.0}, _neg(rest)),
                0,
                0,
                f"not reached by {provider}",
            )
        self._provider_outcomes[provider] = atoms
        return atoms

    def _layers(self, step: str, scope: str | None) -> dict[int, int]:
        """The atoms of a cumulative outcome count by the quarter in which they join it.

        Someone counts as placed at the end of q once both their reaching and their first
        placement lie by q: they join in the later of the two quarters. Each atom is in one
        layer, so a count at q is the sum of the layers up to q (few terms, not the many
        atoms), and its published increment from q-1 is the layer of q itself.
        """
        key = ("layers", step, scope)
        if key in self._aux_layers:
            return self._aux_layers[key]
        axis = self.axis
        # Which moments of an atom's key the step waits for: county keys are (e, x, f), a
        # provider's (x, r, f); one C-level pick per atom (there are tens of thousands).
        if scope is None:
            atoms = self._county_outcomes()
            positions = {"placed": (0, 2), "placed_exited": (0, 1, 2)}[step]
        else:
            atoms = self._outcomes_of(scope)
            positions = {
                "reached": (1, 1),
                "exited": (1, 0),
                "placed": (1, 2),
                "placed_exited": (1, 0, 2),
            }[step]
        pick = itemgetter(*positions)
        members: dict[int, list[int]] = {}
        for atom, variable in atoms.items():
            members.setdefault(max(pick(atom)), []).append(variable)
        layers = {
            quarter: self.lp.define(f"layer[{step},{scope},{quarter}]", total_of(atoms))
            for quarter, atoms in sorted(members.items())
            if quarter <= axis.n
        }
        self._aux_layers[key] = layers
        return layers

    def outcome(self, step: str, q: int, scope: str | None) -> Expression:
        """reached, placed, exited or placed_exited at the end of q (as outcomes_rates.sql)."""
        if scope is None and step == "reached":
            return total_of(self.by_entry(e, s) for e in range(0, q + 1) for s in self.sets)
        if scope is None and step == "exited":
            return total_of(self.by_exit(x, s) for x in range(0, q + 1) for s in self.sets)
        layers = self._layers(step, scope)
        return total_of(layers[k] for k in range(0, q + 1) if k in layers)

    def increment(self, step: str, q: int, scope: str | None) -> Expression:
        """The people joining a cumulative outcome count in quarter q."""
        if scope is None and step == "reached":
            return total_of(self.by_entry(q, s) for s in self.sets)
        if scope is None and step == "exited":
            return total_of(self.by_exit(q, s) for s in self.sets)
        layers = self._layers(step, scope)
        return {layers[q]: 1.0} if q in layers else {}

    def first_placed(self, q: int, scope: str | None) -> Expression:
        """People whose first placement in a placed category (by the provider) is in q."""
        axis = self.axis
        if scope is None:
            atoms = self._county_outcomes()
            return total_of(atoms[(e, x, q)] for e in axis.moments for x in range(e, axis.n + 2))
        own = self._outcomes_of(scope)
        return total_of(own[(x, r, q)] for x in axis.moments for r in axis.moments)

    def ever_placed(self) -> Expression:
        """Everyone with a placement in a placed category (the dashboard's funnel)."""
        axis = self.axis
        atoms = self._county_outcomes()
        return total_of(
            atoms[(e, x, f)]
            for e in axis.moments
            for x in range(e, axis.n + 2)
            for f in range(0, axis.never)
        )

    # -- placements, courses and exams (records) ------------------------------------------

    def _placement_atoms(self) -> dict[tuple[int, str, str, str, bool], int]:
        if self._placements is None:
            self._placements = {
                (q, c, p, site, marginal): self.lp.variable(f"PL[{q},{c},{p},{site},{marginal}]")
                for q in range(1, self.axis.n + 1)
                for c in CATEGORIES
                for p in self.providers
                for site in self.sites
                for marginal in (False, True)
            }
        return self._placements

    def placements(
        self,
        q: int,
        *,
        categories: Iterable[str] = CATEGORIES,
        providers: Iterable[str] | None = None,
        sites: Iterable[str] | None = None,
        marginal_only: bool = False,
    ) -> Expression:
        """Placements starting in q, of these categories, providers and sites."""
        atoms = self._placement_atoms()
        chosen = list(self.providers if providers is None else providers)
        places = list(self.sites if sites is None else sites)
        return total_of(
            atoms[(q, c, p, site, marginal)]
            for c in categories
            for p in chosen
            for site in places
            for marginal in ((True,) if marginal_only else (False, True))
        )

    def placements_ever(self, category: str) -> Expression:
        """Every placement of a category (the quarters of the family, and any outside them)."""
        if category not in self._placements_outside:
            self._placements_outside[category] = self.lp.variable(f"PL-outside[{category}]")
        inside = [self.placements(q, categories=[category]) for q in range(1, self.axis.n + 1)]
        return combine(*inside, {self._placements_outside[category]: 1.0})

    def _course_atoms(self) -> dict[tuple[int, str, str, str], int]:
        if self._courses is None:
            self._courses = {
                (y, k, event, p): self.lp.variable(f"C[{y},{k},{event},{p}]")
                for y in self.axis.years
                for k in COURSE_MODULES
                for event in COURSE_EVENTS
                for p in self.providers
            }
        return self._courses

    def course_facts(self, year: int, k: str, event: str, scope: str | None) -> Expression:
        """Enrolments, completions or drop-outs of module k in a year."""
        atoms = self._course_atoms()
        chosen = self.providers if scope is None else [scope]
        return total_of(atoms[(year, k, event, p)] for p in chosen)

    def _exam_atoms(self) -> dict[tuple[int, str, str, bool], int]:
        if self._exams is None:
            years = [*self.axis.years, 0]  # 0: a year outside the family
            self._exams = {
                (y, level, p, projected): self.lp.variable(f"X[{y},{level},{p},{projected}]")
                for y in years
                for level in EXAM_LEVELS
                for p in self.providers
                for projected in (False, True)
            }
        return self._exams

    def exams(self, year: int | None, level: str, scope: str | None) -> Expression:
        """Exam results of a level: of a year (any person), or ever (projected people only).

        courses_exams.sql counts every stored result, dashboard_exams.sql only those of
        participants in the projection (a result may arrive before its registration).
        """
        atoms = self._exam_atoms()
        chosen = self.providers if scope is None else [scope]
        if year is None:
            return total_of(
                atoms[(y, level, p, True)] for y in [*self.axis.years, 0] for p in self.providers
            )
        return total_of(atoms[(year, level, p, pr)] for p in chosen for pr in (False, True))

    # -- ESF+ ------------------------------------------------------------------------------

    def _entry_atoms(self) -> dict[tuple[Any, ...], int]:
        if self._esf_entry is None:
            atoms: dict[tuple[Any, ...], int] = {}
            for y in self.axis.years:
                for s in self.sets:
                    cell: list[int] = []
                    for combination in _product(list(ESF_DIMENSIONS.values())):
                        atoms[(y, *combination, s)] = self.lp.variable(f"E[{y},{combination}]")
                        cell.append(atoms[(y, *combination, s)])
                    entered = total_of(self.by_entry(e, s) for e in self.axis.of_year(y))
                    self.lp.constrain(
                        combine(total_of(cell), _neg(entered)), 0, 0, "ESF+ entries of a year"
                    )
            self._esf_entry = atoms
        return self._esf_entry

    def esf_entries(self, year: int, dimension: str, value: str, scope: str | None) -> Expression:
        """People entering in `year` with `value` in one ESF+ dimension."""
        atoms = self._entry_atoms()
        position = list(ESF_DIMENSIONS).index(dimension) + 1
        scoped = set(self._in(scope))
        return total_of(
            v
            for key, v in atoms.items()
            if key[0] == year and key[position] == value and key[-1] in scoped
        )

    def _result_atoms(self) -> dict[tuple[int, str, str, Scope], int]:
        if self._esf_results is None:
            atoms: dict[tuple[int, str, str, Scope], int] = {}
            for y in self.axis.years:
                for s in self.sets:
                    cell = []
                    for four in ESF_RESULTS:
                        for six in ESF_RESULTS:
                            atoms[(y, four, six, s)] = self.lp.variable(f"R[{y},{four},{six}]")
                            cell.append(atoms[(y, four, six, s)])
                    exited = total_of(self.by_exit(x, s) for x in self.axis.of_year(y))
                    self.lp.constrain(
                        combine(total_of(cell), _neg(exited)), 0, 0, "ESF+ exits of a year"
                    )
            self._esf_results = atoms
        return self._esf_results

    def esf_result(self, year: int, result: str, window: str, scope: str | None) -> Expression:
        """People exiting in `year` whose last follow-up in `window` falls in `result`."""
        atoms = self._result_atoms()
        scoped = self._in(scope)
        if window == ESF_WINDOWS[0]:
            return total_of(atoms[(year, result, six, s)] for six in ESF_RESULTS for s in scoped)
        return total_of(atoms[(year, four, result, s)] for four in ESF_RESULTS for s in scoped)

    # -- publications -------------------------------------------------------------------------

    def add(self, publication: Publication) -> None:
        """Every cell of a publication, with its expression over the atoms."""
        handlers: dict[str, Callable[[Publication], None]] = {
            "quarterly-monitoring": self._quarterly,
            "snapshot": self._snapshot,
            "outcomes": self._outcomes_report,
            "courses": self._courses_report,
            "esf-indicators": self._esf_report,
            "dashboard": self._dashboard,
            "participants": self._participants,
        }
        handlers[publication.report](publication)

    def _table(
        self,
        source: str,
        name: str,
        table: dict[str, Any],
        truth: dict[str, Any] | None,
        expression: Callable[[str, str], Expression],
        *,
        floor: int | None = None,
    ) -> None:
        """Every position of a published table: cells, and whichever totals it carries.

        `floor`: what its markers tell, where not the rule's (`marker_floor`).
        """
        rows, columns = table["rows"], table["columns"]
        if truth is not None and (truth["rows"] != rows or truth["columns"] != columns):
            msg = f"{source} {name}: the true table has other rows or columns"
            raise ValueError(msg)
        cells: dict[tuple[int, int], Expression] = {}

        def publish(key: CellKey, expr: Expression, *path: str | int) -> None:
            self.lp.publish(
                key,
                expr,
                _cell(_at(table, path)),
                None if truth is None else _cell(_at(truth, path)),
                floor=floor,
            )

        for r, row in enumerate(rows):
            for c, column in enumerate(columns):
                cells[(r, c)] = expression(row, column)
                publish(CellKey(source, name, row, column), cells[(r, c)], "cells", r, c)
        if "column_totals" in table:
            for c, column in enumerate(columns):
                column_sum = combine(*(cells[(r, c)] for r in range(len(rows))))
                publish(CellKey(source, name, "total", column), column_sum, "column_totals", c)
        if "row_totals" in table:
            for r, row in enumerate(rows):
                row_sum = combine(*(cells[(r, c)] for c in range(len(columns))))
                publish(CellKey(source, name, row, "total"), row_sum, "row_totals", r)
        if "total" in table:
            publish(CellKey(source, name, "total", "total"), combine(*cells.values()), "total")

    def _zero(self, source: str, name: str, what: str, expression: Expression) -> None:
        """A row left out because it is empty: the attacker reads it as a published zero."""
        self.lp.publish(CellKey(source, name, what, "(absent)"), expression, 0, 0)

    def _quarterly(self, publication: Publication) -> None:
        q = self.axis.index(_year(publication), _quarter(publication))
        self._quarterly_tables(publication.source, q, publication)

    def _quarterly_tables(self, source: str, q: int, publication: Publication) -> None:
        scope = publication.scope
        scoped = self._in(scope)
        measures: dict[str, Callable[[str, int, Scope], int]] = {
            "entries": self.entries,
            "exits": self.exits,
            "caseload": self.caseload,
        }

        def by_place(m: str, measure: str) -> Expression:
            return total_of(measures[measure](m, q, s) for s in scoped)

        def by_module(k: str, measure: str) -> Expression:
            if measure == "entries":
                return self.module_entries(k, q, scope)
            return self.module_caseload(k, q, scope)

        truth = publication.truth
        floor = marker_floor(publication)
        self._table(
            source,
            "by_municipality",
            publication.published["by_municipality"],
            None if truth is None else truth["by_municipality"],
            by_place,
            floor=floor,
        )
        self._table(
            source,
            "by_module",
            publication.published["by_module"],
            None if truth is None else truth["by_module"],
            by_module,
            floor=floor,
        )

    def _snapshot(self, publication: Publication) -> None:
        if publication.linked:
            q = self.axis.index(_year(publication), _quarter(publication))
            self._quarterly_tables(publication.source, q, publication)
            return
        # Not today's people: a table of its own. Per municipality the people entering and
        # leaving, entering and staying, only leaving, only staying in the quarter.
        lp = self.lp
        atoms = {
            (m, kind): lp.variable(f"snapshot[{publication.source},{m},{kind}]")
            for m in self.municipalities
            for kind in ("in-out", "in-stay", "out", "stay")
        }
        parts = {
            "entries": ("in-out", "in-stay"),
            "exits": ("in-out", "out"),
            "caseload": ("in-stay", "stay"),
        }
        free = {
            (k, measure): lp.variable(f"snapshot[{publication.source},{k},{measure}]")
            for k in MODULES
            for measure in MODULE_MEASURES
        }
        self._table(
            publication.source,
            "by_municipality",
            publication.published["by_municipality"],
            None,
            lambda m, measure: total_of(atoms[(m, kind)] for kind in parts[measure]),
            floor=marker_floor(publication),
        )
        self._table(
            publication.source,
            "by_module",
            publication.published["by_module"],
            None,
            lambda k, measure: {free[(k, measure)]: 1.0},
            floor=marker_floor(publication),
        )

    def _outcomes_report(self, publication: Publication) -> None:
        q = self.axis.index(_year(publication), _quarter(publication))
        scope, source = publication.scope, publication.source
        published, truth = publication.published, publication.truth
        self._published_outcomes.add((scope, q))
        own = None if scope is None else [scope]
        table = published["placements_by_category_and_provider"]
        true_table = None if truth is None else truth["placements_by_category_and_provider"]
        name = "placements_by_category_and_provider"
        if table is None:
            self._zero(source, name, "every category", self.placements(q, providers=own))
        else:
            self._table(
                source,
                name,
                table,
                true_table,
                lambda c, p: self.placements(q, categories=[c], providers=[p]),
            )
            for c in CATEGORIES:
                if c not in table["rows"]:
                    self._zero(source, name, c, self.placements(q, categories=[c], providers=own))
            for p in self.providers if scope is None else []:
                if p not in table["columns"]:
                    self._zero(source, name, f"provider {p}", self.placements(q, providers=[p]))
        sites = published["placements_by_site"]
        self._table(
            source,
            "placements_by_site",
            sites,
            None if truth is None else truth["placements_by_site"],
            lambda site, _: self.placements(q, providers=own, sites=[site]),
        )
        for site in self.sites:
            if site not in sites["rows"]:
                self._zero(
                    source,
                    "placements_by_site",
                    site,
                    self.placements(q, providers=own, sites=[site]),
                )
        headline = {
            "ausbildung": self.placements(q, categories=AUSBILDUNG, providers=own),
            "employment": self.placements(q, categories=["employment"], providers=own),
            "employment_marginal": self.placements(q, providers=own, marginal_only=True),
        }
        self._table(
            source,
            "headline",
            published["headline"],
            None if truth is None else truth["headline"],
            lambda row, _: headline[row],
        )
        self._table(
            source,
            "participants",
            published["participants"],
            None if truth is None else truth["participants"],
            lambda step, _: self.outcome(step, q, scope),
        )

    def _courses_report(self, publication: Publication) -> None:
        year, scope = _year(publication), publication.scope
        truth = publication.truth
        self._table(
            publication.source,
            "people_by_module",
            publication.published["people_by_module"],
            None if truth is None else truth["people_by_module"],
            lambda k, event: self.course_facts(year, k, event, scope),
        )
        self._table(
            publication.source,
            "exam_results",
            publication.published["exam_results"],
            None if truth is None else truth["exam_results"],
            lambda level, _: self.exams(year, level, scope),
        )

    def _esf_report(self, publication: Publication) -> None:
        year, scope = _year(publication), publication.scope
        truth = publication.truth

        def by_value(dimension: str) -> Callable[[str, str], Expression]:
            return lambda value, _: self.esf_entries(year, dimension, value, scope)

        for dimension, table in publication.published["participants_at_entry"].items():
            self._table(
                publication.source,
                f"participants_at_entry.{dimension}",
                table,
                None if truth is None else truth["participants_at_entry"][dimension],
                by_value(dimension),
            )
        self._table(
            publication.source,
            "results_after_exit",
            publication.published["results_after_exit"],
            None if truth is None else truth["results_after_exit"],
            lambda result, window: self.esf_result(year, result, window, scope),
        )

    def _dashboard(self, publication: Publication) -> None:
        source, published, truth = publication.source, publication.published, publication.truth
        measures: dict[str, Callable[[str, int, Scope], int]] = {
            "entries": self.entries,
            "exits": self.exits,
            "caseload": self.caseload,
        }

        def quarter(label: str, measure: str) -> Expression:
            q = self.axis.of_label(label)
            return total_of(
                measures[measure](m, q, s) for m in self.municipalities for s in self.sets
            )

        self._table(
            source,
            "quarters",
            published["quarters"],
            None if truth is None else truth["quarters"],
            quarter,
        )
        coached = self.lp.variable("coached")
        f1, f6 = self.module_ever("F1"), self.module_ever("F6")
        self.lp.at_most(f1, {coached: 1.0}, "coached includes F1")
        self.lp.at_most(f6, {coached: 1.0}, "coached includes F6")
        self.lp.at_most({coached: 1.0}, combine(f1, f6), "coached is F1 or F6")
        funnel = {
            "registered": {self.everyone(): 1.0},
            "coached": {coached: 1.0},
            "placed": self.ever_placed(),
        }
        self._table(
            source,
            "funnel",
            published["funnel"],
            None if truth is None else truth["funnel"],
            lambda step, _: funnel[step],
        )
        categories = published["placements_by_category"]
        self._table(
            source,
            "placements_by_category",
            categories,
            None if truth is None else truth["placements_by_category"],
            lambda c, _: self.placements_ever(c),
        )
        for c in CATEGORIES:
            if c not in categories["rows"]:
                self._zero(source, "placements_by_category", c, self.placements_ever(c))
        exams = published["exam_results"]
        self._table(
            source,
            "exam_results",
            exams,
            None if truth is None else truth["exam_results"],
            lambda level, _: self.exams(None, level, None),
        )
        for level in EXAM_LEVELS:
            if level not in exams["rows"]:
                self._zero(source, "exam_results", level, self.exams(None, level, None))

    def _participants(self, publication: Publication) -> None:
        count = publication.published["participants"]
        truth = None if publication.truth is None else publication.truth["participants"]
        self.lp.publish(
            CellKey(publication.source, "participants", "participants", "count"),
            {self.everyone(): 1.0},
            _cell(count),
            None if truth is None else _cell(truth),
        )

    # -- links between families, once every publication is in ------------------------------

    def finish(self) -> LinearModel:
        """Add the explicit links between families that exist; the finished model."""
        self._module_links()
        self._outcome_links()
        self._placement_links()
        self._increments()
        return self.lp

    def _module_links(self) -> None:
        axis, lp = self.axis, self.lp
        if self.complete and self.scope_providers:
            for k in MODULES:
                if (k, None) not in self._modules:
                    continue
                for q in range(1, axis.n + 1):
                    for measure in (self.module_caseload, self.module_entries):
                        county = measure(k, q, None)
                        each = [measure(k, q, p) for p in self.scope_providers]
                        for own in each:
                            lp.at_most(own, county, f"module {k}: a provider within the county")
                        lp.at_most(county, combine(*each), f"module {k}: county within providers")

    def _outcome_links(self) -> None:
        lp = self.lp
        for scope, q in sorted(self._published_outcomes, key=lambda sq: (sq[0] or "", sq[1])):
            if scope is None:
                continue
            lp.at_most(
                self.outcome("reached", q, scope),
                total_of(self.by_entry(e, s) for e in range(0, q + 1) for s in self._in(scope)),
                f"reached by {scope} only after entry",
            )
            lp.at_most(
                self.outcome("exited", q, scope),
                total_of(self.by_exit(x, s) for x in range(0, q + 1) for s in self._in(scope)),
                f"exited of {scope} are exited",
            )
            if (None, q) in self._published_outcomes:
                lp.at_most(
                    self.outcome("placed", q, scope),
                    self.outcome("placed", q, None),
                    f"placed by {scope} are placed",
                )

    def _placement_links(self) -> None:
        axis, lp = self.axis, self.lp
        if self._placements is not None:
            for q in range(1, axis.n + 1):
                if self._outcomes is not None:
                    lp.at_most(
                        self.first_placed(q, None),
                        self.placements(q, categories=PLACED_CATEGORIES),
                        "a first placement is a placement",
                    )
                for provider in self._provider_outcomes:
                    lp.at_most(
                        self.first_placed(q, provider),
                        self.placements(q, categories=PLACED_CATEGORIES, providers=[provider]),
                        f"a first placement by {provider} is one of its placements",
                    )

    def _increments(self) -> None:
        """The quarter-on-quarter increments of the cumulative outcome counts, where published.

        Implied by the published values (no new knowledge), but written as the layer of
        atoms joining in the quarter they let the solver drop every atom of a quarter in
        which nothing happened.
        """
        published = {
            cell.key: cell.published
            for cell in self.lp.cells
            if cell.key.table == "participants" and cell.published is not None
        }
        for scope, q in self._published_outcomes:
            if (scope, q - 1) not in self._published_outcomes:
                continue
            for step in ("reached", "placed", "exited", "placed_exited"):
                now = self._outcome_value(published, scope, q, step)
                before = self._outcome_value(published, scope, q - 1, step)
                if now is None or before is None:
                    continue
                grown = self.increment(step, q, scope)
                self.lp.constrain(grown, now - before, now - before, "increment")

    def _outcome_value(
        self, published: Mapping[CellKey, int | None], scope: str | None, q: int, step: str
    ) -> int | None:
        year, quarter = self.axis.quarters[q - 1]
        source = Publication("outcomes", {}, None, year, quarter, scope).source
        return published.get(CellKey(source, "participants", step, "participants"))


LINKED_PROTECTION = "linked-tables"
"""`disclosure_control` of a report protected over every linked table
(`reporting.release`): it never withholds a zero, so each of its markers hides at least 1."""


def marker_floor(publication: Publication) -> int | None:
    """What a publication's markers tell where the audit rule may not know it.

    A snapshot frozen before linked-table protection (no `disclosure_control`) was
    suppressed line by line, which may withhold a zero: its markers tell nothing (0).
    """
    if publication.report == "snapshot" and (
        publication.published.get("disclosure_control") != LINKED_PROTECTION
    ):
        return 0
    return None


def _at(table: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, Any]:
    """The published cell at `path`: ("cells", r, c), ("column_totals", c), ("total",)."""
    found: Any = table
    for step in path:
        found = found[step]
    cell: dict[str, Any] = found
    return cell


def _neg(expression: Expression) -> dict[int, float]:
    return {v: -c for v, c in expression.items()}


def _year(publication: Publication) -> int:
    if publication.year is None:
        msg = f"{publication.report} needs a year"
        raise ValueError(msg)
    return publication.year


def _quarter(publication: Publication) -> int:
    if publication.quarter is None:
        msg = f"{publication.report} needs a quarter"
        raise ValueError(msg)
    return publication.quarter


@cache
def _product_cached(sizes: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    combos: list[tuple[str, ...]] = [()]
    for values in sizes:
        combos = [(*c, v) for c in combos for v in values]
    return tuple(combos)


def _product(dimensions: list[list[str]]) -> tuple[tuple[str, ...], ...]:
    return _product_cached(tuple(tuple(d) for d in dimensions))


def build_model(
    publications: Sequence[Publication],
    axis: TimeAxis,
    scope_providers: Sequence[str],
    *,
    providers_complete: bool,
    provider_sets: Iterable[Scope] | None = None,
) -> LinearModel:
    """The attacker's model of a role's publications (one population, one period family).

    `provider_sets`: see `ReportingModel`.
    """
    named_providers: set[str] = set()
    named_sites: set[str] = set()
    municipalities: list[str] = []
    for publication in publications:
        if publication.report == "quarterly-monitoring" and not municipalities:
            municipalities = list(publication.published["by_municipality"]["rows"])
        if publication.report == "outcomes":
            table = publication.published["placements_by_category_and_provider"]
            if table is not None:
                named_providers.update(table["columns"])
            named_sites.update(publication.published["placements_by_site"]["rows"])
    model = ReportingModel(
        axis,
        scope_providers,
        providers_complete=providers_complete,
        named_providers=named_providers,
        named_sites=named_sites,
        provider_sets=provider_sets,
        municipalities=municipalities or [OTHER],
    )
    for publication in publications:
        model.add(publication)
    return model.finish()


__all__ = [
    "FIRST_YEAR",
    "QUARTER_MEASURES",
    "Publication",
    "ReportingModel",
    "TimeAxis",
    "build_model",
]
