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
from typing import NamedTuple

from reporting.adjustment import adjust
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
    report: AuditReport | None
    """The final audit of the protected union (None: not verified, `protect(verify=False)`)."""
    exposed: frozenset[CellKey] = frozenset()
    """Small counts that frozen snapshots already give away: nothing live can protect them
    (a snapshot frozen by an older method); the audit names them, the service still serves."""

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


class Sensitive(NamedTuple):
    """A hidden count the attacker must not pin down, and how high a table must lift it."""

    key: CellKey
    expression: dict[int, float]
    target: float
    """The rule's reach, and at least truth + min_width: the interval's lower end is at
    most the truth, so a table reaching this makes the interval wide enough."""


def _sensitive(
    working: LinearModel,
    rule: ProtectionRule,
    group_of: dict[int, frozenset[tuple[int, float]]],
) -> list[Sensitive]:
    """Every hidden count the attacker must not pin down, once, in key order (fixed too)."""
    sensitive: list[Sensitive] = []
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
        target = float(rule.required_upper)
        if cell.truth is not None:
            target = max(target, float(cell.truth + rule.min_width))
        sensitive.append(Sensitive(cell.key, dict(cell.expression), target))
    return sensitive


def _lifted(sensitive: list[Sensitive], index: int, witness: tuple[float, ...]) -> set[int]:
    """Later sensitive counts a feasible table lifts high enough.

    They are safe for good: that table stays feasible as more is withheld.
    """
    return {
        later
        for later in range(index + 1, len(sensitive))
        if sum(c * witness[v] for v, c in sensitive[later].expression.items())
        >= sensitive[later].target - _TOLERANCE
    }


class _Groups:
    """The model's positions grouped by expression (one count published in several places).

    Such a count is withheld everywhere or nowhere. A count a frozen snapshot publishes
    stays known (`pinned`); one it withheld is withheld live too (`frozen_hidden`): the
    pattern it was frozen under is kept, so freezing does not move the live tables.
    """

    def __init__(self, model: LinearModel, fixed: Callable[[CellKey], bool]) -> None:
        self.members: dict[frozenset[tuple[int, float]], list[int]] = {}
        for position, cell in enumerate(model.cells):
            self.members.setdefault(_group_key(dict(cell.expression)), []).append(position)
        self.of = {p: g for g, positions in self.members.items() for p in positions}
        frozen_published = {
            self.of[p]
            for p, c in enumerate(model.cells)
            if fixed(c.key) and c.published is not None
        }
        frozen_withheld = {
            self.of[p] for p, c in enumerate(model.cells) if fixed(c.key) and c.published is None
        }
        self.pinned = frozen_published
        self.frozen_hidden = frozen_withheld - frozen_published


def _primary(
    model: LinearModel, rule: ProtectionRule, fixed: Callable[[CellKey], bool], groups: _Groups
) -> set[CellKey]:
    """Every live small count, each everywhere it is published, and what a snapshot hid."""
    cells = model.cells
    small = {p for p, c in enumerate(cells) if c.truth is not None and 0 < c.truth < rule.threshold}
    chosen = {groups.of[p] for p in small if not fixed(cells[p].key)} | groups.frozen_hidden
    return {
        cells[p].key
        for g in chosen
        for p in groups.members[g]
        if not fixed(cells[p].key) and cells[p].truth not in (None, 0)
    }


def protect(
    model: LinearModel,
    rule: ProtectionRule,
    *,
    fixed: Callable[[CellKey], bool] = lambda key: False,
    joint: bool = True,
    verify: bool = True,
) -> Protection:
    """The withheld cells that make every small count of `model` safe under `rule`.

    Every cell of `model` that is not `fixed` must be published with its truth (the
    model of the unsuppressed reports); fixed cells are as they were published. `joint`:
    start from one table lifting every small count (`reporting.adjustment`), then search
    cell by cell for what it left; without, the search does everything (slower, and
    withholds a little less). `verify`: audit the result (ProtectionFailed if unsafe).
    """
    for cell in model.cells:
        if not fixed(cell.key) and (cell.truth is None or cell.published != cell.truth):
            msg = f"a cell that may change must be published with its truth: {cell.key}"
            raise ValueError(msg)
    groups = _Groups(model, fixed)
    primary = _primary(model, rule, fixed, groups)
    hidden = set(primary)
    working = withheld(model, hidden)
    hidden_groups = {groups.of[p] for p, c in enumerate(working.cells) if c.published is None}
    sensitive = _sensitive(working, rule, groups.of)
    solves = 0
    reached: set[int] = set()  # indices into `sensitive` a feasible table already lifts
    if joint and sensitive:
        # One table lifting every small count: the cells it moves are withheld, and it
        # proves safe every count it lifts.
        frozen = {
            p for p, c in enumerate(working.cells) if fixed(c.key) and c.published is not None
        }
        targets = [(c.expression, c.target) for c in sensitive]
        adjustment = adjust(working, rule, sensitive=targets, frozen=frozen)
        solves += 1
        for group in {groups.of[p] for p in adjustment.moved} - hidden_groups:
            hidden_groups.add(group)
            hidden.update(model.cells[p].key for p in groups.members[group])
        reached = _lifted(sensitive, -1, adjustment.table)
    search = _Search(model, rule, groups, hidden, hidden_groups)
    for index in range(len(sensitive)):
        if index not in reached:
            reached |= search.protect(index, sensitive)
    solves += search.solves
    if not verify:
        return Protection(frozenset(hidden), frozenset(primary), solves, None, search.exposed)
    report = audit(withheld(model, hidden), rule)
    exposed = search.exposed
    unsafe = [f for f in report.unsafe if f.key not in exposed and not exposed & set(f.also)]
    if unsafe:
        names = ", ".join(str(f.key) for f in unsafe[:5])
        msg = f"{len(unsafe)} small counts still unsafe after protection: {names}"
        raise ProtectionFailed(msg)
    return Protection(frozenset(hidden), frozenset(primary), solves, report, exposed)


class _Search:
    """Cell by cell: withhold the least binding published cell until a count is safe.

    `hidden` and `hidden_groups` are the pattern, extended in place. The solver is built
    only when a count needs it (a large model's load costs seconds), from the pattern as
    it stands then.
    """

    def __init__(
        self,
        model: LinearModel,
        rule: ProtectionRule,
        groups: _Groups,
        hidden: set[CellKey],
        hidden_groups: set[frozenset[tuple[int, float]]],
    ) -> None:
        self.model, self.rule, self.groups = model, rule, groups
        self.hidden, self.hidden_groups = hidden, hidden_groups
        self.solver: Solver | None = None
        self.solves = 0
        self._exposed: set[CellKey] = set()

    @property
    def exposed(self) -> frozenset[CellKey]:
        """Counts a frozen value pins: nothing live can protect them."""
        return frozenset(self._exposed)

    def protect(self, index: int, sensitive: list[Sensitive]) -> set[int]:
        """Make the count at `index` safe; the later counts its final table lifts."""
        key, expression, target = sensitive[index]
        if self.solver is None:
            self.solver = Solver(withheld(self.model, self.hidden), self.rule)
        solver, groups, cells = self.solver, self.groups, self.model.cells
        while True:
            bound = solver.maximum(expression)
            self.solves += 1
            if bound.value >= target - _TOLERANCE:
                if bound.witness is None:
                    return set()
                return _lifted(sensitive, index, bound.witness)
            binding = solver.binding_cells()
            candidates = [
                p
                for p in binding
                if cells[p].key not in self.hidden
                and cells[p].published != 0
                and groups.of[p] not in groups.pinned
                and groups.of[p] not in self.hidden_groups
            ]
            if not candidates:
                if any(groups.of[p] in groups.pinned for p in binding):
                    self._exposed.add(key)  # what pins it was frozen and published already
                    return set()
                msg = f"nothing left to withhold that would protect {key}"
                raise ProtectionFailed(msg)
            choice = min(candidates, key=lambda p: (cells[p].published, cells[p].key))
            group = groups.of[choice]
            self.hidden_groups.add(group)
            for p in groups.members[group]:
                solver.withhold(p)
                self.hidden.add(cells[p].key)


__all__ = ["Protection", "ProtectionFailed", "protect", "withheld"]
