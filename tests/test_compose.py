"""docker-compose.yml cannot run here (no Docker engine); it is checked by parsing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from coaching.settings import CoachingSettings
from courses.settings import CoursesSettings
from durchstarten.settings import ENV_PREFIX, KafkaSettings
from durchstarten_deploy.kafka import kafka_version
from intake.settings import IntakeSettings
from reporting.settings import ReportingSettings

REPO = Path(__file__).resolve().parents[1]
SETTINGS: dict[str, type[BaseSettings]] = {
    "intake": IntakeSettings,
    "coaching": CoachingSettings,
    "courses": CoursesSettings,
    "reporting": ReportingSettings,
    "topics": KafkaSettings,
}
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*)|:\?[^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return document


def substitute(value: object) -> str:
    """Fill ${VAR}, ${VAR:-default} and ${VAR:?error} as compose would, with test values."""

    def fill(match: re.Match[str]) -> str:
        return match[2] if match[2] is not None else f"value-of-{match[1].lower()}"

    return VARIABLE.sub(fill, str(value))


@pytest.mark.parametrize("name", list(SETTINGS))
def test_each_service_gets_exactly_the_environment_its_settings_class_reads(
    compose: dict[str, Any], name: str
) -> None:
    settings_class = SETTINGS[name]
    environment: dict[str, object] = compose["services"][name]["environment"]
    known = {ENV_PREFIX + field.upper() for field in settings_class.model_fields}
    ours = {key for key in environment if key.startswith(ENV_PREFIX)}
    assert ours - known == set(), f"{name}: variables no setting reads"
    required = {
        ENV_PREFIX + field.upper()
        for field, info in settings_class.model_fields.items()
        if info.is_required()
    }
    assert required <= ours, f"{name}: required settings missing"
    values = {key[len(ENV_PREFIX) :].lower(): substitute(v) for key, v in environment.items()}
    settings: Any = settings_class.model_validate(values)  # every value has the right type
    assert settings.kafka_bootstrap_servers == "kafka:9092"
    if name == "topics":
        return
    service = compose["services"][name]
    port = settings.http_port
    assert settings.http_host == "0.0.0.0"  # noqa: S104  # inside the container only
    assert service["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert f"127.0.0.1:{port}/health/ready" in " ".join(service["healthcheck"]["test"])
    assert service["command"] == [name]
    assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert settings.database_url.get_secret_value().endswith(f"@postgres:5432/durchstarten_{name}")
    assert settings.auth_jwks_url


def test_secrets_are_references_never_literals(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            text = str(value)
            if "PASSWORD" in key or key.endswith("VAULT_KEY"):
                assert text.startswith("${"), f"{name}.{key} holds a literal secret"
            if key.endswith("DATABASE_URL"):
                password = text.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
                assert password.startswith("${"), f"{name}.{key} holds a literal password"


def test_kafka_is_the_official_image_in_kraft_mode_matching_the_local_stack(
    compose: dict[str, Any],
) -> None:
    kafka = compose["services"]["kafka"]
    image, version = kafka["image"].split(":")
    assert image == "apache/kafka"
    assert version == kafka_version()
    environment = kafka["environment"]
    for key in (
        "KAFKA_PROCESS_ROLES",
        "KAFKA_NODE_ID",
        "KAFKA_CONTROLLER_QUORUM_VOTERS",
        "KAFKA_LISTENERS",
        "KAFKA_ADVERTISED_LISTENERS",
        "KAFKA_CONTROLLER_LISTENER_NAMES",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert key in environment, key
    assert "PLAINTEXT://kafka:9092" in environment["KAFKA_ADVERTISED_LISTENERS"]
    assert str(environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]) == "false"
    assert "healthcheck" in kafka


def test_topic_job_and_databases_are_set_up_before_the_services(compose: dict[str, Any]) -> None:
    topics = compose["services"]["topics"]
    assert topics["command"] == ["durchstarten_deploy", "topics"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    postgres = compose["services"]["postgres"]
    script = next(m.split(":")[0] for m in postgres["volumes"] if "initdb.d" in m)
    text = (REPO / script).read_text()
    assert "CREATE DATABASE" in text
    for service in ("intake", "coaching", "courses", "reporting"):
        assert f"DURCHSTARTEN_{service.upper()}_DB_PASSWORD" in postgres["environment"]
    assert (REPO / "Dockerfile").exists()
