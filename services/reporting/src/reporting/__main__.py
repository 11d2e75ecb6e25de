"""Run the reporting service: `python -m reporting` (settings from DURCHSTARTEN_* variables).

`python -m reporting audit [options]` instead audits what the service would publish now
(docs/disclosure.md) and exits non-zero when any cell is unsafe.
"""

import sys

from durchstarten.runner import run_service
from reporting.app import create_app
from reporting.settings import ReportingSettings


def main(argv: list[str]) -> int:
    """The service, or the `audit` command."""
    if argv[:1] == ["audit"]:
        # Imported here: the solver is loaded only by the command that needs it.
        from reporting.audit_cli import run_audit  # noqa: PLC0415

        return run_audit(argv[1:])
    run_service(create_app, ReportingSettings())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
