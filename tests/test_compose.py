"""docker-compose.yml cannot run here (no Docker engine); it is checked by parsing.

What is checked: every service gets exactly the settings its class reads, passwords and keys
only as secret files (compose `secrets:`, read through DURCHSTARTEN_SECRETS_DIR) and never as
variables, each principal its own password, the broker configured as the local stack runs it
(SCRAM-SHA-512 inside TLS, the StandardAuthorizer with nothing allowed without an ACL), and
the one-shot jobs' scripts agreeing with the compose file and with messaging/access.py.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
import yaml
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from coaching.app import MIGRATIONS as COACHING_MIGRATIONS
from coaching.settings import CoachingSettings
from courses.settings import CoursesSettings
from durchstarten.counties import load_counties
from durchstarten.db.pool import create_pool
from durchstarten.messaging.access import ADMIN, SERVICES, provider_principal, service_principal
from durchstarten.service import ServiceRuntime
from durchstarten.settings import ENV_PREFIX, KafkaSettings
from durchstarten_deploy.kafka import kafka_version
from durchstarten_deploy.postgres import LocalPostgres, find_bin_dir
from durchstarten_deploy.processes import free_port
from durchstarten_deploy.stack import DATABASES, SPLIT_ROLES
from intake.settings import IntakeSettings
from reporting.settings import ReportingSettings

REPO = Path(__file__).resolve().parents[1]
COMPOSE_SCRIPTS = REPO / "deploy" / "compose"
SETTINGS: dict[str, type[BaseSettings]] = {
    "intake": IntakeSettings,
    "coaching": CoachingSettings,
    "courses": CoursesSettings,
    "reporting": ReportingSettings,
    "reporting-projector": ReportingSettings,
    "topics": KafkaSettings,
}
SERVICE_OF = {"reporting-projector": "reporting"}
"""Compose services that run one role of a service (`reporting.settings.ReportingRole`)."""
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?-([^}]*)|:\?[^}]*)?\}")
SECRETS_MOUNT = "/run/secrets"
CA_FILE = "/etc/durchstarten/kafka-ca/ca.pem"
DEFAULT_PROVIDERS = load_counties().provider_ids()
"""The providers of the shipped county files: the settings' default."""


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return document


def substitute(value: object) -> str:
    """Fill ${VAR}, ${VAR:-default} and ${VAR:?error} as compose would, with test values."""

    def fill(match: re.Match[str]) -> str:
        return match[2] if match[2] is not None else f"value-of-{match[1].lower()}"

    return VARIABLE.sub(fill, str(value))


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as the container sees it."""
    return {key: substitute(value) for key, value in (service.get("environment") or {}).items()}


def secret_mounts(service: dict[str, Any]) -> dict[str, str]:
    """File name under /run/secrets -> the compose secret mounted there."""
    mounts: dict[str, str] = {}
    for entry in service.get("secrets") or []:
        if isinstance(entry, str):
            mounts[entry] = entry
        else:
            target = entry.get("target", entry["source"])
            mounts[target.removeprefix(f"{SECRETS_MOUNT}/")] = entry["source"]
    return mounts


def kafka_properties(env: dict[str, str]) -> dict[str, str]:
    """server.properties as the apache/kafka image renders it from KAFKA_* (KafkaDockerWrapper).

    KAFKA_ dropped, lower case, `_` -> `.`, then `...` -> `-` and `..` -> `_`.
    """
    image_only = {"KAFKA_OPTS", "KAFKA_HEAP_OPTS", "KAFKA_JMX_OPTS", "KAFKA_LOG4J_OPTS"}
    properties = {}
    for key, value in env.items():
        if key.startswith("KAFKA_") and key not in image_only:
            name = key.removeprefix("KAFKA_").lower().replace("_", ".")
            properties[name.replace("...", "-").replace("..", "_")] = value
    return properties


@pytest.fixture(scope="module")
def generated_secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The secret files as deploy/compose/make-secrets.sh writes them for an operator."""
    folder = tmp_path_factory.mktemp("compose") / "secrets"
    bash = shutil.which("bash")
    assert bash is not None
    subprocess.run([bash, str(COMPOSE_SCRIPTS / "make-secrets.sh"), str(folder)], check=True)
    return folder


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No DURCHSTARTEN_* variable of this test process leaks into the settings under test."""
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    return monkeypatch


@pytest.mark.parametrize("name", list(SETTINGS))
def test_each_service_gets_exactly_the_settings_its_class_reads(
    compose: dict[str, Any],
    name: str,
    generated_secrets: Path,
    tmp_path: Path,
    clean_environment: pytest.MonkeyPatch,
) -> None:
    settings_class = SETTINGS[name]
    service = compose["services"][name]
    env = environment(service)
    mounts = secret_mounts(service)
    known = {ENV_PREFIX + field.upper() for field in settings_class.model_fields}
    ours = {key for key in env if key.startswith(ENV_PREFIX)}
    from_files = {target.upper() for target in mounts}
    assert ours - known == set(), f"{name}: variables no setting reads"
    assert from_files - known == set(), f"{name}: secret files no setting reads"
    assert ours & from_files == set(), f"{name}: a setting both as variable and as file"
    required = {
        ENV_PREFIX + field.upper()
        for field, info in settings_class.model_fields.items()
        if info.is_required()
    }
    assert required <= ours | from_files, f"{name}: required settings missing"

    # The container's view: its variables, and its secret files in /run/secrets.
    secrets_dir = tmp_path / "run-secrets"
    secrets_dir.mkdir()
    for target, source in mounts.items():
        shutil.copy(generated_secrets / source, secrets_dir / target)
    for key, value in env.items():
        clean_environment.setenv(key, value)
    clean_environment.setenv(f"{ENV_PREFIX}SECRETS_DIR", str(secrets_dir))
    settings: Any = settings_class()  # every value has the right type, files included

    assert settings.kafka_bootstrap_servers == "kafka:9092"
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert str(settings.kafka_ssl_cafile) == CA_FILE
    password = (generated_secrets / f"kafka-{settings.kafka_sasl_username}").read_text().strip()
    assert settings.kafka_sasl_password.get_secret_value() == password
    assert service["volumes"] == [f"kafka-ca:{Path(CA_FILE).parent}:ro"]
    if name == "topics":
        assert settings.kafka_sasl_username == ADMIN
        assert service["build"]["target"] == "tools"
        return
    name = SERVICE_OF.get(name, name)
    assert settings.kafka_sasl_username == service_principal(name)
    port = settings.http_port
    assert settings.http_host == "0.0.0.0"  # noqa: S104  # inside the container only
    assert service["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert f"127.0.0.1:{port}/health/ready" in " ".join(service["healthcheck"]["test"])
    assert service["command"] == [name]
    assert service["build"] == "."  # the Dockerfile's default stage: the service image
    assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    url = settings.database_url.get_secret_value()
    assert url.startswith(f"postgresql://{name}:")
    assert url.endswith(f"@postgres:5432/durchstarten_{name}")
    owner = settings.database_owner_url
    if name in SPLIT_ROLES:
        assert owner is not None
        assert owner.get_secret_value().startswith(f"postgresql://{name}_owner:")
        assert owner.get_secret_value().endswith(f"@postgres:5432/durchstarten_{name}")
    else:
        assert owner is None
    assert settings.auth_jwks_url
    if name == "intake":
        key = (generated_secrets / "intake-vault-key").read_text().strip()
        assert settings.vault_key.get_secret_value() == key
        index = (generated_secrets / "intake-blind-index-key").read_text().strip()
        assert settings.blind_index_key is not None
        assert settings.blind_index_key.get_secret_value() == index
        assert settings.vault().can_rotate
        store = settings.key_store_url.get_secret_value()
        # Apart from intake's data: a role and a database of its own.
        assert store.startswith("postgresql://intake_keys:")
        assert store.endswith("@postgres:5432/durchstarten_intake_keys")


def test_passwords_are_never_variables(compose: dict[str, Any]) -> None:
    """No variable carries a password: only `*_FILE` names pointing at a secret file."""
    for name, service in compose["services"].items():
        mounted = {f"{SECRETS_MOUNT}/{target}" for target in secret_mounts(service)}
        for key, value in (service.get("environment") or {}).items():
            text = str(value)
            if "PASSWORD" in key.upper():
                assert key.endswith("_FILE"), f"{name}.{key}: a password as a variable"
                assert text in mounted, f"{name}.{key} names no mounted secret"
            secrets = ("DATABASE_URL", "VAULT_KEY", "INDEX_KEY", "RETIRED_KEYS")
            assert not key.endswith(secrets), f"{name}.{key} is a secret"
            assert not re.search(r"://[^/@\s]+:[^/@\s]+@", text), f"{name}.{key}: credentials"
            assert "password=" not in text.lower(), f"{name}.{key}: a login as a variable"


def test_every_service_mounts_its_own_secrets(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in SERVICES:
        expected = {
            "durchstarten_kafka_sasl_password": f"kafka-{service_principal(name)}",
            "durchstarten_database_url": f"database-url.{name}",
        }
        if name in SPLIT_ROLES:
            expected["durchstarten_database_owner_url"] = f"database-owner-url.{name}"
        if name == "intake":
            expected["durchstarten_vault_key"] = "intake-vault-key"
            expected["durchstarten_blind_index_key"] = "intake-blind-index-key"
            expected["durchstarten_key_store_url"] = "database-url.intake_keys"
        assert secret_mounts(services[name]) == expected, name
    assert secret_mounts(services["topics"]) == {"durchstarten_kafka_sasl_password": "kafka-admin"}
    assert secret_mounts(services["kafka-init"]) == {"kafka-admin": "kafka-admin"}
    users = secret_mounts(services["kafka-users"])
    wanted = {f"kafka-{principal}" for principal in [ADMIN, *map(service_principal, SERVICES)]}
    wanted |= {f"kafka-{provider_principal(p)}" for p in DEFAULT_PROVIDERS}
    assert set(users) == wanted
    assert users == {name: name for name in users}  # the script finds each by its name
    postgres = services["postgres"]
    assert set(secret_mounts(postgres)) == {
        "postgres-superuser-password",
        *(f"database-url.{name}" for name in DATABASES),
        *(f"database-owner-url.{name}" for name in SPLIT_ROLES),
    }
    assert environment(postgres)["POSTGRES_PASSWORD_FILE"] == (
        f"{SECRETS_MOUNT}/postgres-superuser-password"
    )
    assert "secrets" not in services["kafka"]  # it reads kafka-init's files in its volumes


def test_every_secret_is_a_file_under_secrets_and_make_secrets_writes_it(
    compose: dict[str, Any], generated_secrets: Path
) -> None:
    declared: dict[str, Any] = compose["secrets"]
    used = {source for s in compose["services"].values() for source in secret_mounts(s).values()}
    assert used == set(declared)
    for name, definition in declared.items():
        assert definition == {"file": f"./secrets/{name}"}, name
        assert (generated_secrets / name).is_file(), f"make-secrets.sh does not write {name}"
    assert (generated_secrets / ".gitignore").read_text().splitlines()[-1] == "*"
    assert generated_secrets.stat().st_mode & 0o077 == 0  # the owner's folder alone
    for name in DATABASES:
        url = (generated_secrets / f"database-url.{name}").read_text().strip()
        assert re.fullmatch(
            rf"postgresql://{name}:[0-9a-f]{{64}}@postgres:5432/durchstarten_{name}", url
        )
    for name in SPLIT_ROLES:
        url = (generated_secrets / f"database-owner-url.{name}").read_text().strip()
        assert re.fullmatch(
            rf"postgresql://{name}_owner:[0-9a-f]{{64}}@postgres:5432/durchstarten_{name}", url
        )


def test_kafka_is_the_official_image_in_kraft_mode_with_sasl_ssl_and_acls(
    compose: dict[str, Any],
) -> None:
    kafka = compose["services"]["kafka"]
    image, version = kafka["image"].split(":")
    assert image == "apache/kafka"
    assert version == kafka_version()
    env = environment(kafka)
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
        "CLUSTER_ID",
    ):
        assert key in env, key
    properties = kafka_properties(env)
    assert properties["process.roles"] == "broker,controller"
    assert properties["auto.create.topics.enable"] == "false"
    protocols = dict(p.split(":") for p in properties["listener.security.protocol.map"].split(","))
    controller = properties["controller.listener.names"]
    assert protocols.pop(controller) == "SASL_PLAINTEXT"
    assert set(protocols.values()) == {"SASL_SSL"}  # every client listener: SCRAM inside TLS
    assert properties[f"listener.name.{controller.lower()}.sasl.enabled.mechanisms"] == "PLAIN"
    assert properties["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert properties["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert properties["inter.broker.listener.name"] in protocols
    assert properties["controller.quorum.voters"] == "1@localhost:9093"  # not reachable outside
    assert f"{controller}://localhost:9093" in properties["listeners"]
    advertised = dict(a.split("://") for a in properties["advertised.listeners"].split(","))
    assert set(advertised) == set(protocols)
    assert "kafka:9092" in advertised.values()
    assert "SSL://" in env["KAFKA_ADVERTISED_LISTENERS"]  # the image enables TLS only then
    authorizer = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert properties["authorizer.class.name"] == authorizer
    assert properties["allow.everyone.if.no.acl.found"] == "false"
    assert properties["super.users"] == f"User:{ADMIN}"
    assert properties["ssl.client.auth"] == "none"
    assert properties["ssl.truststore.type"] == "PEM"
    assert env["KAFKA_OPTS"] == (
        "-Djava.security.auth.login.config=/etc/kafka/secrets/broker_jaas.conf"
    )
    for key in ("KAFKA_SSL_KEYSTORE_CREDENTIALS", "KAFKA_SSL_KEY_CREDENTIALS"):
        assert "/" not in env[key]  # a file name in /etc/kafka/secrets, read by the image
    assert "healthcheck" in kafka
    assert "/etc/kafka/secrets/admin.properties" in " ".join(kafka["healthcheck"]["test"])
    assert kafka["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    assert set(kafka["volumes"]) == {
        "kafka-data:/var/lib/kafka/data",
        "kafka-secrets:/etc/kafka/secrets:ro",
        "kafka-ca:/etc/kafka/ca:ro",
    }
    (published,) = kafka["ports"]
    assert substitute(published).startswith("127.0.0.1:")  # the county opens it on purpose


def test_kafka_init_prepares_exactly_what_the_broker_reads(compose: dict[str, Any]) -> None:
    services = compose["services"]
    init, kafka = services["kafka-init"], services["kafka"]
    script = (COMPOSE_SCRIPTS / "kafka-init.sh").read_text()
    assert init["image"] == kafka["image"]
    assert init["user"] == "root"
    assert init["restart"] == "no"
    assert init["entrypoint"] == ["/bin/bash", "/opt/durchstarten/kafka-init.sh"]
    assert "./deploy/compose:/opt/durchstarten:ro" in init["volumes"]
    kafka_env, init_env = environment(kafka), environment(init)
    # The storage is formatted with the very configuration the broker starts with.
    assert {k: v for k, v in init_env.items() if k != "BROKER_HOSTS"} == kafka_env
    for volume in kafka["volumes"]:
        assert volume.removesuffix(":ro") in init["volumes"]
    assert "kafka-ca-key:/etc/kafka/ca-key" in init["volumes"]  # the CA key: here only
    for service in services.values():
        if service is not init:
            assert not any("kafka-ca-key" in v for v in service.get("volumes") or [])
    # The certificate names every host clients use: the services' bootstrap, the health
    # check's, and the one advertised to providers.
    hosts = init_env["BROKER_HOSTS"].split(",")
    properties = kafka_properties(kafka_env)
    for address in properties["advertised.listeners"].split(","):
        assert address.split("://")[1].rsplit(":", 1)[0] in hosts
    assert "localhost" in hosts
    # One JAAS section per SASL listener, named as the broker looks it up.
    for listener in properties["listener.security.protocol.map"].split(","):
        name = listener.split(":")[0].lower()
        assert f"\n{name}.KafkaServer {{" in script, name
    env = kafka_env
    for key in ("KAFKA_SSL_KEYSTORE_FILENAME", "KAFKA_SSL_KEYSTORE_CREDENTIALS"):
        assert f'"$BROKER_DIR/{env[key]}"' in script, key
    assert env["KAFKA_SSL_TRUSTSTORE_LOCATION"] == "/etc/kafka/ca/ca.pem"
    assert 'CA_DIR/ca.pem"' in script
    assert '"$BROKER_DIR/admin.properties"' in script
    assert "--add-scram" in script


def test_the_jobs_run_in_order_with_the_services_and_providers_of_access_py(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    users = services["kafka-users"]
    assert users["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert environment(users)["BOOTSTRAP_SERVERS"] == "kafka:9092"
    topics = services["topics"]
    assert topics["command"] == ["durchstarten_deploy", "topics"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert topics["depends_on"]["kafka-users"]["condition"] == "service_completed_successfully"
    for name in ("kafka-users", "topics", *SERVICES):
        assert environment(services[name])["DURCHSTARTEN_PROVIDERS"] == ",".join(DEFAULT_PROVIDERS)
    for script, variable, names in (
        ("kafka-users.sh", "SERVICES", SERVICES),
        ("postgres-init.sh", "DATABASES", DATABASES),
        ("postgres-init.sh", "SPLIT_ROLES", SPLIT_ROLES),
        ("make-secrets.sh", "services", SERVICES),
    ):
        text = (COMPOSE_SCRIPTS / script).read_text()
        assert f"{variable}=({' '.join(names)})" in text, script
    make_secrets = (COMPOSE_SCRIPTS / "make-secrets.sh").read_text()
    assert f"DURCHSTARTEN_PROVIDERS:-{','.join(DEFAULT_PROVIDERS)}" in make_secrets


def test_databases_are_set_up_before_the_services(compose: dict[str, Any]) -> None:
    postgres = compose["services"]["postgres"]
    script = next(m.split(":")[0] for m in postgres["volumes"] if "initdb.d" in m)
    text = (REPO / script).read_text()
    assert "CREATE DATABASE" in text
    assert "${DURCHSTARTEN_SECRETS_DIR:-/run/secrets}" in text
    assert '"$secrets/database-url.$service"' in text
    assert (REPO / "Dockerfile").exists()


def test_the_job_scripts_are_valid_bash() -> None:
    bash = shutil.which("bash")
    assert bash is not None
    scripts = sorted(COMPOSE_SCRIPTS.glob("*.sh"))
    assert len(scripts) >= 5
    for script in scripts:
        result = subprocess.run(
            [bash, "-n", str(script)], check=False, capture_output=True, text=True
        )
        assert result.returncode == 0, f"{script.name}: {result.stderr}"


@pytest.fixture
def scratch_postgres(tmp_path: Path) -> Iterator[LocalPostgres]:
    """A PostgreSQL cluster of the test's own: the init script makes cluster-wide roles."""
    server = LocalPostgres(directory=tmp_path / "pg", port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.integration
@pytest.mark.database
async def test_the_init_script_makes_roles_that_keep_the_audit_trail_from_the_service(
    generated_secrets: Path, scratch_postgres: LocalPostgres
) -> None:
    """postgres-init.sh run for real, on a PostgreSQL of its own, as the container runs it.

    Then each service's URLs (with the compose host swapped for ours) log in; an owner
    migrates a service with an audit trail, and its runtime role is refused every change.
    """
    server = scratch_postgres
    env = {
        **os.environ,
        "PATH": f"{find_bin_dir()}:{os.environ['PATH']}",
        "PGHOST": "127.0.0.1",
        "PGPORT": str(server.port),
        "PGPASSWORD": urlsplit(server.admin_url).password or "",
        "POSTGRES_USER": urlsplit(server.admin_url).username or "",
        "DURCHSTARTEN_SECRETS_DIR": str(generated_secrets),
    }
    bash = shutil.which("bash")
    assert bash is not None
    made = await asyncio.create_subprocess_exec(
        bash,
        str(COMPOSE_SCRIPTS / "postgres-init.sh"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, errors = await made.communicate()
    assert made.returncode == 0, errors.decode()

    def local(secret: str) -> str:
        url = (generated_secrets / secret).read_text().strip()
        return url.replace("@postgres:5432/", f"@127.0.0.1:{server.port}/")

    for name in DATABASES:
        connection = await asyncpg.connect(local(f"database-url.{name}"))
        try:
            assert await connection.fetchval("SELECT current_user") == name
            # No service reaches another's database.
            other = next(d for d in DATABASES if d != name)
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await asyncpg.connect(
                    local(f"database-url.{name}").rsplit("/", 1)[0] + f"/durchstarten_{other}"
                )
        finally:
            await connection.close()
    settings = CoachingSettings(
        database_url=SecretStr(local("database-url.coaching")),
        database_owner_url=SecretStr(local("database-owner-url.coaching")),
    )
    runtime = ServiceRuntime(
        service="coaching",
        settings=settings,
        migrations=COACHING_MIGRATIONS,
        with_outbox_relay=False,
    )
    pool = await create_pool(local("database-url.coaching"), min_size=1, max_size=2)
    try:
        await runtime.attach_database(pool)
        async with pool.acquire() as connection:
            await connection.fetchval("SELECT audit_append('a', 'case.read', NULL, 'p')")
            for attack in ("UPDATE audit_trail SET purpose = 'x'", "TRUNCATE audit_trail"):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await connection.execute(attack)
    finally:
        await pool.close()


def test_reporting_runs_its_read_api_and_its_projector_apart(compose: dict[str, Any]) -> None:
    """The API answers on reporting's port; the projector, on its own, consumes."""
    services = compose["services"]
    roles = {
        name: environment(services[name])["DURCHSTARTEN_REPORTING_ROLE"]
        for name in ("reporting", "reporting-projector")
    }
    assert roles == {"reporting": "api", "reporting-projector": "projector"}
    assert secret_mounts(services["reporting"]) == secret_mounts(services["reporting-projector"])
