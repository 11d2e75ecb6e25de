"""Settings of the intake service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from durchstarten.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    """Intake's configuration (`DURCHSTARTEN_*` environment variables)."""

    http_port: int = Field(default=8001, ge=0, le=65535, description="Port of the HTTP API.")
    vault_key: SecretStr = Field(
        description="32 random bytes, base64: wraps the per-participant keys (keep it safe)."
    )
    programmes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["durchstarten", "kim"],
        description="Programmes this deployment runs, in order of preference.",
    )
    programmes_dir: Path | None = Field(
        default=None, description="Folder of programme files; the built-in ones by default."
    )

    @field_validator("programmes", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        """Accept `a,b` as well as a list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
