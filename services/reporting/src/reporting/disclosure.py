"""Statistical disclosure control: no published number may reveal an individual.

Primary suppression only so far: counts from 1 to `min_cell_count - 1` are replaced by a
marker. Secondary suppression for tables arrives with the tabular reports.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

SUPPRESSED_MARKER = "."  # as in German official statistics: "geheim zu halten"


class Cell(BaseModel):
    """A published count: the value, or null with the suppression marker."""

    model_config = ConfigDict(frozen=True)

    value: int | None
    suppressed: bool
    marker: str | None = None


def protect_count(count: int, *, min_cell_count: int) -> Cell:
    """Publish `count`, or suppress it when it is small enough to point at a person."""
    if 0 < count < min_cell_count:
        return Cell(value=None, suppressed=True, marker=SUPPRESSED_MARKER)
    return Cell(value=count, suppressed=False)
