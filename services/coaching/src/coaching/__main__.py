"""Run the coaching service: `python -m coaching` (settings from DURCHSTARTEN_* variables)."""

from coaching.app import create_app
from coaching.settings import CoachingSettings
from durchstarten.runner import run_service

if __name__ == "__main__":
    run_service(create_app, CoachingSettings())
