import pytest
from pydantic import ValidationError

from durchstarten.settings import ServiceSettings


def test_providers_accept_comma_separated_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DURCHSTARTEN_DATABASE_URL", "postgresql://u:p@h/db")
    monkeypatch.setenv("DURCHSTARTEN_PROVIDERS", " a-1, b-2 ,")
    assert ServiceSettings().providers == ["a-1", "b-2"]
    monkeypatch.setenv("DURCHSTARTEN_PROVIDERS", '["c-3"]')
    assert ServiceSettings().providers == ["c-3"]


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
