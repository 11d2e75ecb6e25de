"""Run the reporting service: `python -m reporting` (settings from DURCHSTARTEN_* variables)."""

from durchstarten.runner import run_service
from reporting.app import create_app
from reporting.settings import ReportingSettings

if __name__ == "__main__":
    run_service(create_app, ReportingSettings())
