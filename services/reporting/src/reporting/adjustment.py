"""One table that lifts every small count at once: the fast first step of the protection.

Controlled tabular adjustment turned into suppression. One linear programme over the
attacker's model asks for a table in which every sensitive hidden count reaches its target
(the rule's threshold, and its truth plus the rule's least width), every published zero and
every frozen value stays as published, every other hidden count stays at least what its
marker tells, and the published values move as little as possible (each unit moved costs
the cell's value: a small cell is cheaper to withhold than a large one, as τ-ARGUS' default
cost says). The cells that move are withheld. That one table is then consistent with
everything still published, so it is a proof, without any further solve, that every count
it lifts is safe: the attacker cannot exclude it. Counts it cannot lift (a frozen value
pins them, or lifting them all in one table asks too much) are left to
`reporting.protection`'s cell-by-cell search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import highspy
import numpy as np

from reporting.audit import (
    _TOLERANCE,
    INF,
    Expression,
    InconsistentModel,
    LinearModel,
    ProtectionRule,
    forced_zeros,
    load_rows,
)

SHORTFALL_COST = 1e6
"""The cost of a count left short of the threshold: far above any cell withheld."""


@dataclass(frozen=True)
class Adjustment:
    """What the joint table moved, and what it proves."""

    moved: frozenset[int]
    """Positions of published cells whose value the table changes: to be withheld."""
    table: tuple[float, ...]
    """The table itself, one value per model variable (a witness for the attacker)."""


def _rows(
    model: LinearModel, rule: ProtectionRule, frozen: set[int]
) -> tuple[list[tuple[Expression, float, float]], list[tuple[int, float]]]:
    """The model's rows as the adjustment reads them, and the movable ones with values."""
    rows: list[tuple[Expression, float, float]] = []
    movable: list[tuple[int, float]] = []
    for position, cell in enumerate(model.cells):
        if cell.published is None:
            floor = rule.hidden_minimum if cell.floor is None else cell.floor
            rows.append((cell.expression, float(floor), INF))
            continue
        value = float(cell.published)
        if cell.published != 0 and position not in frozen:
            movable.append((position, value))
        rows.append((cell.expression, value, value))
    rows.extend((c.expression, c.lower, c.upper) for c in model.constraints)
    return rows, movable


def adjust(
    model: LinearModel,
    rule: ProtectionRule,
    *,
    sensitive: Sequence[tuple[Expression, float]],
    frozen: set[int],
) -> Adjustment:
    """The least-cost table lifting each of `sensitive` (expression, target) to its target.

    `model` is the working model (hidden cells published as None); `frozen` are positions
    of published cells that may not move (a snapshot's). Published zeros never move.
    """
    withheld_floor = float(rule.hidden_minimum)
    rows, movable = _rows(model, rule, frozen)
    # A movable row forces nothing to zero (its value may change); the exact ones do.
    moving = {position for position, _ in movable}
    zeros = forced_zeros(
        [
            (expression, withheld_floor, INF) if number in moving else (expression, low, high)
            for number, (expression, low, high) in enumerate(rows)
        ],
        model.lower,
        model.upper,
    )
    columns = [v for v in range(len(model.names)) if v not in zeros]
    column_of = {v: c for c, v in enumerate(columns)}
    highs = highspy.Highs()  # type: ignore[no-untyped-call]  # highspy's __init__ is unannotated
    highs.setOptionValue("output_flag", False)
    loaded = load_rows(highs, model, columns, rows)
    deviations = _add_deviations(highs, loaded, movable, withheld_floor)
    _add_shortfalls(highs, sensitive, column_of)
    highs.run()
    status = highs.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        # The true table itself breaks the model (with the frozen values): not a pattern
        # problem but a wrong model, as the audit would say.
        raise InconsistentModel("no table agrees with the truth and the frozen values")
    if status != highspy.HighsModelStatus.kOptimal:
        msg = f"the joint adjustment ended with {highs.modelStatusToString(status)}"
        raise RuntimeError(msg)
    solution = list(highs.getSolution().col_value)
    moved = frozenset(
        position
        for position, first in deviations
        if solution[first] > _TOLERANCE or solution[first + 1] > _TOLERANCE
    )
    table = [0.0] * len(model.names)
    for column, variable in enumerate(columns):
        table[variable] = solution[column]
    return Adjustment(moved, tuple(table))


def _add_deviations(
    highs: highspy.Highs,
    loaded: dict[int, int],
    movable: Sequence[tuple[int, float]],
    withheld_floor: float,
) -> list[tuple[int, int]]:
    """Deviation columns: expression - up + down = published, each unit costing the value.

    `down` stops at what a withheld cell's marker tells. Returns (position, first of its
    two columns) of every movable cell loaded.
    """
    infinity = highs.getInfinity()
    deviations: list[tuple[int, int]] = []
    costs: list[float] = []
    uppers: list[float] = []
    rows_of: list[int] = []
    signs: list[float] = []
    first = highs.getNumCol()
    for position, value in movable:
        row = loaded.get(position)
        if row is None:
            continue
        deviations.append((position, first + len(costs)))
        cost = max(value, 1.0)
        costs.extend((cost, cost))
        uppers.extend((infinity, max(value - withheld_floor, 0.0)))
        rows_of.extend((row, row))
        signs.extend((-1.0, 1.0))
    if costs:
        # One call for all of them: HiGHS rebuilds its column store on every addCol.
        highs.addCols(
            len(costs),
            np.array(costs, dtype=np.float64),
            np.zeros(len(costs), dtype=np.float64),
            np.array(uppers, dtype=np.float64),
            len(costs),
            np.arange(len(costs), dtype=np.int32),
            np.array(rows_of, dtype=np.int32),
            np.array(signs, dtype=np.float64),
        )
    return deviations


def _add_shortfalls(
    highs: highspy.Highs,
    sensitive: Sequence[tuple[Expression, float]],
    column_of: dict[int, int],
) -> None:
    """Each sensitive count: expression + shortfall >= its target (all in one call each)."""
    if not sensitive:
        return
    shortfalls = highs.getNumCol()
    targets = np.array([required for _, required in sensitive], dtype=np.float64)
    highs.addCols(
        len(sensitive),
        np.full(len(sensitive), SHORTFALL_COST, dtype=np.float64),
        np.zeros(len(sensitive), dtype=np.float64),
        targets,
        0,
        np.zeros(len(sensitive), dtype=np.int32),
        np.array([], dtype=np.int32),
        np.array([], dtype=np.float64),
    )
    starts: list[int] = []
    indices: list[int] = []
    values: list[float] = []
    for number, (expression, _) in enumerate(sensitive):
        starts.append(len(indices))
        for variable, coefficient in expression.items():
            if variable in column_of:
                indices.append(column_of[variable])
                values.append(coefficient)
        indices.append(shortfalls + number)
        values.append(1.0)
    highs.addRows(
        len(sensitive),
        targets,
        np.full(len(sensitive), highs.getInfinity(), dtype=np.float64),
        len(indices),
        np.array(starts, dtype=np.int32),
        np.array(indices, dtype=np.int32),
        np.array(values, dtype=np.float64),
    )


__all__ = ["SHORTFALL_COST", "Adjustment", "adjust"]
