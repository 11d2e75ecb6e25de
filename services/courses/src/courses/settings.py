"""Settings of the courses service."""

from __future__ import annotations

import json
from datetime import date

from pydantic import BaseModel, Field, field_validator

from durchstarten.settings import HoldingSettings


class FundingRate(BaseModel):
    """Funding rates from a date on (per programme rules: the lump sum per UE, exam fees)."""

    valid_from: date
    ue_cents: int = Field(ge=0, description="Lump sum per teaching unit delivered, in cents.")
    exam_fee_cents: int = Field(ge=0, description="Exam fee paid at cost, in cents.")


class CoursesSettings(HoldingSettings):
    """Courses' configuration (`DURCHSTARTEN_*` environment variables)."""

    http_port: int = Field(default=8003, ge=0, le=65535, description="Port of the HTTP API.")
    funding_rates: list[FundingRate] = Field(
        default_factory=lambda: [
            FundingRate(valid_from=date(2019, 4, 9), ue_cents=3750, exam_fee_cents=13500)
        ],
        description="Funding rates as JSON, each from a date on (37.50 EUR per UE in 2019).",
    )

    @field_validator("funding_rates", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        """Accept the list as JSON text."""
        return json.loads(value) if isinstance(value, str) else value
