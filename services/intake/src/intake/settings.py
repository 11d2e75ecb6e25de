"""Settings of the intake service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from durchstarten.settings import ServiceSettings
from intake.vault import LEGACY_KEY_ID, Vault


class IntakeSettings(ServiceSettings):
    """Intake's configuration (`DURCHSTARTEN_*` environment variables)."""

    http_port: int = Field(default=8001, ge=0, le=65535, description="Port of the HTTP API.")
    key_store_url: SecretStr = Field(
        description=(
            "PostgreSQL URL of the key store, a database apart from intake's own: the"
            " participants' keys, without which a copy of intake's data opens nothing."
        )
    )
    vault_key: SecretStr = Field(
        description="The current master key: 32 random bytes, base64 (keep it safe)."
    )
    vault_key_id: str = Field(
        default=LEGACY_KEY_ID,
        pattern=r"^[a-z0-9-]{1,32}$",
        description="The current master key's id, stored with every key it wraps.",
    )
    vault_retired_keys: SecretStr | None = Field(
        default=None,
        description='Older master keys still needed, as JSON: {"k1": "<base64>"}.',
    )
    blind_index_key: SecretStr | None = Field(
        default=None,
        description=(
            "The blind index's own key (32 bytes, base64); unset: derived from the vault key,"
            " which then cannot rotate."
        ),
    )
    programmes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["durchstarten", "kim"],
        description="Programmes this deployment runs, in order of preference.",
    )
    deletion_schedule: bool = Field(
        default=True,
        description=(
            "Erase identifiers by themselves when the deletion plan's period has run out"
            " (off only where old data is replayed for a demo or a test)."
        ),
    )
    deletion_interval_s: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds between the scheduled passes (deletion, consents that end).",
    )
    programmes_dir: Path | None = Field(
        default=None, description="Folder of programme files; the built-in ones by default."
    )

    def vault(self) -> Vault:
        """The vault these settings describe (ValueError for a malformed key)."""
        retired: dict[str, str] = {}
        if self.vault_retired_keys is not None:
            found = json.loads(self.vault_retired_keys.get_secret_value())
            if not isinstance(found, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in found.items()
            ):
                msg = "DURCHSTARTEN_VAULT_RETIRED_KEYS must be a JSON object of id to base64 key"
                raise ValueError(msg)
            retired = found
        index = self.blind_index_key
        return Vault(
            self.vault_key.get_secret_value(),
            key_id=self.vault_key_id,
            retired=retired,
            index_key_b64=None if index is None else index.get_secret_value(),
        )

    @field_validator("programmes", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        """Accept `a,b` as well as a list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
