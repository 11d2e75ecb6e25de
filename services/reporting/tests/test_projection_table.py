"""The projector's table and its SQL files: rows fit their statements, erasures run last."""

import re
from pathlib import Path

import pytest

from durchstarten.events import Event
from reporting.projections import APPLIED_LAST, EFFECTS, STATEMENTS

SOURCE = Path(__file__).resolve().parents[1] / "src" / "reporting"


def _parameters(sql: str) -> int:
    return max(int(number) for number in re.findall(r"\$(\d+)", sql))


@pytest.mark.parametrize("model", list(EFFECTS), ids=lambda model: model.event_type)
def test_each_row_has_a_column_for_every_parameter_of_its_statement(model: type[Event]) -> None:
    event = model.model_validate(model.example)
    for name, row_of in EFFECTS[model].items():
        assert len(row_of(event, "event-id")) == _parameters(STATEMENTS[name]), name


def test_erasures_then_merges_run_after_every_other_statement() -> None:
    assert APPLIED_LAST == ("participants_erase", "participants_merge")
    assert list(STATEMENTS)[-2:] == list(APPLIED_LAST)


def test_every_sql_file_is_used_and_every_lookup_names_one() -> None:
    files = {path.stem for path in (SOURCE / "db").glob("*.sql")}
    looked_up = {
        name
        for module in SOURCE.glob("*.py")
        for name in re.findall(r'\bSQL\["([a-z0-9_]+)"\]', module.read_text())
    }
    measured = {  # the set-based statements, looked up through `reporting.facts.Measure`
        name
        for module in SOURCE.glob("*.py")
        for name in re.findall(r'\bMeasure\("([a-z0-9_]+)"', module.read_text())
    }
    assert measured
    assert looked_up | measured | set(STATEMENTS) == files
