"""The local stack: Kafka, PostgreSQL, topics, one database per service, and the services.

Used by `make run` (through the CLI) and by the test suite (through the pytest plugin), so
both exercise the same start-up path. Everything binds to 127.0.0.1, every process is
stopped by its process id, and all state lives under one directory outside git.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from durchstarten.auth import DevIssuer, Role
from durchstarten.counties import Counties, load_counties, with_providers, write_counties
from durchstarten.events.topics import project_topics
from durchstarten.messaging.access import (
    ADMIN,
    KafkaAccess,
    apply_acls,
    declared_acls,
    principals,
    service_principal,
)
from durchstarten.messaging.admin import ensure_topics
from durchstarten.retention import load_plan
from durchstarten_deploy import components
from durchstarten_deploy.kafka import KafkaCluster, KafkaNode, ensure_jars
from durchstarten_deploy.postgres import (
    LocalPostgres,
    ServiceRoles,
    create_databases,
    create_service_roles,
    with_database,
)
from durchstarten_deploy.processes import (
    StackError,
    free_port,
    stop_pid,
    wait_until,
    write_private,
)
from intake.vault import derived_index_key, new_vault_key

SERVICES = ("intake", "coaching", "courses", "reporting")
KEY_STORE = "intake_keys"
"""The database of intake's key store, apart from intake's own (DESIGN.md, data protection)."""
DATABASES = (*SERVICES, KEY_STORE)
SPLIT_ROLES = ("intake", "coaching", "courses")
"""Services that work as a runtime role with data rights only, while the owner migrates:
those holding person-level rows and their audit trail. Reporting makes a projection
version's tables while it runs, so it works as its database's owner (never the superuser)."""
DEFAULT_PORTS = {"intake": 8001, "coaching": 8002, "courses": 8003, "reporting": 8004}
REPO = Path(__file__).resolve().parents[3]
DEV_ISSUER = "http://127.0.0.1/durchstarten-dev"
DEV_AUDIENCE = "durchstarten"
DEFAULT_PROVIDERS = tuple(load_counties().provider_ids())
"""Every provider the shipped county files name (each has its topics and Kafka login)."""
DEMO_COUNTY = "05758"
"""Kreis Herford: the county the demo and a coordinator's development token work in."""


def default_state_dir() -> Path:
    """`DURCHSTARTEN_STACK_DIR`, else `.stack/` in the repository (ignored by git)."""
    return Path(os.environ.get("DURCHSTARTEN_STACK_DIR", REPO / ".stack"))


def default_cache_dir() -> Path:
    """`DURCHSTARTEN_CACHE_DIR`, else `~/.cache/durchstarten`: the Kafka jars, kept across runs."""
    fallback = Path.home() / ".cache" / "durchstarten"
    return Path(os.environ.get("DURCHSTARTEN_CACHE_DIR", fallback))


@dataclass
class ServiceProcess:
    """One running service process."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_file: Path
    metrics_port: int = 0
    instance: str = ""
    """The instance id the process was given; only its own health answer counts as ready."""

    @property
    def url(self) -> str:
        """Base URL of its HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        """Base URL of its Prometheus endpoint (`/metrics`), on a port of its own."""
        return f"http://127.0.0.1:{self.metrics_port}"

    def ready(self) -> bool:
        """True when /health/ready answers 200; StackError when the process died."""
        if self.process.poll() is not None:
            msg = f"{self.name} exited with code {self.process.returncode}; see {self.log_file}"
            raise StackError(msg)
        try:
            with urllib.request.urlopen(f"{self.url}/health/ready", timeout=2) as response:  # noqa: S310  # our own http URL
                body = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            return False
        # Another stack's service on a port we chose too would answer as well: not ours.
        return not self.instance or body.get("instance") == self.instance

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Block until the service is ready."""
        wait_until(self.ready, timeout_s=timeout_s, what=self.name, log=self.log_file)

    def kill(self) -> None:
        """SIGKILL: the crash the tests simulate."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Graceful stop (SIGTERM), SIGKILL after 30 s."""
        stop_pid(self.process.pid, timeout_s=30, process=self.process)


@dataclass
class Stack:
    """Kafka, PostgreSQL and the services, started and stopped together."""

    state_dir: Path = field(default_factory=default_state_dir)
    cache_dir: Path = field(default_factory=default_cache_dir)
    kafka_port: int | None = None
    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL"))
    kafka_bootstrap: str | None = None  # an existing broker instead of our own
    kafka_security: bool = field(
        default_factory=lambda: os.environ.get("DURCHSTARTEN_KAFKA_PLAINTEXT") != "1"
    )
    """SASL/SCRAM and ACLs on our broker (as in production); PLAINTEXT only on request."""
    providers: tuple[str, ...] = DEFAULT_PROVIDERS
    counties: Counties | None = None
    """The county files the services read; None: the shipped ones, and for a stack of other
    providers than theirs, the shipped counties with those providers in each instead."""
    database_prefix: str = "durchstarten"
    partitions: int = 3
    deletion_plan: Path | None = None
    """The deletion plan's file for the topics; None: the plan that ships with the code."""
    kafka_nodes: int = 1
    """Kafka nodes to run: 1 (the developer's stack), or 3 as production (the fault suite)."""
    kafka: KafkaNode | KafkaCluster | None = None
    postgres: LocalPostgres | None = None
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    first_env: dict[str, dict[str, str]] = field(default_factory=dict)
    """The extra environment each service (instance) was first started with in this stack."""
    issuer: DevIssuer | None = None
    roles: dict[str, ServiceRoles] = field(default_factory=dict)
    """Each database's owner and runtime role, once the infrastructure is up."""

    @property
    def bootstrap(self) -> str:
        """Bootstrap servers of the broker in use."""
        if self.kafka_bootstrap:
            return self.kafka_bootstrap
        if self.kafka is None:
            msg = "Kafka is not started"
            raise StackError(msg)
        return self.kafka.bootstrap

    @property
    def access(self) -> KafkaAccess:
        """How to reach the broker as each principal (an existing broker: PLAINTEXT)."""
        if self.kafka is not None:
            return self.kafka.access
        return KafkaAccess(self.bootstrap)

    @property
    def tls_access(self) -> KafkaAccess | None:
        """The same principals through our broker's SASL_SSL listener; None: it has none."""
        return None if self.kafka is None else self.kafka.tls_access

    def kafka_settings(self, principal: str = ADMIN) -> dict[str, Any]:
        """The `KafkaSettings` fields that connect as `principal` (the admin by default)."""
        fields: dict[str, Any] = {"kafka_bootstrap_servers": self.bootstrap}
        if self.access.secured:
            fields |= {
                "kafka_security_protocol": "SASL_PLAINTEXT",
                "kafka_sasl_username": principal,
                "kafka_sasl_password": SecretStr(self.access.passwords[principal]),
            }
        return fields

    @property
    def admin_url(self) -> str:
        """A URL with rights to create databases."""
        if self.database_url:
            return self.database_url
        if self.postgres is None:
            msg = "PostgreSQL is not started"
            raise StackError(msg)
        return self.postgres.admin_url

    def database_name(self, service: str) -> str:
        """The database of one service."""
        return f"{self.database_prefix}_{service}"

    def service_database_url(self, service: str) -> str:
        """URL of one service's database as the superuser (for inspection; services get roles)."""
        return with_database(self.admin_url, self.database_name(service))

    def start_infrastructure(self) -> None:
        """Start Kafka and PostgreSQL (unless existing ones are named), topics, databases.

        Also creates the development token issuer the services trust, and writes the
        county files the services read.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True)
        write_counties(self.county_files(), self.counties_dir)
        if not self.kafka_bootstrap:
            jars = ensure_jars(self.cache_dir)
            port = self.kafka_port or free_port()
            users = (
                {
                    name: self._secret(f"kafka-{name}", _password)
                    for name in principals(self.providers)
                }
                if self.kafka_security
                else None
            )
            if self.kafka_nodes > 1:
                cluster = KafkaCluster(
                    directory=self.state_dir / "kafka",
                    jars=jars,
                    size=self.kafka_nodes,
                    users=users,
                )
                self.kafka = cluster
                cluster.start()
                for node in cluster.nodes:
                    self._record_infrastructure(
                        f"kafka-{node.node_id}", node.process, node.log_file, node.port
                    )
            else:
                node = KafkaNode(
                    directory=self.state_dir / "kafka",
                    jars=jars,
                    port=port,
                    controller_port=free_port(),
                    users=users,
                    # SASL_SSL beside SASL_PLAINTEXT, as production speaks it; the services
                    # keep the plaintext listener on 127.0.0.1.
                    tls_port=free_port() if self.kafka_security else None,
                )
                self.kafka = node
                node.start()
                self._record_infrastructure("kafka", node.process, node.log_file, port)
        if not self.database_url:
            self.postgres = LocalPostgres(directory=self.state_dir / "postgres", port=free_port())
            self.postgres.start()
            self._record_infrastructure(
                "postgres",
                self.postgres.process,
                self.postgres.log_file,
                self.postgres.port,
                stop_signal="SIGINT",  # fast shutdown
            )
        asyncio.run(
            ensure_topics(
                self.bootstrap,
                project_topics(list(self.providers)),
                partitions=self.partitions,
                replication_factor=min(3, self.kafka_nodes),
                plan=load_plan(self.deletion_plan),
                client_options=self.access.admin_options(),
            )
        )
        if self.access.secured:
            asyncio.run(
                apply_acls(
                    self.bootstrap,
                    declared_acls(self.providers),
                    client_options=self.access.admin_options(),
                )
            )
        asyncio.run(create_databases(self.admin_url, [self.database_name(d) for d in DATABASES]))
        asyncio.run(self._make_roles())
        self.issuer = DevIssuer(self.state_dir / "auth", issuer=DEV_ISSUER, audience=DEV_AUDIENCE)

    def _record_infrastructure(
        self,
        name: str,
        process: subprocess.Popen[bytes] | None,
        log: Path,
        port: int,
        *,
        stop_signal: str = "SIGTERM",
    ) -> None:
        """Leave the launch record that `restart <name>` starts it again from."""
        if process is None:
            return
        launch = components.Launch(
            name=name,
            argv=[],
            env=None,
            log=str(log),
            ready={"port": port},
            stop_signal=stop_signal,
        )
        components.recorded(self.state_dir, process, launch)

    async def _make_roles(self) -> None:
        for database in DATABASES:
            self.roles[database] = await create_service_roles(
                self.admin_url,
                self.database_name(database),
                owner_password=self._secret(f"postgres-{database}-owner", _password),
                runtime_password=self._secret(f"postgres-{database}-app", _password),
            )

    def service_env(
        self, name: str, port: int, extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        """The environment a service process gets (its settings class reads these)."""
        if self.issuer is None:
            msg = "start the infrastructure first"
            raise StackError(msg)
        env = {
            key: value for key, value in os.environ.items() if not key.startswith("DURCHSTARTEN_")
        }
        env.update(
            {
                **self._database_env(name),
                "DURCHSTARTEN_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "DURCHSTARTEN_HTTP_HOST": "127.0.0.1",
                "DURCHSTARTEN_HTTP_PORT": str(port),
                "DURCHSTARTEN_PROVIDERS": ",".join(self.providers),
                "DURCHSTARTEN_COUNTIES_DIR": str(self.counties_dir),
                "DURCHSTARTEN_TOPIC_PARTITIONS": str(self.partitions),
                "DURCHSTARTEN_AUTH_JWKS_PATH": str(self.issuer.jwks_path),
                "DURCHSTARTEN_AUTH_ISSUER": DEV_ISSUER,
                "DURCHSTARTEN_AUTH_AUDIENCE": DEV_AUDIENCE,
                "DURCHSTARTEN_LOG_FORMAT": "json",
                "DURCHSTARTEN_METRICS_PORT": str(free_port()),
                "DURCHSTARTEN_HTTP_DOCS": "true",  # a developer's stack shows /docs
                # The simulator over HTTP and the benchmark's queries are one caller each.
                "DURCHSTARTEN_HTTP_RATE_LIMIT_PER_S": "1000",
                "DURCHSTARTEN_HTTP_RATE_LIMIT_BURST": "2000",
            }
        )
        if self.access.secured:
            principal = service_principal(name)
            env |= {
                "DURCHSTARTEN_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "DURCHSTARTEN_KAFKA_SASL_USERNAME": principal,
                "DURCHSTARTEN_KAFKA_SASL_PASSWORD": self.access.passwords[principal],
            }
        if name == "intake":
            # The key store has no audit trail and migrates itself: its owner's login.
            env["DURCHSTARTEN_KEY_STORE_URL"] = self.roles[KEY_STORE].owner_url
            vault_key = self._secret("vault-key", new_vault_key)
            env["DURCHSTARTEN_VAULT_KEY"] = vault_key
            # Derived from the vault key, as before keys could rotate: a kept stack's index
            # tokens stay valid; from here on it is a key of its own.
            env["DURCHSTARTEN_BLIND_INDEX_KEY"] = self._secret(
                "blind-index-key", lambda: derived_index_key(vault_key)
            )
            # The local stack replays years-old histories (the demo, the tests' scenarios):
            # by the deletion plan most of them would be erased within the hour. The
            # schedule's own tests turn it on; a county's deployment keeps the default (on).
            env["DURCHSTARTEN_DELETION_SCHEDULE"] = "false"
        if name == "coaching":
            # Every provider of the local stack runs the three Diakonie sites too, besides
            # its sites in the county files (the tests' cases open at Herford's).
            listed = self.county_files().sites()
            sites = {
                provider: sorted({*listed.get(provider, []), "herford", "buende", "loehne"})
                for provider in self.providers
            }
            env["DURCHSTARTEN_SITES"] = json.dumps(sites)
        env.update(extra or {})
        return env

    def _database_env(self, name: str) -> dict[str, str]:
        """The service's database logins: never the superuser's (`service_database_url`)."""
        roles = self.roles[name]
        if name in SPLIT_ROLES:
            return {
                "DURCHSTARTEN_DATABASE_URL": roles.runtime_url,
                "DURCHSTARTEN_DATABASE_OWNER_URL": roles.owner_url,
            }
        return {"DURCHSTARTEN_DATABASE_URL": roles.owner_url}

    def _secret(self, name: str, make: Callable[[], str]) -> str:
        """A secret of the local stack, made once and kept (owner-only) in the state dir."""
        path = self.state_dir / "secrets" / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_private(path, make())
        return path.read_text().strip()

    def start_service(
        self,
        name: str,
        *,
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
        instance: str | None = None,
    ) -> ServiceProcess:
        """Start one service process (`python -m <name>`) and wait until it is ready.

        `instance` names a further instance of the service (`coaching-2`): its own process,
        port and log, in the same consumer groups and database. A port taken between our
        choosing it and the service binding it is retried on another; readiness counts only
        when our own process answers (its instance id), not another stack's on that port.
        A restart keeps the extra environment of the first start (a test that restarts
        intake must not turn off the tracing the session gave it), with `extra_env` over it.
        """
        key = instance or name
        extra_env = self.first_env.setdefault(key, dict(extra_env or {})) | (extra_env or {})
        running = self.services.get(key)
        if running is not None and running.process.poll() is None:
            msg = f"{key} runs already (pid {running.process.pid}); stop it first"
            raise StackError(msg)
        attempts = 1 if port else 3
        for attempt in range(1, attempts + 1):
            try:
                return self._start_service_once(name, key, port or free_port(), extra_env)
            except StackError as error:
                if attempt == attempts or "address already in use" not in str(error).lower():
                    raise
        raise AssertionError  # pragma: no cover  # the loop returns or raises

    def _start_service_once(
        self, name: str, key: str, port: int, extra_env: dict[str, str] | None
    ) -> ServiceProcess:
        log_dir = self.state_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_file = log_dir / f"{key}.log"
        instance_id = f"{key}-{secrets.token_hex(8)}"
        env = self.service_env(name, port, extra_env) | {"DURCHSTARTEN_INSTANCE_ID": instance_id}
        started_at = log_file.stat().st_size if log_file.exists() else 0
        output = log_file.open("ab")
        process = subprocess.Popen(  # our own interpreter and module
            [sys.executable, "-m", name],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        service = ServiceProcess(
            name=key,
            port=port,
            process=process,
            log_file=log_file,
            metrics_port=int(env["DURCHSTARTEN_METRICS_PORT"]),
            instance=instance_id,
        )
        self.services[key] = service
        self._write_pids()
        try:
            service.wait_ready()
        except StackError as error:
            with log_file.open("rb") as log:
                log.seek(started_at)
                tail = log.read().decode(errors="replace")[-4000:]
            # The log's end says why (CI keeps no state directory to look in afterwards).
            raise StackError(f"{error}\n--- the end of its log:\n{tail[-3000:]}") from None
        components.recorded(
            self.state_dir,
            process,
            components.Launch(
                name=key,
                argv=[],
                env=env,
                log=str(log_file),
                ready={"http": service.url, "instance": instance_id},
            ),
        )
        return service

    @property
    def counties_dir(self) -> Path:
        """Where the stack keeps the county files its services read."""
        return self.state_dir / "counties"

    def county_files(self) -> Counties:
        """The counties this stack's services are configured with (see `counties`)."""
        if self.counties is not None:
            return self.counties
        shipped = load_counties()
        if set(self.providers) == set(shipped.provider_ids()):
            return shipped
        return with_providers(shipped, self.providers, only=True)

    def token(self, role: Role, provider: str | None = None, county: str = DEMO_COUNTY) -> str:
        """A development bearer token for `role` (and `provider`).

        A coordinator's token names its county: the demo's (Kreis Herford) unless given.
        """
        if self.issuer is None:
            msg = "start the infrastructure first"
            raise StackError(msg)
        if role is Role.COORDINATOR:
            subject = f"dev-{role}-{county}"
            return self.issuer.token(subject=subject, roles=[role], county=county)
        subject = f"dev-{role}-{provider or 'county'}"
        return self.issuer.token(subject=subject, roles=[role], provider=provider)

    def _write_pids(self) -> None:
        pids = {name: service.process.pid for name, service in self.services.items()}
        if isinstance(self.kafka, KafkaNode) and self.kafka.process is not None:
            pids["kafka"] = self.kafka.process.pid
        if isinstance(self.kafka, KafkaCluster):
            for node in self.kafka.nodes:
                if node.process is not None:
                    pids[f"kafka-{node.node_id}"] = node.process.pid
        if self.postgres is not None and self.postgres.process is not None:
            pids["postgres"] = self.postgres.process.pid
        (self.state_dir / "pids.json").write_text(json.dumps(pids))

    def stop(self) -> None:
        """Stop the services, then Kafka and PostgreSQL; every one by its process id.

        Each stop is attempted even if an earlier one failed; the first failure is raised.
        """
        stops = [service.stop for service in reversed(list(self.services.values()))]
        stops += [part.stop for part in (self.kafka, self.postgres) if part is not None]
        failure: Exception | None = None
        for stop in stops:
            try:
                stop()
            except Exception as error:  # keep stopping the rest; report the first
                failure = failure or error
        self.services.clear()
        (self.state_dir / "pids.json").unlink(missing_ok=True)
        if failure is not None:
            raise failure

    def remove_state(self) -> None:
        """Delete the state directory (data of Kafka and PostgreSQL, logs, dev keys)."""
        shutil.rmtree(self.state_dir, ignore_errors=True)


def _password() -> str:
    """A SCRAM password: random, and safe inside the broker's JAAS and `--add-scram` syntax."""
    return secrets.token_hex(24)


def unique_prefix() -> str:
    """A database prefix no other test session uses on a shared server."""
    return f"dst_{secrets.token_hex(4)}"
