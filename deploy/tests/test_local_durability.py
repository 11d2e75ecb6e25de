"""The local PostgreSQL commits durably, as production does, unless a developer opts out."""

from __future__ import annotations

from pathlib import Path

import pytest

from durchstarten_deploy.postgres import DURABILITY_ENV, LocalPostgres, local_durability
from durchstarten_deploy.processes import StackError


def test_durable_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(DURABILITY_ENV, raising=False)
    assert local_durability()
    assert LocalPostgres(directory=tmp_path, port=1).durable


@pytest.mark.parametrize(("value", "durable"), [("off", False), ("OFF ", False), ("on", True)])
def test_a_developer_may_opt_out(
    monkeypatch: pytest.MonkeyPatch, value: str, durable: bool
) -> None:
    monkeypatch.setenv(DURABILITY_ENV, value)
    assert local_durability() is durable


def test_a_typo_does_not_turn_durability_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DURABILITY_ENV, "of")
    with pytest.raises(StackError, match="must be 'on' or 'off'"):
        local_durability()
