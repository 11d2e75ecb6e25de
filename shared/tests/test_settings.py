"""Service settings: environment variables, secret files, safe defaults."""

import json
import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from durchstarten.counties import BUILT_IN, load_counties
from durchstarten.messaging.broker import bootstrap_list, create_broker, tls_context
from durchstarten.settings import KafkaSettings, ServiceSettings

NAMED = load_counties().provider_ids()
"""The providers the shipped county files name."""


def test_providers_accept_comma_separated_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DURCHSTARTEN_DATABASE_URL", "postgresql://u:p@h/db")
    monkeypatch.setenv("DURCHSTARTEN_PROVIDERS", " a-1, " + ", ".join(NAMED) + ", b-2 ,")
    assert ServiceSettings().providers == ["a-1", *NAMED, "b-2"]
    monkeypatch.setenv("DURCHSTARTEN_PROVIDERS", json.dumps(["c-3", *NAMED]))
    assert ServiceSettings().providers == ["c-3", *NAMED]


def test_providers_default_to_the_county_files_and_a_service_serves_every_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DURCHSTARTEN_DATABASE_URL", "postgresql://u:p@h/db")
    monkeypatch.delenv("DURCHSTARTEN_PROVIDERS", raising=False)
    assert ServiceSettings().providers == NAMED
    assert KafkaSettings().providers == NAMED
    monkeypatch.setenv("DURCHSTARTEN_PROVIDERS", "extra-1," + ",".join(NAMED[1:]))
    # A service serves the one left out too; a topic job makes what it is told.
    assert ServiceSettings().providers == ["extra-1", *NAMED[1:], NAMED[0]]
    assert KafkaSettings().providers == ["extra-1", *NAMED[1:]]


def test_a_broken_county_file_stops_the_settings_naming_file_field_and_rule(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DURCHSTARTEN_DATABASE_URL", "postgresql://u:p@h/db")
    monkeypatch.setenv("DURCHSTARTEN_COUNTIES_DIR", str(tmp_path))
    herford = (BUILT_IN / "05758-kreis-herford.toml").read_text(encoding="utf-8")
    (tmp_path / "05758-kreis-herford.toml").write_text(
        herford.replace('key = "05758004"', 'key = "5758004"'), encoding="utf-8"
    )
    with pytest.raises(ValidationError) as caught:
        ServiceSettings()
    message = str(caught.value)
    assert "05758-kreis-herford.toml" in message
    assert "municipalities.0.key" in message
    assert "pattern" in message


def test_database_url_is_required_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DURCHSTARTEN_DATABASE_URL", raising=False)
    with pytest.raises(ValidationError, match="database_url"):
        ServiceSettings()
    monkeypatch.setenv("DURCHSTARTEN_DATABASE_URL", "postgresql://u:hunter2@h/db")
    settings = ServiceSettings()
    assert "hunter2" not in repr(settings)


def test_invalid_provider_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DURCHSTARTEN_DATABASE_URL", "postgresql://u:p@h/db")
    monkeypatch.setenv("DURCHSTARTEN_PROVIDERS", "Bad.Provider")
    with pytest.raises(ValidationError, match="lower-case slug"):
        ServiceSettings()


def test_defaults_bind_to_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DURCHSTARTEN_DATABASE_URL", "postgresql://u:p@h/db")
    settings = ServiceSettings()
    assert settings.http_host == "127.0.0.1"
    assert settings.kafka_bootstrap_servers.startswith("127.0.0.1")


def test_secrets_come_from_files_in_the_secrets_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "durchstarten_database_url").write_text("postgresql://u:from-file@h/db\n")
    (tmp_path / "durchstarten_kafka_sasl_password").write_text("s3cret-from-file")
    monkeypatch.delenv("DURCHSTARTEN_DATABASE_URL", raising=False)
    monkeypatch.delenv("DURCHSTARTEN_KAFKA_SASL_PASSWORD", raising=False)
    monkeypatch.setenv("DURCHSTARTEN_SECRETS_DIR", str(tmp_path))
    settings = ServiceSettings()
    assert settings.database_url.get_secret_value() == "postgresql://u:from-file@h/db"
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.get_secret_value() == "s3cret-from-file"
    # An environment variable still wins over the file.
    monkeypatch.setenv("DURCHSTARTEN_KAFKA_SASL_PASSWORD", "from-env")
    assert ServiceSettings().kafka_sasl_password == SecretStr("from-env")


def test_a_missing_secrets_directory_is_no_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DURCHSTARTEN_SECRETS_DIR", str(tmp_path / "absent"))
    monkeypatch.setenv("DURCHSTARTEN_DATABASE_URL", "postgresql://u:p@h/db")
    assert ServiceSettings().kafka_sasl_password is None


def test_the_broker_certificate_is_always_verified(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DURCHSTARTEN_DATABASE_URL", "postgresql://u:p@h/db")
    context = tls_context(ServiceSettings())
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    monkeypatch.setenv("DURCHSTARTEN_KAFKA_SSL_CAFILE", str(tmp_path / "no-such-ca.pem"))
    with pytest.raises(FileNotFoundError):
        tls_context(ServiceSettings())


def test_several_bootstrap_servers_reach_the_broker_as_several_addresses() -> None:
    """FastStream would pass "a,b" on as one host name; a cluster's list must stay a list."""
    settings = ServiceSettings(
        database_url=SecretStr("postgresql://x"),
        kafka_bootstrap_servers="127.0.0.1:9092, 127.0.0.1:9093,127.0.0.1:9094",
    )
    broker = create_broker(settings, service="test")
    assert broker._connection_kwargs["bootstrap_servers"] == [  # what aiokafka gets
        "127.0.0.1:9092",
        "127.0.0.1:9093",
        "127.0.0.1:9094",
    ]
    assert bootstrap_list("127.0.0.1:9092") == ["127.0.0.1:9092"]
