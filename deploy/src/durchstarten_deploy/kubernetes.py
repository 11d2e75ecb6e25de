"""The production layout for several machines: Kubernetes manifests, made from the code.

Kafka runs under the Strimzi operator (KRaft, three nodes that are brokers and controllers,
SCRAM-SHA-512 over TLS, Kafka's own authorizer); every topic is a KafkaTopic with the
deletion plan's configuration, every principal a KafkaUser with exactly the ACLs the local
stack applies (`declared_acls`). Each database is a CloudNativePG cluster of three
instances with synchronous replication. Each service runs two replicas with probes,
resources, a locked-down security context and a PodDisruptionBudget.

The topics, users and ACLs come from the same declarations the services and the local stack
use, so the manifests cannot drift from the code: `python -m durchstarten_deploy kubernetes`
writes them to `deploy/kubernetes/`, and a test fails when the committed files differ from
what it would write, or when a manifest fails the Kubernetes, Strimzi or CloudNativePG
schemas (`tools/k8s/validate.mjs`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from durchstarten.events.topics import project_topics
from durchstarten.messaging.access import (
    SERVICES,
    Acl,
    Operation,
    PatternType,
    ResourceType,
    declared_acls,
    principals,
    service_principal,
)
from durchstarten.retention import load_plan

NAMESPACE = "durchstarten"
CLUSTER = "durchstarten"
KAFKA_VERSION = "4.1.0"
REPLICAS = 3
PARTITIONS = 6
HTTP_PORT = 8000
METRICS_PORT = 9000
DATABASES = {
    "intake": "intake",
    "intake-keys": "intake_keys",
    "coaching": "coaching",
    "courses": "courses",
    "reporting": "reporting",
}
"""CloudNativePG cluster name -> database name: each service its own, the key store apart."""
SPLIT_ROLES = ("intake", "coaching", "courses")
"""Services that work as a runtime role with data rights only while the owner migrates (so a
service broken into cannot rewrite its audit trail), as in the local stack."""
OPERATIONS = {Operation.READ: "Read", Operation.WRITE: "Write", Operation.DESCRIBE: "Describe"}


def _meta(name: str, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NAMESPACE}
    if labels:
        meta["labels"] = labels
    return meta


def kafka() -> list[dict[str, Any]]:
    """The Kafka cluster: one node pool of three brokers-and-controllers, and the Kafka."""
    pool = {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaNodePool",
        "metadata": _meta("nodes", **{"strimzi.io/cluster": CLUSTER}),
        "spec": {
            "replicas": REPLICAS,
            "roles": ["controller", "broker"],
            "storage": {
                "type": "jbod",
                "volumes": [
                    {
                        "id": 0,
                        "type": "persistent-claim",
                        "size": "50Gi",
                        "deleteClaim": False,
                        "kraftMetadata": "shared",
                    }
                ],
            },
            "resources": {
                "requests": {"cpu": "500m", "memory": "2Gi"},
                "limits": {"memory": "2Gi"},
            },
        },
    }
    cluster = {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "Kafka",
        "metadata": {
            **_meta(CLUSTER),
            "annotations": {"strimzi.io/node-pools": "enabled", "strimzi.io/kraft": "enabled"},
        },
        "spec": {
            "kafka": {
                "version": KAFKA_VERSION,
                "listeners": [
                    {
                        "name": "tls",
                        "port": 9093,
                        "type": "internal",
                        "tls": True,
                        "authentication": {"type": "scram-sha-512"},
                    }
                ],
                # Nothing is allowed without an ACL; the operators manage topics and users.
                "authorization": {"type": "simple"},
                "config": {
                    "default.replication.factor": REPLICAS,
                    "min.insync.replicas": 2,
                    "offsets.topic.replication.factor": REPLICAS,
                    "transaction.state.log.replication.factor": REPLICAS,
                    "transaction.state.log.min.isr": 2,
                    "auto.create.topics.enable": False,
                    "allow.everyone.if.no.acl.found": False,
                },
            },
            "entityOperator": {"topicOperator": {}, "userOperator": {}},
        },
    }
    return [pool, cluster]


def topics(providers: list[str]) -> list[dict[str, Any]]:
    """A KafkaTopic per topic, with the deletion plan's retention and two in-sync replicas."""
    plan = load_plan(None)
    return [
        {
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "KafkaTopic",
            "metadata": _meta(topic, **{"strimzi.io/cluster": CLUSTER}),
            "spec": {
                "topicName": topic,
                "partitions": PARTITIONS,
                "replicas": REPLICAS,
                "config": {"min.insync.replicas": "2", **plan.topic_configs(topic)},
            },
        }
        for topic in project_topics(providers)
    ]


def _rule(acl: Acl, operations: list[str]) -> dict[str, Any]:
    resource = "topic" if acl.resource == ResourceType.TOPIC else "group"
    pattern = "prefix" if acl.pattern == PatternType.PREFIXED else "literal"
    return {
        "resource": {"type": resource, "name": acl.name, "patternType": pattern},
        "operations": operations,
    }


def users(providers: list[str]) -> list[dict[str, Any]]:
    """A KafkaUser per service and provider: SCRAM-SHA-512, exactly the declared ACLs.

    The admin of the local stack has no user here: the operators create topics and users.
    """
    grouped: dict[str, dict[tuple[Any, ...], list[str]]] = defaultdict(lambda: defaultdict(list))
    for acl in declared_acls(providers):
        grouped[acl.principal][(acl.resource, acl.name, acl.pattern)].append(
            OPERATIONS[acl.operation]
        )
    manifests = []
    for principal in principals(providers)[1:]:
        rules = [
            _rule(Acl(principal, resource, name, pattern, Operation.READ), sorted(operations))
            for (resource, name, pattern), operations in sorted(grouped[principal].items())
        ]
        manifests.append(
            {
                "apiVersion": "kafka.strimzi.io/v1beta2",
                "kind": "KafkaUser",
                "metadata": _meta(principal, **{"strimzi.io/cluster": CLUSTER}),
                "spec": {
                    "authentication": {"type": "scram-sha-512"},
                    "authorization": {"type": "simple", "acls": rules},
                },
            }
        )
    return manifests


def databases() -> list[dict[str, Any]]:
    """A CloudNativePG cluster per database: three instances, commits wait for a replica."""
    return [
        {
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Cluster",
            "metadata": _meta(f"postgres-{name}"),
            "spec": {
                "instances": 3,
                # A commit returns once a standby has it too: losing the primary loses
                # nothing acknowledged (the fault suite's rule, with a machine gone).
                "minSyncReplicas": 1,
                "maxSyncReplicas": 1,
                "postgresql": {"parameters": {"synchronous_commit": "on"}},
                "bootstrap": {"initdb": {"database": database, "owner": f"{database}_owner"}},
                **(
                    {
                        # The runtime role: login only; the owner grants its rights after
                        # each start's migrations (durchstarten.db.roles). Its password is
                        # the county's secret postgres-<name>-runtime (username, password,
                        # uri), never in the repository.
                        "managed": {
                            "roles": [
                                {
                                    "name": f"{database}_app",
                                    "ensure": "present",
                                    "login": True,
                                    "passwordSecret": {"name": f"postgres-{name}-runtime"},
                                }
                            ]
                        }
                    }
                    if name in SPLIT_ROLES
                    else {}
                ),
                "storage": {"size": "20Gi"},
                "resources": {
                    "requests": {"cpu": "250m", "memory": "1Gi"},
                    "limits": {"memory": "1Gi"},
                },
                "enableSuperuserAccess": False,
            },
        }
        for name, database in DATABASES.items()
    ]


def _secret(variable: str, name: str, key: str) -> dict[str, Any]:
    return {"name": variable, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}


def _value(variable: str, value: str) -> dict[str, Any]:
    return {"name": variable, "value": value}


def _environment(service: str) -> list[dict[str, Any]]:
    database = f"postgres-{service}"
    # CloudNativePG's `<cluster>-app` secret is the owner's login: it migrates; a split
    # service works as its runtime role (the county's `<cluster>-runtime` secret).
    logins = (
        [
            _secret("DURCHSTARTEN_DATABASE_URL", f"{database}-runtime", "uri"),
            _secret("DURCHSTARTEN_DATABASE_OWNER_URL", f"{database}-app", "uri"),
        ]
        if service in SPLIT_ROLES
        else [_secret("DURCHSTARTEN_DATABASE_URL", f"{database}-app", "uri")]
    )
    env: list[dict[str, Any]] = [
        *logins,
        _value("DURCHSTARTEN_KAFKA_BOOTSTRAP_SERVERS", f"{CLUSTER}-kafka-bootstrap:9093"),
        _value("DURCHSTARTEN_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
        _value("DURCHSTARTEN_KAFKA_SASL_USERNAME", service_principal(service)),
        _secret("DURCHSTARTEN_KAFKA_SASL_PASSWORD", service_principal(service), "password"),
        _value("DURCHSTARTEN_KAFKA_SSL_CAFILE", "/etc/durchstarten/kafka-ca/ca.crt"),
        # All interfaces of the pod's own network namespace: the Service and probes reach it.
        _value("DURCHSTARTEN_HTTP_HOST", "0.0.0.0"),  # noqa: S104
        _value("DURCHSTARTEN_HTTP_PORT", str(HTTP_PORT)),
        _value("DURCHSTARTEN_METRICS_HOST", "0.0.0.0"),  # noqa: S104
        _value("DURCHSTARTEN_METRICS_PORT", str(METRICS_PORT)),
        {
            "name": "DURCHSTARTEN_INSTANCE_ID",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
        },
    ]
    if service == "intake":
        # The county's own secret (never in the repository): the vault's master key, the
        # blind index key and the key store's URL (postgres-intake-keys-app's `uri`).
        env += [
            _secret("DURCHSTARTEN_KEY_STORE_URL", "postgres-intake-keys-app", "uri"),
            _secret("DURCHSTARTEN_VAULT_KEY", "intake-keys", "vault-key"),
            _secret("DURCHSTARTEN_BLIND_INDEX_KEY", "intake-keys", "blind-index-key"),
        ]
    return env


REPORTING_COMPONENTS = {"reporting": "api", "reporting-projector": "projector"}
"""Reporting's two Deployments and the role each runs (`reporting.settings.ReportingRole`):
the read API scales with the requests, the projector with the partitions, and neither
slows the other. The API keeps the Service name `reporting`, so callers' URLs stay."""


def service_manifests(name: str) -> list[dict[str, Any]]:
    """Every manifest of one service: reporting's API and projector apart."""
    if name != "reporting":
        return service(name)
    return [
        document
        for deployment, role in REPORTING_COMPONENTS.items()
        for document in service(name, deployment=deployment, component=role)
    ]


def service(
    name: str, *, deployment: str | None = None, component: str | None = None
) -> list[dict[str, Any]]:
    """Deployment (two replicas), Service and PodDisruptionBudget of one service.

    `component` names the role a service split in parts runs, in its own `deployment`.
    """
    deployment_name = deployment or name
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "durchstarten"}
    env = _environment(name)
    if component is not None:
        labels["app.kubernetes.io/component"] = component
        env.append(_value("DURCHSTARTEN_REPORTING_ROLE", component))
    selector = {key: value for key, value in labels.items() if key != "app.kubernetes.io/part-of"}
    container = {
        "name": name,
        "image": f"durchstarten/{name}:latest",
        "envFrom": [{"configMapRef": {"name": "durchstarten-county"}}],
        "env": env,
        "ports": [
            {"name": "http", "containerPort": HTTP_PORT},
            {"name": "metrics", "containerPort": METRICS_PORT},
        ],
        "readinessProbe": {
            "httpGet": {"path": "/health/ready", "port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": "/health/live", "port": "http"},
            "periodSeconds": 10,
            "failureThreshold": 6,
        },
        "startupProbe": {
            "httpGet": {"path": "/health/live", "port": "http"},
            "periodSeconds": 2,
            "failureThreshold": 60,
        },
        "resources": {
            "requests": {"cpu": "250m", "memory": "384Mi"},
            "limits": {"memory": "768Mi"},
        },
        "securityContext": {
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "kafka-ca", "mountPath": "/etc/durchstarten/kafka-ca", "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108  # the pod's own emptyDir
        ],
    }
    deployment_manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(deployment_name, **labels),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": dict(selector)},
            # A new pod is ready before an old one goes: the consumer groups rebalance once.
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    # Longer than the services' graceful shutdown (15 s): batches finish.
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": [
                        {
                            "name": "kafka-ca",
                            "secret": {
                                "secretName": f"{CLUSTER}-cluster-ca-cert",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            },
                        },
                        {"name": "tmp", "emptyDir": {}},
                    ],
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": dict(selector)},
                        }
                    ],
                },
            },
        },
    }
    return [
        deployment_manifest,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(deployment_name, **labels),
            "spec": {
                "selector": dict(selector),
                "ports": [
                    {"name": "http", "port": HTTP_PORT, "targetPort": "http"},
                    {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"},
                ],
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": _meta(deployment_name, **labels),
            "spec": {
                "minAvailable": 1,
                "selector": {"matchLabels": dict(selector)},
            },
        },
    ]


def county(providers: list[str]) -> list[dict[str, Any]]:
    """The namespace and the county's configuration (providers; the rest is the county's)."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("durchstarten-county"),
            "data": {
                "DURCHSTARTEN_PROVIDERS": ",".join(providers),
                "DURCHSTARTEN_TOPIC_PARTITIONS": str(PARTITIONS),
                "DURCHSTARTEN_LOG_FORMAT": "json",
            },
        },
    ]


def manifests(providers: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Every manifest, by the file it goes to."""
    providers = list(providers)
    files = {
        "county.yaml": county(providers),
        "kafka.yaml": kafka(),
        "topics.yaml": topics(providers),
        "users.yaml": users(providers),
        "postgres.yaml": databases(),
    }
    for name in SERVICES:
        files[f"{name}.yaml"] = service_manifests(name)
    return files


HEADER = (
    "# Generated by `python -m durchstarten_deploy kubernetes`; edit the generator, not this.\n"
)


def render(providers: Iterable[str]) -> dict[str, str]:
    """File name -> text, the kustomization included."""
    files = {
        name: HEADER + yaml.safe_dump_all(documents, sort_keys=False)
        for name, documents in manifests(providers).items()
    }
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NAMESPACE,
        "resources": sorted(files),
    }
    files["kustomization.yaml"] = HEADER + yaml.safe_dump(kustomization, sort_keys=False)
    return files


def write(directory: Path, providers: Iterable[str]) -> list[Path]:
    """Write the manifests into `directory`; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render(providers).items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written
