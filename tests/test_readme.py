"""The README is the front door: its commands and its configuration table stay true."""

from __future__ import annotations

from pathlib import Path

from coaching.settings import CoachingSettings
from courses.settings import CoursesSettings
from durchstarten.settings import ENV_PREFIX
from intake.settings import IntakeSettings
from reporting.settings import ReportingSettings

REPO = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    for settings in (IntakeSettings, CoachingSettings, CoursesSettings, ReportingSettings):
        for field in settings.model_fields:
            assert f"`{ENV_PREFIX}{field.upper()}`" in readme, field


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make run" in readme
    assert "make test" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text()
