"""docker-compose.yml: every piece, health checks, one role per service, only the gateway exposed, development-only secrets."""

from __future__ import annotations

import re
import shlex

import pytest
from conftest import ROOT, SERVICES, _compose, _depends_on, _env, _walk_strings

from parla_shared.secret_policy import weak_secret_reason


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
