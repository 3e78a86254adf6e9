"""The deployment artifacts (gateway, compose, image, Kubernetes, PgBouncer) are checked here, not by running them.

Docker is not available where the tests run, so: Caddy validates the gateway's Caddyfile, every Kubernetes
manifest is validated against the offline OpenAPI schemas of ``kubernetes-validate``, and the compose file,
Dockerfile and PgBouncer configuration are parsed and checked for the properties the platform relies on.
This module holds the paths and the readers of those artifacts that the test modules share.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "deploy" / "gateway" / "Caddyfile"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
KUBERNETES = ROOT / "deploy" / "kubernetes"
PGBOUNCER = ROOT / "deploy" / "pgbouncer"
OPERATIONS = ROOT / "docs" / "operations.md"
SCHEMAS = ROOT / "deploy" / "schemas"

SERVICES = {"identity": 8001, "curriculum": 8002, "progress": 8003, "analytics": 8004}
# The Kubernetes version the manifests must be valid for (the oldest we support; kubernetes-validate
# uses its newest schema not newer than this).
KUBERNETES_VERSION = "1.31"


def _load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _walk_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_strings(item)


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    depends = service.get("depends_on", {})
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in depends.items()}


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, rest = stripped.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _final_stage() -> list[tuple[str, str]]:
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _kustomization() -> dict[str, Any]:
    data = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _manifest_files() -> list[Path]:
    return sorted(path for path in KUBERNETES.glob("*.y*ml") if path.name != "kustomization.yaml")


def _documents() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, doc) for path in _manifest_files() for doc in _load_yaml_documents(path)]


def _objects(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in _documents() if doc["kind"] == kind}


def _container_port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        assert port in [p["containerPort"] for p in container["ports"]]
        return port
    (match,) = [p["containerPort"] for p in container["ports"] if p.get("name") == port]
    return int(match)


def _env_names(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


def _pod_is_hardened(pod: dict[str, Any], what: str) -> None:
    assert pod["securityContext"]["runAsNonRoot"] is True, what
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", what
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, what
        assert context["readOnlyRootFilesystem"] is True, what
        assert context["capabilities"]["drop"] == ["ALL"], what
        assert "add" not in context["capabilities"], what
        assert container["resources"]["requests"], what
        assert container["resources"]["limits"], what


def _pod_labels() -> dict[str, dict[str, str]]:
    labels = {
        name: deployment["spec"]["template"]["metadata"]["labels"]
        for name, deployment in _objects("Deployment").items()
    }
    for name, job in _objects("Job").items():
        labels[name] = job["spec"]["template"]["metadata"]["labels"]
    # Pods the CloudNativePG operator creates, with the labels it gives them.
    for name in _objects("Pooler"):
        labels[name] = {"cnpg.io/poolerName": name}
    for name in _objects("Cluster"):
        labels[name] = {"cnpg.io/cluster": name}
    return labels


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return selector.get("matchLabels", {}).items() <= labels.items() and not selector.get("matchExpressions")
