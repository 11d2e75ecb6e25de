"""A single-node Apache Kafka (KRaft, combined broker and controller) from Maven Central's jars.

The jars come from `deploy/kafka/pom.xml` through `mvn dependency:copy-dependencies` into a
cache directory outside git that later runs reuse. Java 17 and Maven are the only system
requirements.

Secure by default, as in production: clients authenticate with SCRAM-SHA-512 (users created
at storage format time, `--add-scram`), the StandardAuthorizer allows nothing without an ACL,
and the controller listener takes only the admin (SASL PLAIN: KRaft's controllers cannot
check SCRAM, whose credentials live in the metadata they serve). PLAINTEXT without any
authentication is an explicit opt-out for a developer's experiment (`users=None`).

With `tls_port`, a second client listener there speaks SASL_SSL (SCRAM inside TLS), as
production does; its CA and certificate are made anew at every start (`tls.py`). The
SASL_PLAINTEXT listener stays: the local services use it, and it binds to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from durchstarten.messaging.access import ADMIN, KafkaAccess
from durchstarten.messaging.admin import broker_ready
from durchstarten_deploy.processes import (
    StackError,
    free_port,
    port_open,
    stop_pid,
    wait_until,
    write_private,
)
from durchstarten_deploy.tls import BrokerTls, make_broker_tls

POM = Path(__file__).resolve().parents[2] / "kafka" / "pom.xml"


def new_cluster_id() -> str:
    """A fresh KRaft cluster id (22 characters of base64url, as `kafka-storage random-uuid`)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def kafka_version() -> str:
    """The Kafka version the pom pins."""
    text = POM.read_text()
    start = text.index("<kafka.version>") + len("<kafka.version>")
    return text[start : text.index("</kafka.version>", start)]


def ensure_jars(cache_root: Path) -> Path:
    """Download the broker's jars once into `cache_root/kafka-<version>`; return that folder."""
    target = cache_root / f"kafka-{kafka_version()}"
    marker = target / ".complete"
    if marker.exists():
        return target
    if shutil.which("java") is None or shutil.which("mvn") is None:
        msg = "Kafka needs Java 17 and Maven: apt-get install openjdk-17-jre-headless maven"
        raise StackError(msg)
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={target}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        msg = f"mvn could not fetch the Kafka jars:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        raise StackError(msg)
    marker.touch()
    return target


@dataclass
class KafkaNode:
    """One KRaft node on 127.0.0.1: data, config and log under `directory`."""

    directory: Path
    jars: Path
    port: int
    controller_port: int
    heap: str = "768m"
    users: dict[str, str] | None = None
    """SCRAM users and their passwords (the admin among them); None: PLAINTEXT, no auth."""
    process: subprocess.Popen[bytes] | None = None
    tls_port: int | None = None
    """An extra SASL_SSL listener on this port (needs `users`); None: none."""
    tls: BrokerTls | None = None
    """The TLS listener's CA and keystore, made by `start`."""
    node_id: int = 1
    voters: str | None = None
    """The controller quorum (`id@host:port,...`); None: this node alone."""
    cluster_id: str | None = None
    """The cluster's id, the same on every node; None: a new one (a single node)."""
    replicas: int = 1
    """Replicas of the internal topics and the default for new ones (3 in a cluster)."""

    @property
    def access(self) -> KafkaAccess:
        """How clients reach this node, as each user (the SASL_PLAINTEXT listener)."""
        return KafkaAccess(self.bootstrap, self.users or {})

    @property
    def bootstrap(self) -> str:
        """The bootstrap address clients use."""
        return f"127.0.0.1:{self.port}"

    @property
    def tls_bootstrap(self) -> str | None:
        """The bootstrap address of the SASL_SSL listener, if there is one."""
        return None if self.tls_port is None else f"127.0.0.1:{self.tls_port}"

    @property
    def ca_file(self) -> Path | None:
        """The CA certificate (PEM) TLS clients trust, if there is a TLS listener."""
        return None if self.tls_port is None else self._tls_directory / "ca.pem"

    @property
    def tls_access(self) -> KafkaAccess | None:
        """How clients reach this node through TLS (SASL_SSL), as each user; None: no TLS."""
        if self.tls_bootstrap is None or self.ca_file is None:
            return None
        return self.access.over_tls(self.tls_bootstrap, self.ca_file)

    @property
    def _tls_directory(self) -> Path:
        return self.directory / "tls"

    @property
    def log_file(self) -> Path:
        """Where the broker writes its log."""
        return self.directory / "broker.log"

    def _write_config(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "server.properties"
        voters = self.voters or f"{self.node_id}@127.0.0.1:{self.controller_port}"
        # Writes wait for two in-sync replicas once there are three (production's rule);
        # a single node has only itself.
        min_isr = min(2, self.replicas)
        lines = [
            "process.roles=broker,controller",
            f"node.id={self.node_id}",
            f"controller.quorum.voters={voters}",
            "controller.listener.names=CONTROLLER",
            *self._listener_lines(),
        ]
        write_private(
            config,
            "\n".join(
                [
                    *lines,
                    f"log.dirs={self.directory / 'data'}",
                    # One node: every internal topic has one replica, or the group
                    # coordinator never becomes available. A cluster: as many as nodes.
                    f"offsets.topic.replication.factor={self.replicas}",
                    "offsets.topic.num.partitions=10",
                    f"transaction.state.log.replication.factor={self.replicas}",
                    f"transaction.state.log.min.isr={min_isr}",
                    f"share.coordinator.state.topic.replication.factor={self.replicas}",
                    f"share.coordinator.state.topic.min.isr={min_isr}",
                    f"min.insync.replicas={min_isr}",
                    f"default.replication.factor={self.replicas}",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=false",
                    "log.retention.hours=-1",
                    # Topics delete by the deletion plan; check every 5 s, not every
                    # 5 minutes, so a test can watch a short retention run out.
                    "log.retention.check.interval.ms=5000",
                    "",
                ]
            ),
        )
        (self.directory / "log4j2.properties").write_text(
            "\n".join(
                [
                    "status = warn",
                    "appender.file.type = File",
                    "appender.file.name = FILE",
                    f"appender.file.fileName = {self.log_file}",
                    "appender.file.layout.type = PatternLayout",
                    "appender.file.layout.pattern = [%d] %p %m (%c)%n",
                    "rootLogger.level = INFO",
                    "rootLogger.appenderRef.file.ref = FILE",
                    "logger.kafka.name = kafka",
                    "logger.kafka.level = INFO",
                    "logger.state.name = state.change.logger",
                    "logger.state.level = WARN",
                    "",
                ]
            )
        )
        return config

    def _listener_lines(self) -> list[str]:
        """The listeners: SASL (SCRAM for clients, PLAIN for the controller) and the authorizer."""
        if self.users is None:
            return [
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                f"CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
            ]
        admin = self.users[ADMIN]
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
        plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
        clients = [f"CLIENTS://127.0.0.1:{self.port}"]
        protocols = ["CLIENTS:SASL_PLAINTEXT"]
        if self.tls_port is not None:
            clients.append(f"CLIENTS_TLS://127.0.0.1:{self.tls_port}")
            protocols.append("CLIENTS_TLS:SASL_SSL")
        return [
            f"listeners={','.join(clients)},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners={','.join(clients)}",
            f"listener.security.protocol.map={','.join(protocols)},CONTROLLER:SASL_PLAINTEXT",
            "inter.broker.listener.name=CLIENTS",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            "listener.name.clients.sasl.enabled.mechanisms=SCRAM-SHA-512",
            f"listener.name.clients.scram-sha-512.sasl.jaas.config={scram} required "
            f'username="{ADMIN}" password="{admin}";',
            "sasl.mechanism.controller.protocol=PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
            f"listener.name.controller.plain.sasl.jaas.config={plain} required "
            f'username="{ADMIN}" password="{admin}" user_{ADMIN}="{admin}";',
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found=false",
            f"super.users=User:{ADMIN}",
            *self._tls_lines(scram),
        ]

    def _tls_lines(self, scram: str) -> list[str]:
        """The SASL_SSL listener's settings: SCRAM inside TLS with the stack's keystore."""
        if self.tls_port is None:
            return []
        if self.tls is None:
            msg = "the TLS material is made at start"
            raise StackError(msg)
        prefix = "listener.name.clients_tls"
        return [
            f"{prefix}.sasl.enabled.mechanisms=SCRAM-SHA-512",
            # A server-side login: the SCRAM credentials are checked against the metadata's
            # (`--add-scram`); no broker connects out through this listener.
            f"{prefix}.scram-sha-512.sasl.jaas.config={scram} required;",
            f"{prefix}.ssl.keystore.type={self.tls.keystore_type}",
            f"{prefix}.ssl.keystore.location={self.tls.keystore}",
            f"{prefix}.ssl.keystore.password={self.tls.keystore_password}",
            # Clients prove who they are with SCRAM, not with certificates.
            f"{prefix}.ssl.client.auth=none",
        ]

    def _java(self, *args: str) -> list[str]:
        return [
            "java",
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.directory / 'log4j2.properties'}",
            "-cp",
            f"{self.jars}/*",
            *args,
        ]

    def start(self, *, timeout_s: float = 90.0, wait: bool = True) -> None:
        """Format storage if new, start the node, and wait for a metadata answer.

        With a TLS listener, its CA and keystore are made first, and readiness includes a
        metadata answer through TLS (so a broken TLS set-up fails here, not in a client).
        `wait=False` returns once the process runs: a node of a cluster answers only when
        a quorum of its peers runs too (`wait_ready`).
        """
        if self.tls_port is not None:
            if self.users is None:
                msg = "a TLS listener needs SCRAM users (SASL_SSL); PLAINTEXT has none"
                raise StackError(msg)
            self.tls = make_broker_tls(self._tls_directory)
        config = self._write_config()
        if not (self.directory / "data" / "meta.properties").exists():
            cluster_id = self.cluster_id or new_cluster_id()
            result = subprocess.run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    # `=` form: a base64url id may start with "-", which argparse
                    # would take for an option.
                    f"--cluster-id={cluster_id}",
                    "--config",
                    str(config),
                    *self._scram_arguments(),
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                msg = f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}"
                raise StackError(msg)
        # The JVM gets a copy of the descriptor; ours is closed once it runs.
        with (self.directory / "stdout.log").open("ab") as stdout:
            self.process = subprocess.Popen(  # our own command line
                self._java("kafka.Kafka", str(config)),
                stdout=stdout,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, not the JVM directly
            )
        (self.directory / "kafka.pid").write_text(str(self.process.pid))
        if wait:
            self.wait_ready(timeout_s=timeout_s)

    def wait_ready(self, *, timeout_s: float = 90.0) -> None:
        """Wait until the node answers metadata requests (through TLS too, if it has it)."""

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                msg = f"Kafka exited with code {self.process.returncode}; see {self.log_file}"
                raise StackError(msg)
            if not port_open(self.port) or not asyncio.run(
                broker_ready(self.bootstrap, client_options=self.access.admin_options())
            ):
                return False
            tls = self.tls_access
            return tls is None or asyncio.run(
                broker_ready(tls.bootstrap, client_options=tls.admin_options())
            )

        wait_until(ready, timeout_s=timeout_s, what="Kafka", log=self.log_file)

    def _scram_arguments(self) -> list[str]:
        """`--add-scram` for every user: the credentials exist before the broker serves."""
        arguments: list[str] = []
        for name, password in (self.users or {}).items():
            arguments += ["--add-scram", f"SCRAM-SHA-512=[name={name},password={password}]"]
        return arguments

    def stop(self) -> None:
        """Stop the node (controlled shutdown), by process id."""
        if self.process is not None:
            stop_pid(self.process.pid, timeout_s=30, process=self.process)
            self.process = None
        (self.directory / "kafka.pid").unlink(missing_ok=True)


@dataclass
class KafkaCluster:
    """Three (or more) KRaft nodes on 127.0.0.1, each broker and controller, as production.

    Topics get a replica on every node and writes wait for two in-sync replicas, so one
    node may die at any moment without an acknowledged write being lost. Used by the fault
    suite; the everyday stack keeps one node.
    """

    directory: Path
    jars: Path
    size: int = 3
    users: dict[str, str] | None = None
    heap: str = "512m"
    nodes: list[KafkaNode] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        """Every node's address: a client finds the cluster through whichever answers."""
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def access(self) -> KafkaAccess:
        """How clients reach the cluster, as each user."""
        return KafkaAccess(self.bootstrap, self.users or {})

    @property
    def tls_access(self) -> KafkaAccess | None:
        """The cluster has no TLS listener (the single-node stack tests TLS)."""
        return None

    def start(self, *, timeout_s: float = 120.0) -> None:
        """Format and start every node, then wait until each answers."""
        if not self.nodes:
            controllers = [free_port() for _ in range(self.size)]
            voters = ",".join(
                f"{number}@127.0.0.1:{port}" for number, port in enumerate(controllers, 1)
            )
            cluster_id = new_cluster_id()
            self.nodes = [
                KafkaNode(
                    directory=self.directory / f"node-{number}",
                    jars=self.jars,
                    port=free_port(),
                    controller_port=port,
                    heap=self.heap,
                    users=self.users,
                    node_id=number,
                    voters=voters,
                    cluster_id=cluster_id,
                    replicas=self.size,
                )
                for number, port in enumerate(controllers, 1)
            ]
        for node in self.nodes:
            node.start(wait=False)  # a node answers only once a quorum of them runs
        for node in self.nodes:
            node.wait_ready(timeout_s=timeout_s)

    def stop(self) -> None:
        """Stop every node (controlled shutdown); each is tried even if one fails."""
        failure: Exception | None = None
        for node in reversed(self.nodes):
            try:
                node.stop()
            except Exception as error:  # stop the rest; report the first
                failure = failure or error
        if failure is not None:
            raise failure
