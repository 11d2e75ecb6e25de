"""The cluster manifests: made from the code, valid against their schemas, production-shaped.

Validated offline with the Kubernetes, Strimzi and CloudNativePG schemas that the
kubernetes-models packages carry (`tools/k8s/validate.mjs`, installed from npm by `make
install`); nothing here needs a cluster.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from durchstarten.events.topics import project_topics
from durchstarten.messaging.access import SERVICES, declared_acls, principals
from durchstarten_deploy.kubernetes import render
from durchstarten_deploy.stack import DEFAULT_PROVIDERS

REPO = Path(__file__).resolve().parents[1]
MANIFESTS = REPO / "deploy" / "kubernetes"
VALIDATOR = REPO / "tools" / "k8s" / "validate.mjs"


def documents() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            found += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return found


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in documents() if d["kind"] == kind]


def validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "Node.js is required (the Makefile installs the validator's packages)"
    return subprocess.run(  # our own validator script
        [node, str(VALIDATOR), *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_committed_manifests_are_what_the_code_declares() -> None:
    wanted = render(DEFAULT_PROVIDERS)
    committed = {p.name: p.read_text() for p in MANIFESTS.glob("*.yaml")}
    assert committed == wanted, "regenerate: python -m durchstarten_deploy kubernetes"
    kustomization = yaml.safe_load(wanted["kustomization.yaml"])
    assert kustomization["resources"] == sorted(set(wanted) - {"kustomization.yaml"})


def test_every_manifest_passes_the_kubernetes_strimzi_and_cloudnativepg_schemas() -> None:
    paths = sorted(p for p in MANIFESTS.glob("*.yaml") if p.name != "kustomization.yaml")
    result = validate(*paths)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("valid ") == len(documents())


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        ("Deployment", lambda d: d["spec"].__setitem__("replicas", "two")),
        ("KafkaTopic", lambda d: d["spec"].__setitem__("partitions", "six")),
        ("Cluster", lambda d: d["spec"].__setitem__("instances", -1)),
        (
            "KafkaUser",
            lambda d: d["spec"]["authorization"]["acls"][0].__setitem__("operations", ["Fly"]),
        ),
    ],
)
def test_the_validator_refuses_a_broken_manifest(kind: str, change: Any, tmp_path: Path) -> None:
    broken = copy.deepcopy(of_kind(kind)[0])
    change(broken)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = validate(path)
    assert result.returncode == 1, result.stdout
    assert "error:" in result.stdout


def test_kafka_is_three_nodes_with_two_in_sync_replicas_and_no_access_without_an_acl() -> None:
    (pool,) = of_kind("KafkaNodePool")
    (kafka,) = of_kind("Kafka")
    assert pool["spec"]["replicas"] == 3
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    config = kafka["spec"]["kafka"]["config"]
    assert config["min.insync.replicas"] == 2
    assert config["allow.everyone.if.no.acl.found"] is False
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    assert all(
        listener["authentication"]["type"] == "scram-sha-512" and listener["tls"]
        for listener in kafka["spec"]["kafka"]["listeners"]
    )
    topics = {t["spec"]["topicName"]: t["spec"] for t in of_kind("KafkaTopic")}
    assert set(topics) == set(project_topics(list(DEFAULT_PROVIDERS)))
    assert all(
        t["replicas"] == 3 and t["config"]["min.insync.replicas"] == "2" for t in topics.values()
    )
    assert topics["inbound.in-via.intake"]["config"]["retention.ms"] == str(7 * 24 * 3600 * 1000)


def test_every_principal_has_exactly_the_acls_the_local_stack_applies() -> None:
    declared: set[tuple[str, str, str, str, str]] = {
        (
            acl.principal,
            acl.resource.name.lower(),
            acl.name,
            "prefix" if acl.pattern.name == "PREFIXED" else "literal",
            acl.operation.name.capitalize(),
        )
        for acl in declared_acls(DEFAULT_PROVIDERS)
    }
    found = {
        (
            user["metadata"]["name"],
            rule["resource"]["type"],
            rule["resource"]["name"],
            rule["resource"]["patternType"],
            operation,
        )
        for user in of_kind("KafkaUser")
        for rule in user["spec"]["authorization"]["acls"]
        for operation in rule["operations"]
    }
    assert found == declared
    users = {u["metadata"]["name"] for u in of_kind("KafkaUser")}
    assert users == set(principals(DEFAULT_PROVIDERS)[1:])  # no admin user in the cluster


def test_every_service_runs_twice_with_probes_limits_a_budget_and_no_secret_in_the_files() -> None:
    deployments = {d["metadata"]["name"]: d for d in of_kind("Deployment")}
    budgets = {b["metadata"]["name"]: b for b in of_kind("PodDisruptionBudget")}
    # Reporting's read API and its projector are Deployments of their own.
    assert set(deployments) == set(budgets) == {*SERVICES, "reporting-projector"}
    for name, deployment in deployments.items():
        assert deployment["spec"]["replicas"] >= 2
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["resources"]["limits"]["memory"]
        assert container["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert budgets[name]["spec"]["minAvailable"] == 1
        for variable in container["env"]:
            if any(word in variable["name"] for word in ("PASSWORD", "KEY", "URL")):
                assert "value" not in variable, variable  # from a Secret, never inline
    for cluster in of_kind("Cluster"):
        assert cluster["spec"]["instances"] == 3
        assert cluster["spec"]["minSyncReplicas"] == 1  # a commit waits for a standby


def test_services_holding_an_audit_trail_work_as_a_runtime_role_not_as_the_owner() -> None:
    clusters = {c["metadata"]["name"]: c["spec"] for c in of_kind("Cluster")}
    for deployment in of_kind("Deployment"):
        name = deployment["metadata"]["labels"]["app.kubernetes.io/name"]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {v["name"]: v.get("valueFrom", {}).get("secretKeyRef") for v in container["env"]}
        owner = {"name": f"postgres-{name}-app", "key": "uri"}
        if name == "reporting":  # makes its projection versions' tables while it runs
            assert env["DURCHSTARTEN_DATABASE_URL"] == owner
            continue
        assert env["DURCHSTARTEN_DATABASE_OWNER_URL"] == owner
        assert env["DURCHSTARTEN_DATABASE_URL"] == {
            "name": f"postgres-{name}-runtime",
            "key": "uri",
        }
        (role,) = clusters[f"postgres-{name}"]["managed"]["roles"]
        assert role["login"] is True
        assert role["passwordSecret"] == {"name": f"postgres-{name}-runtime"}


def test_reporting_runs_its_read_api_and_its_projector_apart() -> None:
    """Each Deployment runs one role; the Service `reporting` reaches the API pods only."""
    roles = {}
    for deployment in of_kind("Deployment"):
        labels = deployment["metadata"]["labels"]
        if labels["app.kubernetes.io/name"] != "reporting":
            continue
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {v["name"]: v.get("value") for v in container["env"]}
        role = env["DURCHSTARTEN_REPORTING_ROLE"]
        assert labels["app.kubernetes.io/component"] == role
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector["app.kubernetes.io/component"] == role  # no pod of the other role
        assert deployment["spec"]["template"]["metadata"]["labels"].items() >= selector.items()
        roles[deployment["metadata"]["name"]] = role
    assert roles == {"reporting": "api", "reporting-projector": "projector"}
    services = {s["metadata"]["name"]: s["spec"]["selector"] for s in of_kind("Service")}
    assert services["reporting"]["app.kubernetes.io/component"] == "api"
    assert services["reporting-projector"]["app.kubernetes.io/component"] == "projector"
