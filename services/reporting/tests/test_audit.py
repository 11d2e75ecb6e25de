"""The disclosure audit: it recovers what line-only suppression leaves open, finds protected
tables safe, and its intervals are exact (every end is attained by a consistent table)."""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from durchstarten.events.values import HERFORD_KEYS
from reporting.audit import (
    INF,
    CellKey,
    InconsistentModel,
    LinearModel,
    ProtectionRule,
    Solver,
    audit,
    interval,
)
from reporting.audit_collect import allowed_scopes, audiences, derived_problems, file_problems
from reporting.audit_model import (
    CATEGORIES,
    MODULES,
    Publication,
    TimeAxis,
    build_model,
)
from reporting.disclosure import protect_table, table_json
from reporting.facts import PLACED_CATEGORIES
from reporting.protection import Protection, protect, withheld
from reporting.reports import MODULE_MEASURES, QUARTER_MEASURES

YEAR = 2019
AXIS = TimeAxis(YEAR, YEAR)
RULE = ProtectionRule(threshold=3)
SERVED = ProtectionRule(threshold=3, hidden_minimum=1)
"""The service's rule: the protection never withholds a zero, so a marker means >= 1."""

MUNICIPALITIES = sorted(HERFORD_KEYS.values())
"""The rows of the municipality tables: Kreis Herford's keys."""


# -- a small history and the reports reporting would publish of it (as the SQL counts) ----


@dataclass
class Person:
    municipality: str
    entry: int  # quarter index 1..4
    exit: int | None = None
    participations: list[tuple[str, str, int]] = field(default_factory=list)  # module, provider, q
    placements: list[tuple[str, str, str, int]] = field(
        default_factory=list
    )  # provider, cat, site, q


def _protected(
    rows: list[str], columns: list[str], values: list[list[int]], threshold: int, totals: bool
) -> dict[str, Any]:
    return table_json(
        protect_table(rows, columns, values, min_cell_count=threshold, with_row_totals=totals)
    )


def _in_scope(person: Person, scope: str | None) -> bool:
    return scope is None or any(p == scope for _, p, _ in person.participations)


def quarterly(people: list[Person], q: int, scope: str | None, threshold: int) -> dict[str, Any]:
    """quarterly_monitoring of quarter q (of YEAR) for these people."""
    scoped = [p for p in people if _in_scope(p, scope)]
    places = []
    for m in MUNICIPALITIES:
        here = [p for p in scoped if p.municipality == m]
        places.append(
            [
                sum(p.entry == q for p in here),
                sum(p.exit == q for p in here),
                sum(p.entry <= q and (p.exit is None or p.exit > q) for p in here),
            ]
        )
    modules = []
    for k in MODULES:
        starts = {
            id(p): [s for mod, prov, s in p.participations if mod == k and scope in (None, prov)]
            for p in people
        }
        modules.append(
            [
                sum(q in starts[id(p)] for p in people),
                sum(
                    any(s <= q for s in starts[id(p)]) and (p.exit is None or p.exit > q)
                    for p in people
                ),
            ]
        )
    return {
        "by_municipality": _protected(MUNICIPALITIES, QUARTER_MEASURES, places, threshold, False),
        "by_module": _protected(MODULES, MODULE_MEASURES, modules, threshold, False),
    }


def outcomes(people: list[Person], q: int, scope: str | None, threshold: int) -> dict[str, Any]:
    """outcomes of quarter q (of YEAR): the tables the audit models."""
    placements = [
        (prov, cat, site)
        for p in people
        for prov, cat, site, s in p.placements
        if s == q and scope in (None, prov)
    ]
    categories = sorted({c for _, c, _ in placements})
    providers = sorted({prov for prov, _, _ in placements})
    by_category = (
        _protected(
            categories,
            providers,
            [
                [sum(1 for x in placements if x[:2] == (p, c)) for p in providers]
                for c in categories
            ],
            threshold,
            True,
        )
        if categories
        else None
    )
    sites = sorted({site for _, _, site in placements})
    by_site = _protected(
        sites,
        ["placements"],
        [[sum(x[2] == s for x in placements)] for s in sites],
        threshold,
        False,
    )
    headline = _protected(
        ["ausbildung", "employment", "employment_marginal"],
        ["placements"],
        [
            [sum(c.startswith("ausbildung") for _, c, _ in placements)],
            [sum(c == "employment" for _, c, _ in placements)],
            [0],
        ],
        threshold,
        False,
    )

    def reached(p: Person) -> bool:
        if scope is None:
            return p.entry <= q
        return p.entry <= q and any(prov == scope and s <= q for _, prov, s in p.participations)

    def placed(p: Person) -> bool:
        return any(
            c in PLACED_CATEGORIES and s <= q and scope in (None, prov)
            for prov, c, _, s in p.placements
        )

    def exited(p: Person) -> bool:
        return p.exit is not None and p.exit <= q

    counted = [p for p in people if reached(p)]
    steps = [
        len(counted),
        sum(placed(p) for p in counted),
        sum(exited(p) for p in counted),
        sum(placed(p) and exited(p) for p in counted),
    ]
    participants = _protected(
        ["reached", "placed", "exited", "placed_exited"],
        ["participants"],
        [[v] for v in steps],
        threshold,
        False,
    )
    participants.pop("column_totals")
    return {
        "placements_by_category_and_provider": by_category,
        "placements_by_site": by_site,
        "headline": headline,
        "participants": participants,
    }


def publications(
    people: list[Person], scopes: list[str | None], threshold: int = 3, *, axis: TimeAxis = AXIS
) -> list[Publication]:
    """Every quarterly table and outcome report of the axis for these scopes, with its truth.

    A person's quarters are indices of `axis` (1 its first quarter).
    """
    found = []
    for q, (year, quarter) in enumerate(axis.quarters, start=1):
        for scope in scopes:
            for report, make in (("quarterly-monitoring", quarterly), ("outcomes", outcomes)):
                found.append(
                    Publication(
                        report,
                        make(people, q, scope, threshold),
                        make(people, q, scope, 1),
                        year=year,
                        quarter=quarter,
                        scope=scope,
                    )
                )
    return found


def county_model(people: list[Person], threshold: int = 3) -> LinearModel:
    """What the ministry knows: the county's tables of every quarter."""
    return build_model(publications(people, [None], threshold), AXIS, [], providers_complete=False)


def finding(model: LinearModel, rule: ProtectionRule, key: CellKey) -> Any:
    """The audit's finding on one cell (searched among the cells sharing its count too)."""
    report = audit(model, rule, every_hidden_cell=True)
    return next(f for f in report.findings if key == f.key or key in f.also)


def county_total(q: int, column: str) -> CellKey:
    return CellKey(f"quarterly-monitoring {YEAR}-Q{q} county", "by_municipality", "total", column)


# -- the audit recovers what the line-only suppression leaves open -------------------------


def test_the_caseload_recursion_recovers_hidden_exits() -> None:
    # Herford's 2019: caseload 15 at the end of Q3, 6 entries in Q4, 2 exits, caseload 19.
    people = [Person("05758012", 3) for _ in range(9)] + [Person("05758004", 3) for _ in range(6)]
    people[0].exit = people[1].exit = 4
    people += [Person("05758024", 4) for _ in range(6)]
    q3, q4 = quarterly(people, 3, None, 3), quarterly(people, 4, None, 3)
    totals = q4["by_municipality"]["column_totals"]
    assert q3["by_municipality"]["column_totals"][2]["value"] == 15
    assert [t["value"] for t in totals] == [6, None, 19]  # exits hidden, line by line safe

    found = finding(county_model(people), RULE, county_total(4, "exits"))
    assert (found.interval.lower, found.interval.upper) == (2, 2)  # 15 + 6 - 19
    assert not found.safe


def test_two_small_cells_in_one_row_protect_each_other_too_little() -> None:
    # Each line has two hidden cells, but the row's two 1s can only trade within 0..2.
    values = [[1, 1, 100], [50, 60, 9]]
    published = _protected(["a", "b"], ["x", "y", "z"], values, 3, True)
    truth = _protected(["a", "b"], ["x", "y", "z"], values, 1, True)
    assert sum(c["suppressed"] for line in published["cells"] for c in line) == 4
    model = table_model(published, truth)
    report = audit(model, RULE)
    unsafe = {f.key.row + f.key.column: (f.interval.lower, f.interval.upper) for f in report.unsafe}
    assert unsafe == {"ax": (0, 2), "ay": (0, 2)}


def test_a_properly_protected_table_is_safe() -> None:
    values = [[1, 5, 7], [4, 6, 9], [8, 3, 10]]
    published = _protected(["a", "b", "c"], ["x", "y", "z"], values, 3, True)
    truth = _protected(["a", "b", "c"], ["x", "y", "z"], values, 1, True)
    report = audit(table_model(published, truth), RULE)
    assert report.findings  # the 1 is audited
    assert report.unsafe == ()
    (one,) = report.findings
    assert one.interval.upper >= 3


def test_a_county_table_differenced_against_the_providers_is_found() -> None:
    # Eight people coached by Diakonie (F1), one in IN VIA's F2. The county's module table
    # hides F2's 1 and, line by line, F1's 8 as its partner; but Diakonie's own table shows
    # its 8 F1 entries and IN VIA's shows none in F1, so the county's F1 is 8, F2 is 9 - 8.
    people = [Person("05758012", 1, participations=[("F1", "diakonie", 1)]) for _ in range(8)]
    people.append(Person("05758012", 1, participations=[("F2", "in-via", 1)]))
    county = quarterly(people, 1, None, 3)["by_module"]
    assert [line[0]["value"] for line in county["cells"][:2]] == [None, None]
    assert county["column_totals"][0]["value"] == 9
    pubs = publications(people, [None, "diakonie", "in-via"])
    model = build_model(pubs, AXIS, ["diakonie", "in-via"], providers_complete=True)
    key = CellKey(f"quarterly-monitoring {YEAR}-Q1 county", "by_module", "F2", "entries")
    found = finding(model, RULE, key)
    assert found.truth == 1
    assert (found.interval.lower, found.interval.upper) == (1, 1)
    # The ministry, without the providers' tables, cannot do it.
    alone = finding(county_model(people), RULE, key)
    assert alone.safe


def test_a_model_that_contradicts_the_truth_is_refused() -> None:
    model = LinearModel()
    a, b = model.variable("a"), model.variable("b")
    model.publish(CellKey("t", "t", "r", "a"), {a: 1.0}, None, 1)
    model.publish(CellKey("t", "t", "r", "total"), {a: 1.0, b: 1.0}, 5, 5)
    model.constrain({b: 1.0}, 5, 5, "a wrong identity")  # forces a = 0, but a is 1
    with pytest.raises(InconsistentModel):
        audit(model, RULE)


# -- the intervals are exact: attained by consistent tables, equal to brute force ------------


def table_model(published: dict[str, Any], truth: dict[str, Any] | None) -> LinearModel:
    """A two-way table with its published totals: the interior cells are the atoms."""
    model = LinearModel()
    rows, columns = published["rows"], published["columns"]
    atoms = {(r, c): model.variable(f"{r},{c}") for r in rows for c in columns}

    def value(cell: dict[str, Any]) -> int | None:
        return None if cell["suppressed"] else int(cell["value"])

    def true(path: Any) -> int | None:
        return None if truth is None else value(path(truth))

    for i, r in enumerate(rows):
        for j, c in enumerate(columns):
            model.publish(
                CellKey("t", "t", r, c),
                {atoms[(r, c)]: 1.0},
                value(published["cells"][i][j]),
                true(lambda t, i=i, j=j: t["cells"][i][j]),
            )
    for j, c in enumerate(columns):
        model.publish(
            CellKey("t", "t", "total", c),
            {atoms[(r, c)]: 1.0 for r in rows},
            value(published["column_totals"][j]),
            true(lambda t, j=j: t["column_totals"][j]),
        )
    if "row_totals" in published:
        for i, r in enumerate(rows):
            model.publish(
                CellKey("t", "t", r, "total"),
                {atoms[(r, c)]: 1.0 for c in columns},
                value(published["row_totals"][i]),
                true(lambda t, i=i: t["row_totals"][i]),
            )
        model.publish(
            CellKey("t", "t", "total", "total"),
            dict.fromkeys(atoms.values(), 1.0),
            value(published["total"]),
            true(lambda t: t["total"]),
        )
    return model


def consistent(model: LinearModel, rule: ProtectionRule, values: tuple[float, ...]) -> bool:
    """Whether a table (every variable's value) agrees with everything published."""
    tolerance = 1e-6

    def at(expression: Any) -> float:
        return float(sum(c * values[v] for v, c in expression.items()))

    if any(
        not model.lower[v] - tolerance <= x <= model.upper[v] + tolerance
        for v, x in enumerate(values)
    ):
        return False
    for cell in model.cells:
        got = at(cell.expression)
        if cell.published is None and got < rule.hidden_minimum - tolerance:
            return False
        if cell.published is not None and abs(got - cell.published) > tolerance:
            return False
    return all(
        c.lower - tolerance <= at(c.expression) <= c.upper + tolerance for c in model.constraints
    )


def assert_attained(model: LinearModel, rule: ProtectionRule, limit: int | None = None) -> None:
    """Each hidden cell's min and max is attained by a table agreeing with the publication.

    `limit`: only the first so many hidden cells (integer programmes take longer).
    """
    solver = Solver(model, rule)
    hidden = [cell for cell in model.cells if cell.published is None]
    for cell in hidden[:limit]:
        for bound in (solver.minimum(cell.expression), solver.maximum(cell.expression)):
            if math.isinf(bound.value):
                continue
            assert bound.witness is not None
            assert consistent(model, rule, bound.witness)
            got = sum(c * bound.witness[v] for v, c in cell.expression.items())
            assert got == pytest.approx(bound.value, abs=1e-6)
            if rule.integer:
                assert all(x == pytest.approx(round(x), abs=1e-6) for x in bound.witness)
        if cell.truth is not None:
            found = interval(solver, cell.expression, rule)
            assert found.lower is not None
            assert found.lower <= cell.truth <= found.upper  # the truth is never excluded


CAP = 9
"""Brute force looks at hidden values up to this; reaching it stands for "unbounded"."""


def brute_force(
    published: dict[str, Any], rule: ProtectionRule
) -> dict[tuple[str, str], tuple[int, int]]:
    """Every hidden position's min and max over all integer tables that fit the publication."""
    rows, columns = published["rows"], published["columns"]
    hidden = [
        (i, j)
        for i in range(len(rows))
        for j in range(len(columns))
        if published["cells"][i][j]["suppressed"]
    ]
    known = {
        (i, j): int(published["cells"][i][j]["value"])
        for i in range(len(rows))
        for j in range(len(columns))
        if (i, j) not in hidden
    }
    seen: dict[tuple[str, str], list[int]] = {}
    for guess in itertools.product(range(CAP + 1), repeat=len(hidden)):
        table = {**known, **dict(zip(hidden, guess, strict=True))}
        positions: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        for i, r in enumerate(rows):
            for j, c in enumerate(columns):
                positions[(r, c)] = (table[(i, j)], published["cells"][i][j])
        for j, c in enumerate(columns):
            column = sum(table[(i, j)] for i in range(len(rows)))
            positions[("total", c)] = (column, published["column_totals"][j])
        if "row_totals" in published:
            for i, r in enumerate(rows):
                row = sum(table[(i, j)] for j in range(len(columns)))
                positions[(r, "total")] = (row, published["row_totals"][i])
            positions[("total", "total")] = (sum(table.values()), published["total"])
        fits = all(
            (cell["suppressed"] and v >= rule.hidden_minimum)
            or (not cell["suppressed"] and v == cell["value"])
            for v, cell in positions.values()
        )
        if fits:
            for where, (v, cell) in positions.items():
                if cell["suppressed"]:
                    seen.setdefault(where, []).append(v)
    return {where: (min(vs), max(vs)) for where, vs in seen.items()}


tables = st.tuples(st.integers(1, 3), st.integers(1, 3)).flatmap(
    lambda shape: st.lists(
        st.lists(st.integers(0, 4), min_size=shape[1], max_size=shape[1]),
        min_size=shape[0],
        max_size=shape[0],
    )
)


@settings(max_examples=60)
@given(tables, st.booleans(), st.booleans())
def test_intervals_equal_those_of_brute_force(
    values: list[list[int]], with_row_totals: bool, integer: bool
) -> None:
    rows = [f"r{i}" for i in range(len(values))]
    columns = [f"c{j}" for j in range(len(values[0]))]
    published = _protected(rows, columns, values, 3, with_row_totals)
    hidden = sum(c["suppressed"] for line in published["cells"] for c in line)
    assume(0 < hidden <= 4)
    rule = ProtectionRule(threshold=3, integer=integer)
    model = table_model(published, _protected(rows, columns, values, 1, with_row_totals))
    assert_attained(model, rule)
    solver = Solver(model, rule)
    everything = brute_force(published, rule)
    for cell in model.cells:
        if cell.published is None:
            found = interval(solver, cell.expression, rule)
            low, high = everything[(cell.key.row, cell.key.column)]
            assert found.lower == low
            # Without a published bound a hidden count can grow without end (brute force
            # stops at CAP); otherwise the LP's inward-rounded end is the integer one.
            assert found.upper == high or (high >= CAP and found.upper >= CAP)


municipalities = st.sampled_from(MUNICIPALITIES[:3])
providers = st.sampled_from(["diakonie", "in-via"])


@st.composite
def people_of(draw: st.DrawFn) -> list[Person]:
    """A small year of history: entries, exits, module starts, placements."""
    found = []
    for _ in range(draw(st.integers(1, 14))):
        entry = draw(st.integers(1, 4))
        exit_ = draw(st.none() | st.integers(entry, 4))
        person = Person(draw(municipalities), entry, exit_)
        for _ in range(draw(st.integers(0, 2))):
            module = draw(st.sampled_from(["F1", "F2", "F6"]))
            person.participations.append((module, draw(providers), draw(st.integers(entry, 4))))
        placed: bool = draw(st.booleans())
        if person.participations and placed:
            _, provider, start = person.participations[0]
            category = draw(st.sampled_from([*CATEGORIES[:4], "regular-system"]))
            site = draw(st.sampled_from(["herford", "buende"]))
            person.placements.append((provider, category, site, draw(st.integers(start, 4))))
        found.append(person)
    return found


@settings(max_examples=25)
@given(people_of(), st.booleans())
def test_linked_tables_give_attained_intervals_that_hold_the_truth(
    people: list[Person], coordinator: bool
) -> None:
    scopes: list[str | None] = [None, "diakonie", "in-via"] if coordinator else [None]
    model = build_model(
        publications(people, scopes),
        AXIS,
        ["diakonie", "in-via"] if coordinator else [],
        providers_complete=coordinator,
    )
    report = audit(model, RULE, every_hidden_cell=True)  # raises if the truth does not fit
    for found in report.findings:
        if found.truth is not None and found.interval.lower is not None:
            assert found.interval.lower <= found.truth <= found.interval.upper
    assert_attained(model, RULE)
    assert_attained(model, ProtectionRule(threshold=3, integer=True), limit=4)


@settings(max_examples=25)
@given(people_of())
def test_a_provider_sees_only_its_own_scope(people: list[Person]) -> None:
    model = build_model(
        publications(people, ["in-via"]), AXIS, ["in-via"], providers_complete=False
    )
    report = audit(model, RULE, every_hidden_cell=True)
    assert all(f.key.source.endswith("in-via") for f in report.findings)
    assert_attained(model, RULE)


def test_an_unbounded_cell_is_safe() -> None:
    model = LinearModel()
    a, b = model.variable("a"), model.variable("b")
    model.publish(CellKey("t", "t", "r", "a"), {a: 1.0}, None, 1)
    model.publish(CellKey("t", "t", "r", "b"), {b: 1.0}, None, 7)
    (found,) = audit(model, RULE).findings
    assert found.safe
    assert found.interval.upper == INF


# -- the collector's rules: scopes per role, files and rates ---------------------------------


def test_each_role_is_audited_over_the_scopes_the_api_gives_it() -> None:
    providers = ["diakonie", "in-via"]
    scopes = {a.name: allowed_scopes(a.principal, providers) for a in audiences(providers)}
    assert scopes == {
        "ministry": [None],
        "coordinator": [None, "diakonie", "in-via"],
        "provider diakonie": ["diakonie"],
        "provider in-via": ["in-via"],
    }


def test_files_carry_the_numbers_of_the_json_and_rates_follow_their_counts() -> None:
    people = [Person("05758012", 1) for _ in range(5)] + [Person("05758004", 1)]
    people[0].placements.append(("diakonie", "employment", "herford", 1))
    report = {"report": "outcomes", **outcomes(people, 1, None, 3), "min_cell_count": 3}
    report |= {"placement_rate_reached": 0.2, "placement_rate_exited": None}
    assert file_problems(report) == []
    publication = Publication("outcomes", report, None, year=YEAR, quarter=1)
    # "placed" is 1, hidden: the rate 1/5 would give it away.
    assert derived_problems(publication) == [
        f"{publication.source}: placement_rate_reached published over a hidden count"
    ]


# -- protection over the union of every role's tables (reporting.protection) --------------

SCOPES: list[str | None] = [None, "diakonie", "in-via"]
ROLES: list[tuple[list[str | None], list[str], bool]] = [
    ([None], [], False),  # the ministry: the county only
    (SCOPES, ["diakonie", "in-via"], True),  # the coordinator: every scope (the union)
    (["diakonie"], ["diakonie"], False),
    (["in-via"], ["in-via"], False),
]


def truth_model(
    people: list[Person],
    scopes: list[str | None],
    sp: list[str],
    c: bool,
    *,
    axis: TimeAxis = AXIS,
) -> Any:
    """The model of these scopes' reports published unsuppressed (the protection's input)."""
    found = [
        Publication(p.report, p.truth or {}, p.truth, year=p.year, quarter=p.quarter, scope=p.scope)
        for p in publications(people, scopes, axis=axis)
    ]
    return build_model(found, axis, sp, providers_complete=c)


def protected_union(people: list[Person], *, joint: bool = True, verify: bool = True) -> Protection:
    model = truth_model(people, SCOPES, ["diakonie", "in-via"], True)
    return protect(model, SERVED, joint=joint, verify=verify)


def assert_every_role_safe(
    people: list[Person], protection: Protection, *, also_unknowing: bool = True
) -> None:
    for scopes, scope_providers, complete in ROLES:
        model = withheld(truth_model(people, scopes, scope_providers, complete), protection.hidden)
        assert audit(model, SERVED).unsafe == (), scopes
        if also_unknowing:
            # An attacker who takes a marker for "maybe zero" knows less: safe all the more.
            assert audit(model, RULE).unsafe == (), scopes


def random_people(rng: random.Random, n: int) -> list[Person]:
    """A year of history with many small cells."""
    found = []
    for _ in range(n):
        entry = rng.randint(1, 4)
        person = Person(
            rng.choice(MUNICIPALITIES[:4]), entry, rng.choice([None, rng.randint(entry, 4)])
        )
        for _ in range(rng.randint(0, 2)):
            module = rng.choice(["F1", "F2", "F6"])
            person.participations.append(
                (module, rng.choice(["diakonie", "in-via"]), rng.randint(entry, 4))
            )
        if person.participations and rng.random() < 0.5:
            _, provider, start = person.participations[0]
            category = rng.choice([*CATEGORIES[:4], "regular-system"])
            site = rng.choice(["herford", "buende"])
            person.placements.append((provider, category, site, rng.randint(start, 4)))
        found.append(person)
    return found


@settings(max_examples=12, deadline=None)
@given(people_of())
def test_protection_of_the_union_leaves_no_role_an_unsafe_cell(people: list[Person]) -> None:
    assert_every_role_safe(people, protected_union(people))


ADVERSARIAL = {
    "one person": [Person("05758012", 1, 3, [("F1", "in-via", 1)])],
    "one provider with one participant": [
        *(Person("05758012", 1, None, [("F1", "diakonie", 1)]) for _ in range(12)),
        Person("05758004", 2, None, [("F2", "in-via", 2)]),
    ],
    "single-person municipalities": [
        Person(m, 1 + i % 4, None, [("F1", "diakonie", 1 + i % 4)])
        for i, m in enumerate(MUNICIPALITIES)
    ],
    "quarters with one exit": [
        *(Person("05758012", 1, None, [("F1", "diakonie", 1)]) for _ in range(9)),
        *(Person("05758012", 1, q, [("F1", "diakonie", 1)]) for q in (2, 3, 4)),
    ],
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_protection_holds_on_adversarial_histories(name: str) -> None:
    people = ADVERSARIAL[name]
    assert_every_role_safe(people, protected_union(people))


def _random_history_verdict(seed: int) -> tuple[int, int]:
    """Protect random history `seed` and audit every role over the pattern (asserting).

    Returns the positions withheld by the joint table then the search, and by the search
    alone, for every 20th seed (0, 0 for the others).
    """
    rng = random.Random(seed)
    people = random_people(rng, rng.randint(1, 25))
    # Unverified, as the service computes it: the role audits below are the proof.
    protection = protected_union(people, verify=False)
    assert_every_role_safe(people, protection, also_unknowing=seed % 10 == 0)
    if seed % 10 == 0:
        again = protected_union(people, verify=False)
        assert again.hidden == protection.hidden, seed  # same data, same pattern
    if seed % 20 == 0:
        # What the joint table costs against the cell-by-cell search alone (measured).
        searched = protected_union(people, joint=False, verify=False)
        return len(protection.hidden), len(searched.hidden)
    return 0, 0


def test_protection_of_200_random_histories_is_safe_and_deterministic() -> None:
    # Independent histories, each a few linear programmes: one process per core (forked,
    # so each has this module as it is). A failed assertion in one is raised here.
    workers = min(2, os.cpu_count() or 1)
    forked = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=forked) as pool:
        verdicts = list(pool.map(_random_history_verdict, range(200)))
    joint_hidden = sum(joint for joint, _ in verdicts)
    searched_hidden = sum(searched for _, searched in verdicts)
    print("positions withheld, joint then search:", joint_hidden, "search only:", searched_hidden)
    assert joint_hidden <= 2 * searched_hidden


def test_one_more_event_moves_little_of_the_pattern() -> None:
    changed, sizes = [], []
    for seed in range(15):
        rng = random.Random(seed)
        people = random_people(rng, rng.randint(1, 25))
        protection = protected_union(people)
        # One more event (a new person entering): how much of the pattern moves.
        more = [*people, Person(rng.choice(MUNICIPALITIES[:4]), rng.randint(1, 4))]
        after = protected_union(more)
        changed.append(len(after.hidden ^ protection.hidden))
        sizes.append(len(truth_model(more, SCOPES, ["diakonie", "in-via"], True).cells))
    print("changed positions after one event:", changed, "of about", max(sizes))  # measured
    # A new person changes the cells that count them; the pattern around them follows, but
    # never a large part of the tables.
    assert max(changed) <= max(sizes) // 4
    assert sum(changed) / len(changed) <= max(sizes) / 10


def test_the_known_attack_fails_under_protection() -> None:
    # Herford's 2019: caseload 15 at the end of Q3, 6 entries in Q4, 2 exits, caseload 19.
    people = [Person("05758012", 3) for _ in range(9)] + [Person("05758004", 3) for _ in range(6)]
    people[0].exit = people[1].exit = 4
    people += [Person("05758024", 4) for _ in range(6)]
    model = truth_model(people, [None], [], False)
    protection = protect(model, SERVED)
    exits = county_total(4, "exits")
    assert exits in protection.hidden
    assert finding(withheld(model, protection.hidden), SERVED, exits).safe


# -- a family that starts with the data: the years before are published zeros -------------

LATER = TimeAxis(YEAR + 1, YEAR + 1, empty_before=True)
"""The family of a history that starts a year after the API's first year."""
BOTH_YEARS = TimeAxis(YEAR, YEAR + 1)
"""The whole family from the API's first year: its first year's tables are all zeros."""


def a_year_later(people: list[Person]) -> list[Person]:
    """The same people with every quarter a year later (indices of BOTH_YEARS)."""
    return [
        Person(
            p.municipality,
            p.entry + 4,
            None if p.exit is None else p.exit + 4,
            [(k, provider, q + 4) for k, provider, q in p.participations],
            [(provider, c, site, q + 4) for provider, c, site, q in p.placements],
        )
        for p in people
    ]


def assert_safe_over_the_whole_family(people: list[Person], protection: Protection) -> None:
    """Every role's audit over both years, the first all zeros, under `protection`."""
    later = a_year_later(people)
    for scopes, scope_providers, complete in ROLES:
        model = truth_model(later, scopes, scope_providers, complete, axis=BOTH_YEARS)
        assert audit(withheld(model, protection.hidden), SERVED).unsafe == (), scopes


def test_a_pattern_for_the_family_of_the_data_holds_against_the_zeros_before_it() -> None:
    for seed in range(12):
        rng = random.Random(seed)
        people = random_people(rng, rng.randint(1, 25))
        model = truth_model(people, SCOPES, ["diakonie", "in-via"], True, axis=LATER)
        protection = protect(model, SERVED, verify=False)
        assert_safe_over_the_whole_family(people, protection)


def test_without_the_zeros_before_it_the_first_quarter_gives_its_exits_away() -> None:
    # Nine people enter in the first quarter with data and two leave in it: entries 9,
    # caseload 7. Over the whole family, the zero caseload before gives the exits away.
    people = [Person("05758012", 1) for _ in range(9)]
    people[0].exit = people[1].exit = 1
    unknowing = TimeAxis(YEAR + 1, YEAR + 1)  # people before the family thought possible
    blind = protect(truth_model(people, [None], [], False, axis=unknowing), SERVED)
    exits = CellKey(
        f"quarterly-monitoring {YEAR + 1}-Q1 county", "by_municipality", "total", "exits"
    )
    full = truth_model(a_year_later(people), [None], [], False, axis=BOTH_YEARS)
    assert not finding(withheld(full, blind.hidden), SERVED, exits).safe
    knowing = protect(truth_model(people, [None], [], False, axis=LATER), SERVED)
    assert exits in knowing.hidden
    assert finding(withheld(full, knowing.hidden), SERVED, exits).safe
