"""The README and the provider guide stay true to the code."""

from __future__ import annotations

from pathlib import Path

from coaching.settings import CoachingSettings
from courses.settings import CoursesSettings
from durchstarten.events import COMMANDS
from durchstarten.events.reasons import ReasonCode
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


def test_the_provider_guide_lists_every_command_and_reason_code() -> None:
    guide = (REPO / "docs" / "providers.md").read_text()
    for type_ in COMMANDS:
        assert f"`{type_}`" in guide, type_
    for code in ReasonCode:
        assert f"`{code}`" in guide, code
