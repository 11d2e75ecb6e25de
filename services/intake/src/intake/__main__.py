"""Run the intake service: `python -m intake` (settings from DURCHSTARTEN_* variables)."""

from durchstarten.runner import run_service
from intake.app import create_app
from intake.settings import IntakeSettings

if __name__ == "__main__":
    run_service(create_app, IntakeSettings())
