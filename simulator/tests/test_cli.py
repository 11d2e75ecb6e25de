"""The command line without a stack: the oracle prints JSON, the checker needs a report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from durchstarten_simulator.cli import main

HERFORD = Path(__file__).resolve().parents[1] / "scenarios" / "kreis-herford.toml"


def test_the_oracle_prints_the_expected_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["oracle", str(HERFORD), "--seed", "7", "--provider", "diakonie=dia-x"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["seed"] == 7
    outcomes = next(c for c in printed["checks"] if c["provider"] == "dia-x")
    assert outcomes["figures"]["reached"] == 106


def test_check_without_a_reporting_api_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--stack-dir", str(tmp_path), "check", str(HERFORD)]) == 2
    assert "no reporting URL" in capsys.readouterr().out
