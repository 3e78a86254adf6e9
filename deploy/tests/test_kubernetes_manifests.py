"""Every Kubernetes manifest is valid (offline schemas, the operators' vendored ones) and the kustomization lists them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from conftest import (
    KUBERNETES,
    KUBERNETES_VERSION,
    SCHEMAS,
    _documents,
    _kustomization,
    _load_yaml_documents,
    _manifest_files,
)


def _every_manifest_file() -> list[Path]:
    """The kustomization's manifests and the ones applied by hand (once/, recovery/)."""
    return sorted(path for path in KUBERNETES.rglob("*.y*ml") if path.name != "kustomization.yaml")


# Custom resources of the operators the manifests rely on; their schemas are vendored in deploy/schemas
# (deploy/schemas/README.md says from which release).
OPERATOR_GROUPS = {"postgresql.cnpg.io", "monitoring.coreos.com"}


def _strict(schema: Any) -> Any:
    """As the API server's strict field validation: an object schema with properties allows no other field."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value) for key, value in schema.items()}
    if (
        isinstance(strict.get("properties"), dict)
        and "additionalProperties" not in strict
        and not strict.get("x-kubernetes-preserve-unknown-fields")
    ):
        strict["additionalProperties"] = False
    return strict


def _custom_resource_schema(doc: dict[str, Any]) -> dict[str, Any] | None:
    group, _, version = doc["apiVersion"].rpartition("/")
    if group not in OPERATOR_GROUPS:
        return None
    path = SCHEMAS / f"{doc['kind'].lower()}-{group.split('.')[0]}-{version}.json"
    assert path.is_file(), f"no vendored schema for {doc['apiVersion']} {doc['kind']} ({path.name})"
    schema: dict[str, Any] = _strict(json.loads(path.read_text()))
    return schema


def validate_manifest(doc: dict[str, Any]) -> None:
    schema = _custom_resource_schema(doc)
    if schema is None:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    else:
        # The schema itself is not checked: Go regular expressions (``(?i)`` mid-pattern) are not Python's.
        jsonschema.validators.validator_for(schema)(schema).validate(doc)


@pytest.mark.parametrize(
    ("filename", "index"),
    [
        (str(path.relative_to(KUBERNETES)), index)
        for path in _every_manifest_file()
        for index, _ in enumerate(_load_yaml_documents(path))
    ],
)
def test_kubernetes_manifest_is_valid(filename: str, index: int) -> None:
    doc = _load_yaml_documents(KUBERNETES / filename)[index]
    validate_manifest(doc)


@pytest.mark.parametrize(
    ("kind", "damage"),
    [
        ("Cluster", lambda spec: spec.update(instance=3)),
        ("Cluster", lambda spec: spec["postgresql"]["synchronous"].update(method="all")),
        ("Pooler", lambda spec: spec["pgbouncer"].update(poolMode="statement-ish")),
        ("ScheduledBackup", lambda spec: spec.update(method="tape")),
        ("PrometheusRule", lambda spec: spec["groups"][0]["rules"][0].update(expresion="up == 0")),
        ("PodMonitor", lambda spec: spec["podMetricsEndpoints"][0].update(prot="metrics")),
    ],
)
def test_custom_resource_validation_can_fail(kind: str, damage: Any) -> None:
    doc = next(doc for _, doc in _documents() if doc["kind"] == kind)
    broken = yaml.safe_load(yaml.safe_dump(doc))
    damage(broken["spec"])
    with pytest.raises(jsonschema.ValidationError):
        validate_manifest(broken)


def test_kubernetes_validation_can_fail() -> None:
    _, deployment = next((name, doc) for name, doc in _documents() if doc["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pathh"] = "/ready"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = _kustomization()
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources))
    assert set(resources) == {path.name for path in _manifest_files()}
    assert kustomization.get("namespace") == "parla"
    assert any(image["name"] == "parla" for image in kustomization.get("images", []))


def test_kustomize_renders() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    result = subprocess.run(
        [kubectl, "kustomize", str(KUBERNETES)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    generated = len(_kustomization().get("configMapGenerator", []))
    assert len(rendered) == len(_documents()) + generated
    for doc in rendered:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "parla"
