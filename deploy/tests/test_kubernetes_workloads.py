"""The Kubernetes workloads: service Deployments, hardening, autoscalers, secrets, network policies, safe releases."""

from __future__ import annotations

import re

import kubernetes_validate
import pytest
from conftest import (
    KUBERNETES,
    KUBERNETES_VERSION,
    SERVICES,
    _compose,
    _container_port,
    _dockerfile_instructions,
    _documents,
    _env,
    _env_names,
    _kustomization,
    _load_yaml_documents,
    _objects,
    _pod_is_hardened,
    _pod_labels,
    _selects,
    _walk_strings,
)

from parla_shared.secret_policy import placeholder_reason, url_password, weak_secret_reason


def _secret_keys() -> set[str]:
    keys: set[str] = set()
    for secret in _objects("Secret").values():
        keys |= set(secret.get("stringData", {})) | set(secret.get("data", {}))
    return keys


@pytest.mark.parametrize("name", list(SERVICES))
def test_kubernetes_service_deployment(name: str) -> None:
    deployment = _objects("Deployment")[name]
    service = _objects("Service")[name]
    port = SERVICES[name]
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    (container,) = pod["spec"]["containers"]
    readiness = container["readinessProbe"]["httpGet"]
    liveness = container["livenessProbe"]["httpGet"]
    assert readiness["path"] == "/ready"
    assert liveness["path"] == "/health"
    assert _container_port(container, readiness["port"]) == port
    assert _container_port(container, liveness["port"]) == port
    (service_port,) = service["spec"]["ports"]
    assert service_port["port"] == port
    assert _container_port(container, service_port["targetPort"]) == port
    command = container["command"]
    assert command[:3] == ["uvicorn", "--factory", f"parla_{name}.app:create_app"]
    assert command[command.index("--port") + 1] == str(port)
    assert int(command[command.index("--timeout-keep-alive") + 1]) > 60
    assert container["image"].split(":")[0] == "parla"
    _pod_is_hardened(pod["spec"], name)
    env = _env_names(container)
    assert env["PARLA_PORT"]["value"] == str(port)
    database = env["PARLA_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert database == {"name": "parla-secrets", "key": f"{name}-database-url"}
    assert {"configMapRef": {"name": "parla-config"}} in container["envFrom"]
    required = {
        item["valueFrom"]["secretKeyRef"]["key"]
        for item in env.values()
        if "valueFrom" in item and not item["valueFrom"]["secretKeyRef"].get("optional")
    }
    assert required <= _secret_keys()
    role_url = _objects("Secret")["parla-secrets"]["stringData"][f"{name}-database-url"]
    assert role_url.startswith(f"postgresql://parla_{name}:")
    pdb = _objects("PodDisruptionBudget")[name]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def test_kubernetes_every_workload_is_hardened_and_has_a_budget() -> None:
    budgets = _objects("PodDisruptionBudget")
    for name, deployment in _objects("Deployment").items():
        _pod_is_hardened(deployment["spec"]["template"]["spec"], name)
        assert name in budgets, f"{name} has no PodDisruptionBudget"
        assert deployment["spec"]["replicas"] >= 2
    for name, job in _objects("Job").items():
        _pod_is_hardened(job["spec"]["template"]["spec"], name)


def test_kubernetes_autoscalers_for_progress_and_curriculum() -> None:
    autoscalers = {hpa["spec"]["scaleTargetRef"]["name"]: hpa for hpa in _objects("HorizontalPodAutoscaler").values()}
    assert {"progress", "curriculum"} <= set(autoscalers)
    for name, hpa in autoscalers.items():
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert name in _objects("Deployment")
        assert hpa["spec"]["minReplicas"] >= 2
        assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]


def test_kubernetes_migration_job() -> None:
    (job,) = _objects("Job").values()
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["parla-dev", "migrate"]
    env = _env_names(container)
    assert env["PARLA_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "admin-database-url"
    for name in SERVICES:
        password = env[f"PARLA_{name.upper()}_DB_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert password == {"name": "parla-secrets", "key": f"{name}-db-password"}
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_kubernetes_secret_is_a_marked_template() -> None:
    for name, secret in _objects("Secret").items():
        assert "placeholder" in secret["metadata"].get("annotations", {}).get("parla.dev/template", ""), name
    values = _objects("Secret")["parla-secrets"]["stringData"]
    secrets = ["identity-secret-key", "admin-password", *(f"{name}-db-password" for name in SERVICES)]
    for key in ("admin-database-url", *secrets):
        assert "CHANGE-ME" in values[key], key
    # The placeholders are ones production refuses: the template cannot be applied as is by accident.
    for key in secrets:
        assert weak_secret_reason(values[key]) == "is a placeholder", key
    for key in ("admin-database-url", *(f"{name}-database-url" for name in SERVICES)):
        assert placeholder_reason(url_password(values[key]) or "") == "is a placeholder", key
    assert len({values[f"{name}-db-password"] for name in SERVICES}) == len(SERVICES), "one password per role"
    for name in SERVICES:
        assert url_password(values[f"{name}-database-url"]) == values[f"{name}-db-password"], name
    assert _objects("ConfigMap")["parla-config"]["data"]["PARLA_ENVIRONMENT"] == "production"


def _allowed_sources(target: str) -> set[str] | None:
    """The parla pods that may connect to ``target``; None means anyone."""
    pods = _pod_labels()
    policies = [
        policy
        for policy in _objects("NetworkPolicy").values()
        if "Ingress" in policy["spec"].get("policyTypes", ["Ingress"])
        and _selects(policy["spec"]["podSelector"], pods[target])
    ]
    assert policies, f"no NetworkPolicy selects {target}"
    allowed: set[str] = set()
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            peers = rule.get("from")
            if not peers:
                return None
            for peer in peers:
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    allowed |= {name for name, labels in pods.items() if _selects(peer["podSelector"], labels)}
    return allowed


def test_kubernetes_network_policies_keep_internal_routes_service_to_service() -> None:
    default_deny = [
        policy
        for policy in _objects("NetworkPolicy").values()
        if policy["spec"]["podSelector"] == {}
        and policy["spec"]["policyTypes"] == ["Ingress"]
        and not policy["spec"].get("ingress")
    ]
    assert default_deny, "a default-deny ingress policy"
    every_service = set(SERVICES)
    assert _allowed_sources("gateway") is None
    assert _allowed_sources("curriculum") == {"gateway", "progress"}
    assert _allowed_sources("progress") == {"gateway"}
    assert _allowed_sources("analytics") == {"gateway"}
    assert _allowed_sources("identity") == {"gateway"} | every_service  # JWKS
    assert _allowed_sources("parla-db-pooler-rw") == every_service
    assert _allowed_sources("parla-db") == {"parla-db-pooler-rw", "parla-migrate", "parla-db"}


def test_analytics_gets_its_audit_key_as_a_secret_and_keeps_checkpoints_on_a_volume() -> None:
    """The audit chain's HMAC key is a secret of analytics (never the database's), and its signed checkpoints
    live on storage that outlives a container."""
    compose = _compose()
    analytics = compose["services"]["analytics"]
    assert re.fullmatch(r"\$\{PARLA_AUDIT_HMAC_KEY:-[^}]+\}", _env(analytics)["PARLA_AUDIT_HMAC_KEY"])
    checkpoint_dir = f"{_env(analytics)['PARLA_DATA_DIR']}/audit"
    (volume,) = [str(v).split(":")[0] for v in analytics["volumes"] if str(v).split(":")[1] == checkpoint_dir]
    assert volume in compose["volumes"]
    for name in ("migrate", *(service for service in SERVICES if service != "analytics")):
        assert "PARLA_AUDIT_HMAC_KEY" not in _env(compose["services"][name]), f"{name} must not hold the audit key"

    (container,) = _objects("Deployment")["analytics"]["spec"]["template"]["spec"]["containers"]
    key = _env_names(container)["PARLA_AUDIT_HMAC_KEY"]["valueFrom"]["secretKeyRef"]
    assert key == {"name": "parla-secrets", "key": "audit-hmac-key"}
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/data/audit")
    pod = _objects("Deployment")["analytics"]["spec"]["template"]["spec"]
    (claim,) = [v["persistentVolumeClaim"]["claimName"] for v in pod["volumes"] if v["name"] == mount["name"]]
    assert "ReadWriteMany" in _objects("PersistentVolumeClaim")[claim]["spec"]["accessModes"]


def test_kubernetes_release_migrates_before_new_pods_serve_and_never_seeds() -> None:
    """A release (``kubectl apply -k``) runs the migration Job and no seed; a new pod is ready only once
    the schema is at its image's head (``/ready``, with ``PARLA_MIGRATIONS_DIR`` where the image has the
    migrations), and old pods keep serving until then (``maxUnavailable: 0``)."""
    (job,) = _objects("Job").values()
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert "--seed" not in container["command"]
    configmap = _objects("ConfigMap")["parla-config"]["data"]
    copies = [args.split() for keyword, args in _dockerfile_instructions() if keyword == "COPY"]
    assert any(
        args[-2].rstrip("/") == "migrations" and args[-1].rstrip("/") == configmap["PARLA_MIGRATIONS_DIR"]
        for args in copies
    ), "PARLA_MIGRATIONS_DIR is where the image keeps migrations/"
    for name in SERVICES:
        deployment = _objects("Deployment")[name]
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, name
        pod = deployment["spec"]["template"]["spec"]
        (service_container,) = pod["containers"]
        assert service_container["readinessProbe"]["httpGet"]["path"] == "/ready", name
        for init in pod.get("initContainers", []):
            assert "--seed" not in init.get("command", []) + init.get("args", []), name
    for _, doc in _documents():
        assert "--seed" not in list(_walk_strings(doc)), "no manifest of the release seeds"


def test_kubernetes_seeding_is_a_separate_one_time_job() -> None:
    seed_file = KUBERNETES / "once" / "seed-job.yaml"
    (seed,) = _load_yaml_documents(seed_file)
    kubernetes_validate.validate(seed, KUBERNETES_VERSION, strict=True)
    assert seed["kind"] == "Job"
    (container,) = seed["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["parla-dev", "migrate", "--seed"]
    _pod_is_hardened(seed["spec"]["template"]["spec"], "parla-seed")
    assert not any("once" in resource for resource in _kustomization()["resources"])
