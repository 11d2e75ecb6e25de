"""Run the courses service: `python -m courses` (settings from DURCHSTARTEN_* variables)."""

from durchstarten.runner import run_service
from courses.app import create_app
from courses.settings import CoursesSettings

if __name__ == "__main__":
    run_service(create_app, CoursesSettings())  # type: ignore[call-arg]  # env supplies the URL
