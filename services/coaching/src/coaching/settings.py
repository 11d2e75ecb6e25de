"""Settings of the coaching service."""

from __future__ import annotations

import json

from pydantic import Field, field_validator

from durchstarten.settings import HoldingSettings


class CoachingSettings(HoldingSettings):
    """Coaching's configuration (`DURCHSTARTEN_*` environment variables)."""

    http_port: int = Field(default=8002, ge=0, le=65535, description="Port of the HTTP API.")
    sites: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Sites per provider, as JSON: {"provider": ["site", ...]}; by default'
        " each provider's sites in the county files.",
    )
    referral_answer_days: int = Field(
        default=14, ge=1, le=365, description="Days after which an unanswered referral is due."
    )

    def site_map(self) -> dict[str, list[str]]:
        """Each provider's sites: as set, else as the county files list them."""
        return self.sites or self.counties().sites()

    @field_validator("sites", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        """Accept the mapping as JSON text."""
        return json.loads(value) if isinstance(value, str) else value
