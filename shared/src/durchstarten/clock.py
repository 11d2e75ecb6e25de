"""What a service takes as "today": the system's date, or a fixed one for tests and demos."""

from __future__ import annotations

from datetime import UTC, date, datetime


class Clock:
    """Today's date in UTC, unless a fixed date is configured (DURCHSTARTEN_CLOCK_TODAY)."""

    def __init__(self, fixed_today: date | None = None) -> None:
        """A clock that always says `fixed_today`, or the real date when None."""
        self._fixed = fixed_today

    def today(self) -> date:
        """The current date."""
        return self._fixed or datetime.now(UTC).date()

    def now(self) -> datetime:
        """The current time (always real: holds and timeouts run on wall time)."""
        return datetime.now(UTC)
