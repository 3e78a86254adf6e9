"""NATS as deployed: the official Helm chart's values and each service's own identity."""

from __future__ import annotations

import re
from typing import Any

import yaml
from conftest import ROOT, SCHEMAS, SERVICES, _compose, _env, _env_names, _objects

NATS_VALUES = ROOT / "deploy" / "helm" / "nats-values.yaml"
# Chart keys whose values are free-form (Kubernetes objects merged into the chart's, env maps, spread maps).
FREE_FORM_KEYS = {"merge", "env", "topologySpreadConstraints"}


def _unknown_keys(values: Any, chart: Any, path: str = "") -> list[str]:
    if not isinstance(values, dict):
        return []
    unknown: list[str] = []
    for key, value in values.items():
        where = f"{path}.{key}" if path else key
        if not isinstance(chart, dict) or key not in chart:
            unknown.append(where)
        elif key not in FREE_FORM_KEYS:
            unknown += _unknown_keys(value, chart[key], where)
    return unknown


def test_nats_helm_values_are_the_chart_s_and_give_a_3_node_jetstream_cluster() -> None:
    chart = yaml.safe_load((SCHEMAS / "nats-helm-chart-values.yaml").read_text())
    values = yaml.safe_load(NATS_VALUES.read_text())
    assert _unknown_keys(values, chart) == []
    assert _unknown_keys({"config": {"jetstream": {"fileStor": {}}}}, chart) == ["config.jetstream.fileStor"]
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    assert values["config"]["jetstream"]["enabled"] is True
    assert values["config"]["jetstream"]["fileStore"]["enabled"] is True
    assert values["config"]["jetstream"]["memoryStore"]["enabled"] is False
    configmap = _objects("ConfigMap")["parla-config"]["data"]
    assert configmap["PARLA_NATS_STREAM_REPLICAS"] == str(values["config"]["cluster"]["replicas"])


def test_every_service_connects_to_nats_as_itself() -> None:
    """Compose's NATS loads deploy/nats/auth.conf (each service's user and permissions) with the passwords in its
    environment; each service (compose and Kubernetes) connects as ``parla_<service>`` with its own password."""
    compose = _compose()
    nats = compose["services"]["nats"]
    command = nats["command"]
    assert command[command.index("-c") + 1] == "/etc/nats/auth.conf"
    assert "./deploy/nats/auth.conf:/etc/nats/auth.conf:ro" in [str(volume) for volume in nats["volumes"]]
    auth = (ROOT / "deploy" / "nats" / "auth.conf").read_text()
    for name in SERVICES:
        variable = f"PARLA_NATS_{name.upper()}_PASSWORD"
        assert f'user: "parla_{name}", password: ${variable}' in auth
        env = _env(compose["services"][name])
        assert env["PARLA_NATS_USER"] == f"parla_{name}"
        assert env["PARLA_NATS_PASSWORD"] == _env(nats)[variable], name
        assert re.fullmatch(rf"\$\{{{variable}:-[^}}]+\}}", env["PARLA_NATS_PASSWORD"])
        (container,) = _objects("Deployment")[name]["spec"]["template"]["spec"]["containers"]
        k8s_env = _env_names(container)
        assert k8s_env["PARLA_NATS_USER"]["value"] == f"parla_{name}"
        secret = k8s_env["PARLA_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert secret == {"name": "parla-secrets", "key": f"{name}-nats-password"}


def test_the_nats_cluster_includes_the_service_identities() -> None:
    values = yaml.safe_load(NATS_VALUES.read_text())
    assert values["config"]["merge"]["$include"] == "./auth.conf"
    assert "configMap.merge.data.auth\\.conf=deploy/nats/auth.conf" in NATS_VALUES.read_text()
    for name in SERVICES:
        env = values["container"]["env"][f"PARLA_NATS_{name.upper()}_PASSWORD"]
        assert env["valueFrom"]["secretKeyRef"] == {"name": "parla-nats-passwords", "key": name}
