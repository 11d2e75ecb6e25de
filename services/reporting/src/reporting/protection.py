"""Secondary suppression chosen over every linked table at once, with the audit's own LP.

The input is the attacker's model of the *union* of everything reporting publishes to any
role (`reporting.audit_model`), with every cell carrying its true value: the coordinator
fetches every scope, the county pages and the snapshots, so the union is the
coordinator's model. Cells that cannot change (a frozen snapshot's) are `fixed`: they
stay as they were published. A role that sees less has fewer published equalities, which
can only widen its intervals; the tests audit each role over the same pattern.

The pattern starts from primary suppression (every count from 1 to threshold - 1). Then,
for each hidden small count in a fixed order (by `CellKey`), the largest value the
attacker can give it is solved for; while it stays below what the rule asks for, the row
duals of that optimum name the published cells whose values hold it down, and the one of
least value (then least key; never a fixed cell, never a zero) is withheld too, and the
maximum is solved again. Withholding a cell only removes an equality, so a count found
safe stays safe: one pass suffices, and a final audit of the whole pattern must find no
unsafe cell (`ProtectionFailed` otherwise). Same model, same order, same pattern.

Zeros are never withheld: a zero tells about nobody, and the audit keeps applying the
published zeros. Rates over a hidden count stay withheld in the reports that compute them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from reporting.audit import (
    _TOLERANCE,
    AuditReport,
    CellKey,
    LinearModel,
    ProtectionRule,
    Solver,
    audit,
)


class ProtectionFailed(RuntimeError):
    """No pattern of withheld cells made every small count safe (the audit still finds some)."""


@dataclass(frozen=True)
class Protection:
    """The cells to withhold, and how the pattern was found."""

    hidden: frozenset[CellKey]
    """Every position withheld among the cells that may change (primary and secondary)."""
    primary: frozenset[CellKey]
    """Positions withheld because their own count is small."""
    solves: int
    report: AuditReport
    """The final audit of the protected union."""

    @property
    def secondary(self) -> frozenset[CellKey]:
        """Positions withheld to protect others."""
        return self.hidden - self.primary


def withheld(model: LinearModel, hidden: Iterable[CellKey]) -> LinearModel:
    """`model` with the cells at `hidden` published as suppressed (the rest unchanged)."""
    chosen = set(hidden)
    cells = [replace(c, published=None) if c.key in chosen else c for c in model.cells]
    # The "increment" constraints restate differences of published values (to let the
    # solver drop empty quarters); computed from values that may now be withheld, they go.
    constraints = [c for c in model.constraints if c.reason != "increment"]
    return replace(model, cells=cells, constraints=constraints)


def _group_key(expression: dict[int, float]) -> frozenset[tuple[int, float]]:
    return frozenset(expression.items())


def _sensitive(
    working: LinearModel,
    rule: ProtectionRule,
    group_of: dict[int, frozenset[tuple[int, float]]],
) -> list[tuple[CellKey, dict[int, float]]]:
    """Every hidden count the attacker must not pin down, once, in key order (fixed too)."""
    sensitive: list[tuple[CellKey, dict[int, float]]] = []
    seen: set[frozenset[tuple[int, float]]] = set()
    for position in sorted(
        (p for p, c in enumerate(working.cells) if c.published is None),
        key=lambda p: working.cells[p].key,
    ):
        cell = working.cells[position]
        group = group_of[position]
        if group in seen or not rule.sensitive(cell.truth):
            continue
        seen.add(group)
        sensitive.append((cell.key, dict(cell.expression)))
    return sensitive


def _lifted(
    sensitive: list[tuple[CellKey, dict[int, float]]],
    index: int,
    witness: tuple[float, ...],
    rule: ProtectionRule,
) -> set[int]:
    """Later sensitive counts a feasible table lifts high enough.

    They are safe for good: that table stays feasible as more is withheld.
    """
    return {
        later
        for later in range(index + 1, len(sensitive))
        if sum(c * witness[v] for v, c in sensitive[later][1].items())
        >= rule.required_upper - _TOLERANCE
    }


def protect(
    model: LinearModel,
    rule: ProtectionRule,
    *,
    fixed: Callable[[CellKey], bool] = lambda key: False,
) -> Protection:
    """The withheld cells that make every small count of `model` safe under `rule`.

    Every cell of `model` that is not `fixed` must be published with its truth (the
    model of the unsuppressed reports); fixed cells are as they were published.
    """
    for cell in model.cells:
        if not fixed(cell.key) and (cell.truth is None or cell.published != cell.truth):
            msg = f"a cell that may change must be published with its truth: {cell.key}"
            raise ValueError(msg)
    # The same count published in several places is withheld everywhere or nowhere.
    groups: dict[frozenset[tuple[int, float]], list[int]] = {}
    for position, cell in enumerate(model.cells):
        groups.setdefault(_group_key(dict(cell.expression)), []).append(position)
    group_of = {p: g for g, positions in groups.items() for p in positions}
    pinned = {g for g, ps in groups.items() if any(fixed(model.cells[p].key) for p in ps)}

    def small(truth: int | None) -> bool:
        return truth is not None and 0 < truth < rule.threshold

    primary = {
        model.cells[p].key
        for p, cell in enumerate(model.cells)
        if not fixed(cell.key) and small(cell.truth)
    }
    primary |= {
        model.cells[p].key
        for g, ps in groups.items()
        if any(model.cells[q].key in primary for q in ps)
        for p in ps
        if not fixed(model.cells[p].key)
    }
    hidden = set(primary)
    working = withheld(model, hidden)
    solver = Solver(working, rule)
    hidden_groups = {group_of[p] for p, c in enumerate(working.cells) if c.published is None}

    sensitive = _sensitive(working, rule, group_of)

    solves = 0
    reached: set[int] = set()  # indices into `sensitive` a feasible table already lifts
    for index, (key, expression) in enumerate(sensitive):
        if index in reached:
            continue
        while True:
            bound = solver.maximum(expression)
            solves += 1
            if bound.value >= rule.required_upper - _TOLERANCE:
                if bound.witness is not None:
                    reached |= _lifted(sensitive, index, bound.witness, rule)
                break
            candidates = [
                p
                for p in solver.binding_cells()
                if working.cells[p].published not in (None, 0)
                and group_of[p] not in pinned
                and group_of[p] not in hidden_groups
            ]
            if not candidates:
                msg = f"nothing left to withhold that would protect {key}"
                raise ProtectionFailed(msg)
            choice = min(
                candidates, key=lambda p: (working.cells[p].published, working.cells[p].key)
            )
            group = group_of[choice]
            hidden_groups.add(group)
            for p in groups[group]:
                solver.withhold(p)
                hidden.add(model.cells[p].key)

    report = audit(withheld(model, hidden), rule)
    if report.unsafe:
        names = ", ".join(str(f.key) for f in report.unsafe[:5])
        msg = f"{len(report.unsafe)} small counts still unsafe after protection: {names}"
        raise ProtectionFailed(msg)
    return Protection(frozenset(hidden), frozenset(primary), solves, report)


__all__ = ["Protection", "ProtectionFailed", "protect", "withheld"]
