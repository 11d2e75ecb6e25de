"""Disclosure audit: what an attacker holding every published table can work out, by LP.

The attacker's knowledge is a system of linear constraints over the true (unknown) counts:
every published value, every identity that links cells (each cell is a sum of "atoms", the
cross-classification of the attributes the tables use, see `reporting.audit_model`),
non-negativity, and what the marker itself says about a hidden cell (`hidden_minimum`).
For every hidden cell whose true value is small (a primary suppression) the audit asks a
linear programming solver (HiGHS) for the smallest and the largest value the cell can take
under those constraints. The cell is safe when the attacker cannot tell it from a
publishable value: its interval reaches the threshold, and is at least `min_width` wide.

The LP relaxation treats counts as real numbers, which can only widen an interval (an
attacker who also uses integrality may know slightly more); the bounds are rounded inward
(min up, max down), and `ProtectionRule.integer` solves the integer programme instead.
The attacker is not assumed to know which hidden cells are primary: the same marker stands
for primary and secondary suppressions, so the only bound on a hidden cell is the lower one.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import highspy
import numpy as np

INF = math.inf
_TOLERANCE = 1e-6
"""LP solutions are floating point: a bound within this of an integer is that integer."""

Expression = Mapping[int, float]
"""A linear expression over the model's variables: variable index -> coefficient."""


@dataclass(frozen=True, order=True)
class CellKey:
    """Where a number is published: the report (with period and scope), table, row, column."""

    source: str
    table: str
    row: str
    column: str

    def __str__(self) -> str:
        """One line, as the audit's report prints it."""
        return f"{self.source} / {self.table} / {self.row} / {self.column}"


@dataclass(frozen=True)
class PublishedCell:
    """One position of a published table: its value (None where suppressed) and its truth."""

    key: CellKey
    expression: Expression
    published: int | None
    truth: int | None
    """The true count, when the auditor knows it (None: unknown, e.g. an old snapshot)."""
    floor: int | None = None
    """What its marker tells, where not the rule's `hidden_minimum` (an old snapshot's)."""


@dataclass(frozen=True)
class Constraint:
    """`lower <= expression <= upper`: an identity or inequality the attacker knows."""

    expression: Expression
    lower: float
    upper: float
    reason: str


@dataclass
class LinearModel:
    """Variables (all counts, non-negative by default), published cells and constraints."""

    names: list[str] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    cells: list[PublishedCell] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    definitions: dict[int, Expression] = field(default_factory=dict)
    """Variables made by `define`, with the sums they stand for."""

    def variable(self, name: str, lower: float = 0.0, upper: float = INF) -> int:
        """A new variable; its index."""
        self.names.append(name)
        self.lower.append(lower)
        self.upper.append(upper)
        return len(self.names) - 1

    def define(self, name: str, expression: Expression) -> int:
        """A variable standing for `expression` (a sum of counts, so non-negative).

        Used to share a sum between many cells: the model stays sparse, and the identity
        is the definition itself, so it cannot be forgotten.
        """
        index = self.variable(name)
        self.definitions[index] = dict(expression)
        self.constrain({**_negated(expression), index: 1.0}, 0.0, 0.0, f"definition of {name}")
        return index

    def publish(
        self,
        key: CellKey,
        expression: Expression,
        published: int | None,
        truth: int | None,
        *,
        floor: int | None = None,
    ) -> None:
        """A published cell: equal to `published`, or hidden when that is None.

        `floor`: what the marker of this cell tells, where not the rule's.
        """
        self.cells.append(PublishedCell(key, dict(expression), published, truth, floor))

    def constrain(self, expression: Expression, lower: float, upper: float, reason: str) -> None:
        """Something the attacker knows about the counts, as bounds on an expression."""
        self.constraints.append(Constraint(dict(expression), lower, upper, reason))

    def at_most(self, smaller: Expression, larger: Expression, reason: str) -> None:
        """`smaller <= larger`."""
        self.constrain(combine(smaller, _negated(larger)), -INF, 0.0, reason)


def combine(*expressions: Expression) -> dict[int, float]:
    """The sum of expressions, zero coefficients dropped."""
    total: dict[int, float] = defaultdict(float)
    for expression in expressions:
        for index, coefficient in expression.items():
            total[index] += coefficient
    return {index: c for index, c in total.items() if c != 0.0}


def total_of(indices: Iterable[int]) -> dict[int, float]:
    """The expression adding up these variables."""
    # Both paths count in C: the models sum hundreds of thousands of atoms, nearly always
    # each once (then fromkeys alone, without Counter's dictionary of ints to convert).
    terms = list(indices)
    once = dict.fromkeys(terms, 1.0)
    if len(once) == len(terms):
        return once
    return {index: float(count) for index, count in Counter(terms).items()}


def _negated(expression: Expression) -> dict[int, float]:
    return {index: -coefficient for index, coefficient in expression.items()}


@dataclass(frozen=True)
class ProtectionRule:
    """When a small hidden count counts as protected; what the marker tells an attacker.

    Default: the attacker's interval of every primary-suppressed cell must reach
    `threshold` (so the cell could be a publishable count as far as anyone can tell) and
    be more than one value wide. `reach` and `min_width` make the rule stricter (a
    p-percent style rule: `min_width=p`).
    """

    threshold: int = 3
    """The publication threshold (`min_cell_count`): counts 1..threshold-1 are primary."""
    reach: int | None = None
    """The interval's upper end must be at least this; None: `threshold`."""
    min_width: int = 1
    """The interval's width (max - min) must be at least this."""
    hidden_minimum: int = 0
    """What a marker says: the hidden count is at least this. 0, because today's secondary
    suppression may hide a zero when every candidate in a line is zero
    (`reporting.disclosure.protect_table`); 1 for a method that never hides a zero."""
    integer: bool = False
    """Solve the integer programme (exact attacker) instead of the LP relaxation."""

    @property
    def required_upper(self) -> int:
        """The least upper end an interval of a sensitive cell must have."""
        return self.threshold if self.reach is None else self.reach

    def sensitive(self, truth: int | None) -> bool:
        """A count that must not be recovered: 1..threshold-1, or unknown."""
        return truth is None or 0 < truth < self.threshold


@dataclass(frozen=True)
class Interval:
    """The values a hidden cell can take as far as the attacker can tell (upper may be inf)."""

    lower: float | None
    """None where it was not needed: a safe cell's lower end is not computed."""
    upper: float

    def __str__(self) -> str:
        """`[2, 2]`, `[1, inf]`, `[?, 7]`."""
        lower = "?" if self.lower is None else f"{self.lower:g}"
        upper = "inf" if self.upper == INF else f"{self.upper:g}"
        return f"[{lower}, {upper}]"


@dataclass(frozen=True)
class Finding:
    """An audited hidden cell: its interval and whether it is safe under the rule."""

    key: CellKey
    truth: int | None
    interval: Interval
    safe: bool
    also: tuple[CellKey, ...] = ()
    """Other published positions holding the same count (the same sum of atoms)."""

    def __str__(self) -> str:
        """One line: the cell, its truth, its interval and the verdict."""
        truth = "?" if self.truth is None else str(self.truth)
        verdict = "safe" if self.safe else "UNSAFE"
        return f"{verdict}: {self.key} (true {truth}, attacker's interval {self.interval})"


@dataclass(frozen=True)
class AuditReport:
    """Every sensitive hidden cell of a model with its interval; the unsafe ones first."""

    rule: ProtectionRule
    findings: tuple[Finding, ...]
    published_cells: int
    hidden_cells: int
    variables: int

    @property
    def unsafe(self) -> tuple[Finding, ...]:
        """The sensitive cells the attacker can narrow down too far."""
        return tuple(f for f in self.findings if not f.safe)

    def summary(self) -> str:
        """A short text: the counts, then every unsafe cell."""
        lines = [
            f"{self.published_cells} published positions, {self.hidden_cells} hidden, "
            f"{len(self.findings)} sensitive audited, {len(self.unsafe)} unsafe "
            f"({self.variables} variables; rule: interval reaches {self.rule.required_upper}, "
            f"width >= {self.rule.min_width}, hidden >= {self.rule.hidden_minimum})"
        ]
        lines.extend(f"  {finding}" for finding in self.unsafe)
        return "\n".join(lines)


class InconsistentModel(RuntimeError):
    """The constraints admit no table at all: the model says something false about the data."""


@dataclass(frozen=True)
class Bound:
    """An extreme value of an expression and a table attaining it (every variable's value)."""

    value: float
    witness: tuple[float, ...] | None
    """None where the value is unbounded."""


class Solver:
    """The attacker's constraint system in HiGHS, to be asked for bounds again and again.

    Variables that a published zero forces to zero are removed first (a sum of
    non-negative counts that is 0 has every term 0): the models are large, the zeros many,
    and each bound is one more solve over what remains.
    """

    def __init__(self, model: LinearModel, rule: ProtectionRule) -> None:
        """Load the constraints of `model` as `rule` reads the markers."""
        self._model = model
        self._rule = rule
        rows = self._rows()
        fixed = forced_zeros(rows, model.lower, model.upper)
        self._columns = [i for i in range(len(model.names)) if i not in fixed]
        self._column_of = {variable: c for c, variable in enumerate(self._columns)}
        self._highs = highspy.Highs()  # type: ignore[no-untyped-call]  # highspy's __init__ is unannotated
        self._highs.setOptionValue("output_flag", False)
        # Many solves of one model, each with another objective: the primal simplex (the
        # last solution stays feasible) after HiGHS' presolve was the quickest measured.
        self._highs.setOptionValue("solver", "simplex")
        self._highs.setOptionValue("simplex_strategy", 4)
        self._loaded_row: dict[int, int] = {}  # row of `_rows` -> row in HiGHS
        self._load(rows)
        # `_rows` lists the cells first, in order: a hidden cell's row has its position.
        self._hidden_rows = {
            self._loaded_row[p]: p
            for p, cell in enumerate(model.cells)
            if cell.published is None and p in self._loaded_row
        }
        self._empty_hidden = [
            p
            for p, cell in enumerate(model.cells)
            if cell.published is None and p not in self._loaded_row
        ]
        self._objective: list[int] = []
        self._cell_of_row: dict[int, int] = {}

    def _rows(self) -> list[tuple[Expression, float, float]]:
        rows: list[tuple[Expression, float, float]] = []
        for cell in self._model.cells:
            if cell.published is None:
                rows.append((cell.expression, self._floor(cell), INF))
            else:
                rows.append((cell.expression, float(cell.published), float(cell.published)))
        rows.extend((c.expression, c.lower, c.upper) for c in self._model.constraints)
        return rows

    def _floor(self, cell: PublishedCell) -> float:
        """The least value a hidden cell's marker allows."""
        return float(self._rule.hidden_minimum if cell.floor is None else cell.floor)

    def _load(self, rows: list[tuple[Expression, float, float]]) -> None:
        self._loaded_row = load_rows(
            self._highs, self._model, self._columns, rows, integer=self._rule.integer
        )

    @property
    def variables(self) -> int:
        """Variables left after the published zeros have been applied."""
        return len(self._columns)

    def _solve(self, expression: Expression, *, maximise: bool) -> Bound:
        # Variables fixed to zero contribute nothing: only the others enter the objective.
        columns = {self._column_of[v]: c for v, c in expression.items() if v in self._column_of}
        if not columns:
            if not self.feasible():
                raise InconsistentModel("no table satisfies the published values")
            return Bound(0.0, self._witness(self._highs.getSolution().col_value))
        reset = [c for c in self._objective if c not in columns]
        if reset:
            self._highs.changeColsCost(
                len(reset), np.array(reset, dtype=np.int32), np.zeros(len(reset))
            )
        sign = -1.0 if maximise else 1.0
        chosen = np.array(list(columns), dtype=np.int32)
        self._highs.changeColsCost(
            len(chosen), chosen, np.array([sign * columns[c] for c in columns])
        )
        self._objective = list(columns)
        self._highs.run()
        status = self._highs.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            value = sign * self._highs.getInfo().objective_function_value
            return Bound(value, self._witness(self._highs.getSolution().col_value))
        if status in (
            highspy.HighsModelStatus.kUnbounded,
            highspy.HighsModelStatus.kUnboundedOrInfeasible,
        ):
            if status == highspy.HighsModelStatus.kUnboundedOrInfeasible and not self.feasible():
                raise InconsistentModel("no table satisfies the published values")
            return Bound(INF if maximise else -INF, None)
        if status == highspy.HighsModelStatus.kInfeasible:
            raise InconsistentModel("no table satisfies the published values")
        msg = f"HiGHS ended with {self._highs.modelStatusToString(status)}"
        raise RuntimeError(msg)

    def _witness(self, values: Iterable[float] | None) -> tuple[float, ...]:
        full = [0.0] * len(self._model.names)
        if values is not None:
            for variable, value in zip(self._columns, values, strict=False):
                full[variable] = value
        return tuple(full)

    def maximum(self, expression: Expression) -> Bound:
        """The largest value of `expression` under everything the attacker knows."""
        return self._solve(expression, maximise=True)

    def minimum(self, expression: Expression) -> Bound:
        """The smallest value of `expression` under everything the attacker knows."""
        return self._solve(expression, maximise=False)

    def withhold(self, position: int) -> None:
        """Hide the published cell at `position` from now on (its bound becomes the marker's).

        Only a cell whose value is not zero may be withheld: the zeros were applied when
        the model was loaded, and stay known.
        """
        cell = self._model.cells[position]
        if cell.published == 0:
            msg = f"a published zero cannot be withheld: {cell.key}"
            raise ValueError(msg)
        row = self._loaded_row.get(position)
        if row is not None:
            self._highs.changeRowBounds(row, self._floor(cell), INF)

    def binding_cells(self) -> dict[int, float]:
        """Positions of published cells whose value bounds the last optimum: their duals.

        Read after `maximum` or `minimum` ended optimal; withholding such a cell may move
        the optimum, withholding any other cannot (locally).
        """
        duals = self._highs.getSolution().row_dual
        if not self._cell_of_row:
            self._cell_of_row = {
                row: p for p, row in self._loaded_row.items() if p < len(self._model.cells)
            }
        return {
            position: float(duals[row])
            for row, position in self._cell_of_row.items()
            if abs(duals[row]) > _TOLERANCE
        }

    def feasible(self) -> bool:
        """Whether any table at all agrees with the published values."""
        self._clear_objective()
        self._highs.run()
        return bool(self._highs.getModelStatus() == highspy.HighsModelStatus.kOptimal)

    def _clear_objective(self) -> None:
        if self._objective:
            self._highs.changeColsCost(
                len(self._objective),
                np.array(self._objective, dtype=np.int32),
                np.zeros(len(self._objective)),
            )
        self._objective = []

    def consistent_with_truth(self) -> bool:
        """Whether the true values of the hidden cells fit the model (a check of the model).

        The auditor knows the truth; if the model's identities were wrong, the true table
        would violate them. Hidden cells of unknown truth keep their usual bound.
        """
        if any(self._model.cells[p].truth not in (None, 0) for p in self._empty_hidden):
            return False  # a hidden count that the zeros force to 0 has another truth
        changed = []
        for row, position in self._hidden_rows.items():
            truth = self._model.cells[position].truth
            if truth is not None:
                self._highs.changeRowBounds(row, float(truth), float(truth))
                changed.append(row)
        try:
            return self.feasible()
        finally:
            for row in changed:
                cell = self._model.cells[self._hidden_rows[row]]
                self._highs.changeRowBounds(row, self._floor(cell), INF)


def load_rows(
    highs: highspy.Highs,
    model: LinearModel,
    columns: list[int],
    rows: list[tuple[Expression, float, float]],
    *,
    integer: bool = False,
) -> dict[int, int]:
    """Load `columns` (model variables) and `rows` into `highs`; row number -> HiGHS row.

    A row whose every term is a variable left out (a forced zero) is not loaded; it must
    allow 0 (InconsistentModel otherwise).
    """
    column_of = {variable: c for c, variable in enumerate(columns)}
    n = len(columns)
    lower = np.array([model.lower[v] for v in columns], dtype=np.float64)
    upper = np.array([model.upper[v] for v in columns], dtype=np.float64)
    infinity = highs.getInfinity()
    highs.addVars(n, lower, np.where(np.isinf(upper), infinity, upper))
    if integer and n:
        highs.changeColsIntegrality(
            n, np.arange(n, dtype=np.int32), np.full(n, highspy.HighsVarType.kInteger)
        )
    loaded: dict[int, int] = {}
    starts: list[int] = []
    indices: list[int] = []
    values: list[float] = []
    row_lower: list[float] = []
    row_upper: list[float] = []
    for number, (expression, low, high) in enumerate(rows):
        live = [(column_of[v], c) for v, c in expression.items() if v in column_of]
        if not live:
            # Every term is a forced zero: the row holds if it allows 0, else nothing does.
            if not low <= 0.0 <= high:
                raise InconsistentModel("a published count contradicts the zeros")
            continue
        loaded[number] = len(starts)
        starts.append(len(indices))
        indices.extend(column for column, _ in live)
        values.extend(coefficient for _, coefficient in live)
        row_lower.append(-infinity if low == -INF else low)
        row_upper.append(infinity if high == INF else high)
    highs.addRows(
        len(starts),
        np.array(row_lower, dtype=np.float64),
        np.array(row_upper, dtype=np.float64),
        len(indices),
        np.array(starts, dtype=np.int32),
        np.array(indices, dtype=np.int32),
        np.array(values, dtype=np.float64),
    )
    return loaded


def forced_zeros(
    rows: list[tuple[Expression, float, float]], lower: list[float], upper: list[float]
) -> set[int]:
    """Variables that must be zero: bounded to 0, or in a row of like-signed terms allowing 0 only.

    A sum of non-negative counts that may be at most 0 has every term 0; fixing repeats,
    since a row with fewer terms left may now qualify. Each round is a few passes over the
    rows' terms as arrays (the models have millions of terms), until no row fixes more.
    """
    sizes = np.fromiter((len(e) for e, _, _ in rows), dtype=np.int64, count=len(rows))
    total = int(sizes.sum())
    if total == 0:
        return {
            v for v, (low, high) in enumerate(zip(lower, upper, strict=True)) if low == high == 0.0
        }
    row_of = np.repeat(np.arange(len(rows), dtype=np.int64), sizes)
    column = np.fromiter((v for e, _, _ in rows for v in e), dtype=np.int64, count=total)
    positive_term = np.fromiter(
        (c > 0 for e, _, _ in rows for c in e.values()), dtype=bool, count=total
    )
    low = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
    high = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows))
    # Rows with a variable that may be negative or must be positive never force anything.
    free_lower = np.asarray(lower, dtype=np.float64) != 0.0
    bounded = np.zeros(len(rows), dtype=bool)
    bounded[row_of[free_lower[column]]] = True
    fixed = (np.asarray(upper, dtype=np.float64) == 0.0) & ~free_lower
    while True:
        live_term = ~fixed[column]
        live = np.bincount(row_of, weights=live_term, minlength=len(rows))
        positive = np.bincount(row_of, weights=live_term & positive_term, minlength=len(rows))
        forcing = (
            (live > 0)
            & ~bounded
            & (((positive == live) & (high <= 0.0)) | ((positive == 0) & (low >= 0.0)))
        )
        fixing = forcing[row_of] & live_term
        if not fixing.any():
            return {int(v) for v in np.flatnonzero(fixed)}
        fixed[column[fixing]] = True


def _rounded_inward(bound: float, *, upper: bool, integer: bool) -> float:
    if math.isinf(bound):
        return bound
    if integer:
        return float(round(bound))
    return float(math.floor(bound + _TOLERANCE) if upper else math.ceil(bound - _TOLERANCE))


def _same_counts(model: LinearModel) -> Iterator[list[PublishedCell]]:
    """Hidden cells grouped by their expression: the same count published in several places."""
    groups: dict[frozenset[tuple[int, float]], list[PublishedCell]] = {}
    for cell in model.cells:
        if cell.published is None:
            groups.setdefault(frozenset(cell.expression.items()), []).append(cell)
    yield from groups.values()


def interval(solver: Solver, expression: Expression, rule: ProtectionRule) -> Interval:
    """The attacker's interval of one expression, rounded inward to whole counts."""
    low = solver.minimum(expression).value
    high = solver.maximum(expression).value
    return Interval(
        _rounded_inward(low, upper=False, integer=rule.integer),
        _rounded_inward(high, upper=True, integer=rule.integer),
    )


def _value(expression: Expression, table: tuple[float, ...]) -> float:
    return float(sum(coefficient * table[v] for v, coefficient in expression.items()))


def audit(
    model: LinearModel, rule: ProtectionRule, *, every_hidden_cell: bool = False
) -> AuditReport:
    """Every sensitive hidden cell's interval, and whether the rule holds for it.

    With the default width a cell is safe as soon as some table consistent with the
    publication gives it a value reaching the threshold (its truth lies below, so the
    interval cannot collapse either). So only the maximum is solved for, and each solution
    is a table that may already show other cells reaching the threshold: those need no
    solve of their own (their interval then reads `[?, v]`, v a value the attacker cannot
    exclude). The minimum is solved for where the rule asks for more width or the cell is
    unsafe. `every_hidden_cell` reports every hidden cell, sensitive or not (secondaries),
    with both ends solved for. Raises InconsistentModel when the true table itself
    violates the model.
    """
    solver = Solver(model, rule)
    if not solver.feasible():
        raise InconsistentModel("no table agrees with the published values")
    if not solver.consistent_with_truth():
        raise InconsistentModel("the true counts violate the model's identities")
    shortcut = rule.min_width <= 1 and not every_hidden_cell
    audited: list[tuple[list[PublishedCell], int | None]] = []
    for group in _same_counts(model):
        truths = {cell.truth for cell in group if cell.truth is not None}
        truth = truths.pop() if len(truths) == 1 else None
        if rule.sensitive(truth) or every_hidden_cell:
            audited.append((group, truth))
    reached: dict[int, float] = {}  # audited position -> a value some consistent table gives
    findings: list[Finding] = []
    for position, (group, truth) in enumerate(audited):
        first = group[0]
        also = tuple(cell.key for cell in group[1:])
        if shortcut and position in reached:
            findings.append(
                Finding(first.key, truth, Interval(None, reached[position]), True, also)
            )
            continue
        bound = solver.maximum(first.expression)
        high = _rounded_inward(bound.value, upper=True, integer=rule.integer)
        if shortcut and bound.witness is not None:
            for later in range(position + 1, len(audited)):
                if later not in reached:
                    value = _value(audited[later][0][0].expression, bound.witness)
                    if value >= rule.required_upper - _TOLERANCE:
                        reached[later] = _rounded_inward(value, upper=True, integer=rule.integer)
        reaches = high >= rule.required_upper
        low: float | None = None
        if not (shortcut and reaches):
            low = _rounded_inward(
                solver.minimum(first.expression).value, upper=False, integer=rule.integer
            )
        safe = reaches and (low is None or high - low >= rule.min_width)
        safe = safe or not rule.sensitive(truth)
        findings.append(Finding(first.key, truth, Interval(low, high), safe, also))
    findings.sort(key=lambda f: (f.safe, f.key))
    return AuditReport(
        rule=rule,
        findings=tuple(findings),
        published_cells=len(model.cells),
        hidden_cells=sum(1 for cell in model.cells if cell.published is None),
        variables=solver.variables,
    )
