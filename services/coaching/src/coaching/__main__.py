"""Run the coaching service: `python -m coaching` (settings from DURCHSTARTEN_* variables)."""

from durchstarten.runner import run_service
from coaching.app import create_app
from coaching.settings import CoachingSettings

if __name__ == "__main__":
    run_service(create_app, CoachingSettings())  # type: ignore[call-arg]  # env supplies the URL
