"""Settings every service shares, read from `DURCHSTARTEN_*` environment variables."""

from __future__ import annotations

import json
import os
import uuid
from datetime import date
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from durchstarten.auth import AuthSettings, Role, default_role_map
from durchstarten.counties import BUILT_IN as BUILT_IN_COUNTIES
from durchstarten.counties import Counties, load_counties
from durchstarten.events.topics import validate_provider_id
from durchstarten.retention import DeletionPlan, StoreRule, check_within, load_plan

ENV_PREFIX = "DURCHSTARTEN_"

DEFAULT_SECRETS_DIR = Path("/run/secrets")
"""Where container runtimes mount secret files (compose `secrets:`, Kubernetes volumes)."""


def secrets_dir() -> Path | None:
    """The directory of secret files, if there is one: DURCHSTARTEN_SECRETS_DIR or the default.

    A setting's file is named like its variable, in lower case: the SCRAM password is read
    from `<dir>/durchstarten_kafka_sasl_password`, the database URL from
    `<dir>/durchstarten_database_url`. An environment variable still wins over a file, so a
    developer's experiment needs no files.
    """
    configured = os.environ.get(f"{ENV_PREFIX}SECRETS_DIR")
    directory = Path(configured) if configured else DEFAULT_SECRETS_DIR
    return directory if directory.is_dir() else None


class KafkaSettings(BaseSettings):
    """How to reach Kafka and which topics exist; all a topic-setup job needs."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)
    _counties: Counties = PrivateAttr()

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Comma-separated Kafka bootstrap servers."
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="PLAINTEXT locally; SASL_SSL with SCRAM-SHA-512 in production.",
    )
    kafka_sasl_username: str | None = Field(default=None, description="SCRAM principal.")
    kafka_sasl_password: SecretStr | None = Field(
        default=None,
        description="SCRAM password; in a container, a secret file (see `secrets_dir`).",
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="CA certificate (PEM) the broker's TLS certificate is checked against, "
        "for SASL_SSL; none: the system's trusted CAs.",
    )
    kafka_client_id: str | None = Field(
        default=None, description="Kafka client id; defaults to the service name."
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=20, ge=0, description="Longest wait of a fetch for new data (low lag)."
    )
    consumer_batch_size: int = Field(
        default=200,
        ge=1,
        description="Records a write service takes per poll; their offsets are committed once.",
    )

    deletion_plan: Path | None = Field(
        default=None,
        description="The deletion plan's file (TOML); the plan that ships with the code if unset.",
    )
    topic_partitions: int = Field(
        default=3, ge=1, description="Partitions of the topics this project creates."
    )
    topic_replication_factor: int = Field(
        default=1, ge=1, description="Replicas per partition (production: 3)."
    )
    counties_dir: Path | None = Field(
        default=None,
        description="Folder of county files (one TOML file per county); the shipped ones if unset.",
    )
    providers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Provider ids with inbound and outbound topics (comma-separated or JSON);"
        " by default every provider named in the county files.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then secret files, when their directory exists.

        Secrets come as files, never as environment variables of an image or a compose file
        (both are readable by anyone who can inspect the container).
        """
        directory = secrets_dir()
        files = () if directory is None else (SecretsSettingsSource(settings_cls, directory),)
        return (init_settings, env_settings, *files)

    @field_validator("providers", mode="before")
    @classmethod
    def _split_providers(cls, value: object) -> object:
        """Accept `a,b,c` as well as a JSON list, since county IT writes env files by hand."""
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("providers")
    @classmethod
    def _check_provider_ids(cls, value: list[str]) -> list[str]:
        """Provider ids become topic names, so they must be safe topic-name segments."""
        for provider in value:
            validate_provider_id(provider)
        return value

    @model_validator(mode="after")
    def _read_counties(self) -> Self:
        """Read the county files at start: an error stops the service, naming the file.

        Without a provider list, the providers are the county files'. A service always
        serves every provider the county files name (`ServiceSettings`); a list given to a
        topic job or a tool is taken as it is.
        """
        counties = load_counties(self.counties_dir or BUILT_IN_COUNTIES)
        if not self.providers:
            # Known only once the files are read; the settings are frozen, so set it the
            # way pydantic's own __init__ does.
            object.__setattr__(self, "providers", counties.provider_ids())
        self._counties = counties
        return self

    def counties(self) -> Counties:
        """The configured counties (read once, when the settings were made)."""
        return self._counties


class ServiceSettings(KafkaSettings):
    """Configuration of one service process; each service subclasses it.

    Defaults are safe for a developer machine: everything binds to 127.0.0.1 and the only
    required value is the database URL, which carries a password and so has no default.
    """

    @model_validator(mode="after")
    def _serve_every_county_provider(self) -> Self:
        """Every provider of the county files is served, listed or not (appended in order)."""
        missing = [p for p in self.counties().provider_ids() if p not in self.providers]
        if missing:
            object.__setattr__(self, "providers", [*self.providers, *missing])
        return self

    database_url: SecretStr = Field(
        description="PostgreSQL URL of this service's own database (postgresql://user:pw@host/db)."
    )
    database_owner_url: SecretStr | None = Field(
        default=None,
        description=(
            "PostgreSQL URL of the role that owns this service's database and runs its"
            " migrations; set, the service works as DATABASE_URL's role with data rights only"
            " (it cannot change the audit trail). Unset, the service's own role migrates."
        ),
    )
    database_pool_min: int = Field(default=1, ge=0, description="Smallest connection pool size.")
    database_pool_max: int = Field(default=10, ge=1, description="Largest connection pool size.")

    tracing: Literal["off", "console", "otlp"] = Field(
        default="off",
        description="OpenTelemetry traces: off; console (JSON lines to DURCHSTARTEN_TRACING_FILE"
        ", else stdout); otlp (to DURCHSTARTEN_TRACING_OTLP_ENDPOINT).",
    )
    tracing_file: Path | None = Field(default=None, description="Where console traces go.")
    tracing_otlp_endpoint: str | None = Field(
        default=None, description="The collector's OTLP/HTTP traces URL (…/v1/traces)."
    )
    instance_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Names this process in its health answers (random unless set), so that "
        "whoever started it can tell it from another process on the same port.",
    )
    http_host: str = Field(default="127.0.0.1", description="Address the HTTP API binds to.")
    http_port: int = Field(default=8000, ge=0, le=65535, description="Port of the HTTP API.")
    http_max_body_bytes: int = Field(
        default=256 * 1024,
        ge=1,
        description="Largest request body accepted (413 beyond it), counted as it streams in.",
    )
    http_rate_limit_per_s: float = Field(
        default=20.0,
        gt=0,
        description="Requests per second each caller (token subject, else client address) may "
        "make on average; kept in this process's memory, so per instance.",
    )
    http_rate_limit_burst: int = Field(
        default=100,
        ge=1,
        description="Requests a caller may make at once before the per-second rate applies.",
    )
    http_docs: bool = Field(
        default=False,
        description="Serve /docs and /openapi.json (Swagger UI from the service's own assets).",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Address the Prometheus /metrics endpoint binds to."
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of /metrics, apart from the API; default: the API port + 1000.",
    )

    auth_jwks_path: Path | None = Field(
        default=None, description="JWKS file of the token issuer (local stack's dev issuer)."
    )
    auth_jwks_url: str | None = Field(
        default=None, description="JWKS URL of the OIDC issuer (Keycloak in production)."
    )
    auth_issuer: str = Field(
        default="http://127.0.0.1/durchstarten-dev", description="Accepted token issuer (iss)."
    )
    auth_audience: str = Field(default="durchstarten", description="Accepted audience (aud).")
    auth_authorized_parties: list[str] = Field(
        default_factory=list,
        description="Clients (azp) tokens must be issued to, as a JSON list; empty: any client.",
    )
    auth_roles_client: str | None = Field(
        default=None,
        description="Keycloak client whose client roles (resource_access.<client>.roles) count.",
    )
    auth_role_map: dict[str, Role] = Field(
        default_factory=default_role_map,
        description="Token role name -> our role, as a JSON object; unlisted names grant nothing.",
    )
    auth_county_claim: str = Field(
        default="county",
        description="Claim with a coordinator's county key (5 digits); dots step into objects.",
    )
    auth_provider_claim: str = Field(
        default="provider", description="Claim with a provider's id; dots step into objects."
    )
    auth_leeway_s: float = Field(
        default=5.0, ge=0, le=60, description="Clock skew allowed on exp, nbf and iat."
    )
    auth_jwks_max_age_s: float = Field(
        default=300.0, gt=0, description="How long fetched JWKS keys are trusted."
    )
    auth_jwks_refetch_interval_s: float = Field(
        default=30.0,
        ge=0,
        description="Least time between JWKS refetches for unknown key ids or after a failure.",
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest log level written."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto", description="json outside a terminal, console in one (auto)."
    )

    clock_today: date | None = Field(
        default=None, description="A fixed date taken as today (tests and demos only)."
    )

    outbox_batch_size: int = Field(default=500, ge=1, description="Rows the relay sends at once.")
    outbox_poll_interval_s: float = Field(
        default=1.0, gt=0, description="Relay polling fallback when no NOTIFY arrives."
    )
    outbox_lease_s: float = Field(
        default=30.0,
        ge=1,
        description=(
            "How long the relay's leadership outlives a relay that stops answering (a frozen "
            "or partitioned instance): the database ends its transaction, another takes over."
        ),
    )
    outbox_retention_hours: float = Field(
        default=168.0,
        ge=0,
        description="How long sent outbox rows are kept; at most the deletion plan's period.",
    )

    def deletion_plan_rules(self) -> DeletionPlan:
        """The deletion plan this service runs under."""
        return load_plan(self.deletion_plan)

    def kept_by_settings(self, plan: DeletionPlan) -> list[tuple[StoreRule, float, str]]:
        """Each store whose period a setting decides: its rule, the seconds, the variable."""
        return [
            (
                plan.stores.outbox_sent,
                self.outbox_retention_hours * 3600,
                "DURCHSTARTEN_OUTBOX_RETENTION_HOURS",
            )
        ]

    @model_validator(mode="after")
    def _within_the_deletion_plan(self) -> Self:
        """A service configured to keep data longer than the plan allows does not start."""
        for rule, seconds, setting in self.kept_by_settings(self.deletion_plan_rules()):
            check_within(rule, seconds, setting)
        return self

    def metrics_listen_port(self) -> int:
        """The port /metrics listens on: the setting, else the API port + 1000 (0: any free)."""
        if self.metrics_port is not None:
            return self.metrics_port
        return self.http_port + 1000 if self.http_port else 0

    def auth(self) -> AuthSettings:
        """The token-verification part of these settings."""
        return AuthSettings(
            jwks_path=self.auth_jwks_path,
            jwks_url=self.auth_jwks_url,
            issuer=self.auth_issuer,
            audience=self.auth_audience,
            authorized_parties=tuple(self.auth_authorized_parties),
            roles_client=self.auth_roles_client,
            role_map=self.auth_role_map,
            provider_claim=self.auth_provider_claim,
            county_claim=self.auth_county_claim,
            leeway_s=self.auth_leeway_s,
            jwks_max_age_s=self.auth_jwks_max_age_s,
            jwks_refetch_interval_s=self.auth_jwks_refetch_interval_s,
        )


class HoldingSettings(ServiceSettings):
    """A service that holds commands about participants it does not know yet.

    Coaching and courses: how long a held command waits, within the deletion plan.
    """

    hold_unknown_s: float = Field(
        default=300.0,
        gt=0,
        description="How long a command about a participant not yet known from intake waits.",
    )

    def kept_by_settings(self, plan: DeletionPlan) -> list[tuple[StoreRule, float, str]]:
        """The outbox's period, and a held command's wait."""
        held = (plan.stores.held_commands, self.hold_unknown_s, "DURCHSTARTEN_HOLD_UNKNOWN_S")
        return [*super().kept_by_settings(plan), held]
