"""Secrets fail closed: outside development a placeholder, a development default or a weak secret stops start-up
with the setting named; each service role has its own password; the database never echoes bound values."""

from __future__ import annotations

import base64
import secrets
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from parla_devstack.platform import Platform
from parla_shared.db import create_engine, sqlalchemy_config
from parla_shared.provisioning import cli
from parla_shared.provisioning.database import SERVICES
from parla_shared.provisioning.environment import Ports, project_root, role_passwords
from parla_shared.secret_policy import estimated_bits, placeholder_reason, weak_secret_reason
from parla_shared.settings import ServiceSettings, SettingsError
from parla_testing import TestEnvironment


class ProbeSettings(ServiceSettings, kw_only=True, frozen=True):
    service_name: str = "analytics"
    port: int = 0
    db_schema: str = "analytics"


STRONG = secrets.token_urlsafe(32)


@pytest.mark.parametrize(
    "value",
    [
        base64.b64encode(secrets.token_bytes(32)).decode(),  # openssl rand -base64 32
        secrets.token_hex(32),  # openssl rand -hex 32
        secrets.token_hex(32).upper(),
        secrets.token_urlsafe(32),
    ],
)
def test_32_random_bytes_pass(value: str) -> None:
    assert weak_secret_reason(value) is None, estimated_bits(value)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "empty"),
        ("parla-dev", "development default"),
        ("parla-dev-progress", "development default"),
        ("parla-dev-identity-secret-key-change-me", "development default"),
        ("ParlaAdmin1!", "development default"),
        ("CHANGE-ME", "placeholder"),
        ("change_me_" + secrets.token_hex(32), "placeholder"),
        ("CHANGE-ME-identity-role-password", "placeholder"),
        ("<your-secret-key>", "placeholder"),
        ("a" * 80, "weak"),
        ("x" * 80, "placeholder"),
        ("abcabc" * 20, "weak"),
        (secrets.token_hex(16), "weak"),  # 16 bytes
        (secrets.token_urlsafe(24), "weak"),
        ("Tr0ub4dor&3-is-a-fine-password", "weak"),
    ],
)
def test_placeholders_defaults_and_short_secrets_are_refused(value: str, why: str) -> None:
    reason = weak_secret_reason(value)
    assert reason is not None
    assert why in reason


def test_issued_credentials_are_only_checked_for_placeholders() -> None:
    assert placeholder_reason("GOCSPX-" + secrets.token_urlsafe(20)) is None
    assert placeholder_reason("CHANGE-ME") == "is a placeholder"
    assert placeholder_reason("ParlaAdmin1!") == "is a development default"


def test_undeclared_environment_is_production() -> None:
    with pytest.raises(SettingsError, match=r"PARLA_DATABASE_URL's password is a development default"):
        ProbeSettings.from_env({"PARLA_DATABASE_URL": "postgresql://parla_analytics:parla-dev-analytics@db/parla"})


@pytest.mark.parametrize("environment", ["development", "test"])
def test_development_and_tests_accept_the_defaults(environment: str) -> None:
    settings = ProbeSettings.from_env(
        {"PARLA_DATABASE_URL": "postgresql://u:parla-dev-analytics@db/parla", "PARLA_ENVIRONMENT": environment}
    )
    assert settings.environment == environment


@pytest.mark.parametrize("password", ["CHANGE-ME", "hunter2", "parla-dev"])
def test_production_refuses_a_weak_database_password(password: str) -> None:
    with pytest.raises(SettingsError, match=r"refusing to start.*PARLA_DATABASE_URL's password"):
        ProbeSettings.from_env(
            {"PARLA_DATABASE_URL": f"postgresql://u:{password}@db/parla", "PARLA_ENVIRONMENT": "production"}
        )


def test_production_accepts_a_strong_database_password_or_none() -> None:
    for url in (f"postgresql://u:{STRONG}@db/parla", "postgresql://u@db/parla"):
        assert ProbeSettings.from_env({"PARLA_DATABASE_URL": url}).environment == "production"


@pytest.mark.parametrize("secret", ["parla-dev-service-secret", "CHANGE-ME-progress-client-secret", "short"])
def test_production_refuses_a_weak_service_client_secret(secret: str) -> None:
    """Unset, a service gets no service token in production; set, it must be a real secret."""
    with pytest.raises(SettingsError, match=r"refusing to start.*PARLA_SERVICE_CLIENT_SECRET "):
        ProbeSettings.from_env({"PARLA_DATABASE_URL": "postgresql://u@db/parla", "PARLA_SERVICE_CLIENT_SECRET": secret})


def test_each_role_has_its_own_password() -> None:
    passwords = role_passwords({"PARLA_PROGRESS_DB_PASSWORD": STRONG})
    assert set(passwords) == set(SERVICES)
    assert len(set(passwords.values())) == len(SERVICES)
    assert passwords["progress"] == STRONG
    assert passwords["identity"] == "parla-dev-identity"


def test_the_old_shared_role_password_is_refused_not_ignored() -> None:
    with pytest.raises(SettingsError, match="PARLA_IDENTITY_DB_PASSWORD"):
        role_passwords({"PARLA_DB_ROLE_PASSWORD": STRONG})


def test_make_run_declares_development() -> None:
    platform = Platform(project_root(), project_root() / ".parla", Ports(), {})
    assert platform.service_env("progress", "postgresql://x/y", "nats://x")["PARLA_ENVIRONMENT"] == "development"


def test_migrate_refuses_development_passwords_in_production(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PARLA_ENVIRONMENT", raising=False)
    monkeypatch.delenv("PARLA_DB_ROLE_PASSWORD", raising=False)
    monkeypatch.setenv("PARLA_DATABASE_URL", "postgresql://postgres:CHANGE-ME@127.0.0.1:1/parla")
    for service in SERVICES:
        monkeypatch.setenv(f"PARLA_{service.upper()}_DB_PASSWORD", STRONG if service != "analytics" else "short")
    assert cli.main(["migrate"]) == 2
    said = capsys.readouterr().out
    assert "PARLA_ANALYTICS_DB_PASSWORD is too weak" in said
    assert "PARLA_DATABASE_URL's password is a placeholder" in said
    assert "PARLA_IDENTITY_DB_PASSWORD" not in said


async def test_database_errors_and_logs_hide_bound_values(test_env: TestEnvironment) -> None:
    settings = ProbeSettings.from_env({}, database_url=test_env.service_dsn("analytics"), environment="test")
    secret = f"secret-{uuid.uuid4().hex}"
    engines = [sqlalchemy_config(settings).get_engine(), create_engine(settings, "probe")]
    try:
        for engine in engines:
            async with engine.connect() as connection:
                with pytest.raises(DBAPIError) as raised:
                    await connection.execute(text("SELECT CAST(:value AS text), 1 / 0"), {"value": secret})
            assert "division by zero" in str(raised.value)
            assert secret not in str(raised.value)
            assert engine.sync_engine.hide_parameters
    finally:
        for engine in engines:
            await engine.dispose()
