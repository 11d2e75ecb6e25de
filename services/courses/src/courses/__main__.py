"""Run the courses service: `python -m courses` (settings from DURCHSTARTEN_* variables)."""

from courses.app import create_app
from courses.settings import CoursesSettings
from durchstarten.runner import run_service

if __name__ == "__main__":
    run_service(create_app, CoursesSettings())
