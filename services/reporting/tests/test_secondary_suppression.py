"""An attacker with the published table tries to recompute every suppressed cell, and fails."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reporting.disclosure import ProtectedTable, protect_table

Var = tuple[str, ...]


def recompute(
    table: ProtectedTable, truth: dict[Var, int], with_row_totals: bool
) -> dict[Var, int]:
    """Everything adding and subtracting along rows, columns and totals reveals."""
    n_rows, n_cols = len(table.rows), len(table.columns)
    known: dict[Var, int] = {}
    for r in range(n_rows):
        for c in range(n_cols):
            if (cell := table.cells[r][c]) is not None:
                known[("cell", str(r), str(c))] = cell
        if (row_total := table.row_totals[r]) is not None:
            known[("row", str(r))] = row_total
    for c in range(n_cols):
        if (column_total := table.column_totals[c]) is not None:
            known[("col", str(c))] = column_total
    if table.total is not None:
        known[("total",)] = table.total
    # Equations: parts sum to a whole.
    equations: list[tuple[list[Var], Var]] = []
    for r in range(n_rows if with_row_totals else 0):
        equations.append(([("cell", str(r), str(c)) for c in range(n_cols)], ("row", str(r))))
    for c in range(n_cols):
        equations.append(([("cell", str(r), str(c)) for r in range(n_rows)], ("col", str(c))))
    equations.append(([("col", str(c)) for c in range(n_cols)], ("total",)))
    if with_row_totals:
        equations.append(([("row", str(r)) for r in range(n_rows)], ("total",)))
    progress = True
    while progress:
        progress = False
        for parts, whole in equations:
            unknown = [v for v in [*parts, whole] if v not in known]
            if len(unknown) != 1:
                continue
            (missing,) = unknown
            if missing == whole:
                known[whole] = sum(known[p] for p in parts)
            else:
                known[missing] = known[whole] - sum(known[p] for p in parts if p != missing)
            assert known[missing] == truth[missing]  # the algebra is right
            progress = True
    return known


def check(
    values: list[list[int]], threshold: int = 3, with_row_totals: bool = True
) -> ProtectedTable:
    rows = [f"r{i}" for i in range(len(values))]
    columns = [f"c{j}" for j in range(len(values[0]))]
    table = protect_table(
        rows, columns, values, min_cell_count=threshold, with_row_totals=with_row_totals
    )
    truth: dict[Var, int] = {}
    for r, line in enumerate(values):
        truth[("row", str(r))] = sum(line)
        for c, value in enumerate(line):
            truth[("cell", str(r), str(c))] = value
    for c in range(len(columns)):
        truth[("col", str(c))] = sum(line[c] for line in values)
    truth[("total",)] = sum(truth[("row", str(r))] for r in range(len(rows)))
    hidden = {
        ("cell", str(r), str(c))
        for r in range(len(rows))
        for c in range(len(columns))
        if table.cells[r][c] is None
    }
    revealed = recompute(table, truth, with_row_totals)
    assert not (hidden & set(revealed)), "a suppressed cell can be recomputed"
    for r, line in enumerate(values):
        for c, value in enumerate(line):
            if 0 < value < threshold:
                assert table.cells[r][c] is None  # every small count is hidden
            elif table.cells[r][c] is not None:
                assert table.cells[r][c] == value  # published values are true
    return table


def test_a_single_small_cell_takes_a_partner_in_its_row_and_column() -> None:
    table = check([[1, 5, 7], [4, 6, 9], [8, 3, 10]])
    hidden = sum(1 for line in table.cells for v in line if v is None)
    assert hidden >= 4  # the 1, a partner in its row, one in its column, and the corner


def test_nothing_is_hidden_in_a_safe_table() -> None:
    table = check([[3, 5], [4, 6]])
    assert all(v is not None for line in table.cells for v in line)
    assert table.total == 18


def test_small_totals_are_hidden_too() -> None:
    table = check([[1, 0], [0, 0]])
    assert table.total is None
    assert table.row_totals[0] is None


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=1, max_value=6).flatmap(
        lambda cols: st.lists(
            st.lists(st.integers(min_value=0, max_value=12), min_size=cols, max_size=cols),
            min_size=1,
            max_size=7,
        )
    ),
    st.integers(min_value=2, max_value=5),
    st.booleans(),
)
def test_no_suppressed_cell_can_be_recomputed_in_any_table(
    values: list[list[int]], threshold: int, with_row_totals: bool
) -> None:
    check(values, threshold, with_row_totals)
