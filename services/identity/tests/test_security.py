"""Password hashing cost, the password policy, envelope encryption and mail over a real SMTP server."""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
from email import message_from_bytes
from email import policy as email_policy
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from parla_identity.clients.mail import Mailer
from parla_identity.crypto import DecryptionError, SecretBox, derive_key
from parla_identity.domain.passwords import (
    _dummy_hash,
    bcrypt_cost,
    hash_password,
    password_policy_violation,
    verify_password,
)
from parla_identity.settings import DEV_ADMIN_PASSWORD, IdentitySettings
from parla_shared.settings import SettingsError


async def test_default_settings_hash_with_cost_12_or_more() -> None:
    settings = IdentitySettings.from_env(
        {"PARLA_ENVIRONMENT": "development"}, database_url="postgresql://u@127.0.0.1/db"
    )
    assert settings.bcrypt_rounds >= 12
    hashed = await hash_password("Secret-pass1", settings.bcrypt_rounds)
    assert bcrypt_cost(hashed) >= 12
    assert await verify_password("Secret-pass1", hashed, settings.bcrypt_rounds)


def test_a_lower_cost_is_refused_outside_tests() -> None:
    with pytest.raises(SettingsError, match=r"bcrypt_rounds"):
        IdentitySettings.from_env(
            {"PARLA_BCRYPT_ROUNDS": "10", "PARLA_ENVIRONMENT": "development"},
            database_url="postgresql://u@127.0.0.1/db",
        )


def test_production_refuses_the_development_secret_key() -> None:
    with pytest.raises(SettingsError, match="PARLA_IDENTITY_SECRET_KEY is a development default"):
        IdentitySettings.from_env({"PARLA_ENVIRONMENT": "production"}, database_url="postgresql://u@127.0.0.1/db")


STRONG_KEY = secrets.token_urlsafe(48)
STRONG_CLIENTS = ",".join(f"{name}={secrets.token_urlsafe(32)}" for name in ("curriculum", "progress", "analytics"))
PRODUCTION = {
    "PARLA_ENVIRONMENT": "production",
    "PARLA_IDENTITY_SECRET_KEY": STRONG_KEY,
    "PARLA_SERVICE_CLIENT_SECRETS": STRONG_CLIENTS,
}


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("PARLA_IDENTITY_SECRET_KEY", "CHANGE-ME", "PARLA_IDENTITY_SECRET_KEY is a placeholder"),
        ("PARLA_IDENTITY_SECRET_KEY", "a-short-key-of-some-kind", "PARLA_IDENTITY_SECRET_KEY is too weak"),
        ("PARLA_IDENTITY_PREVIOUS_SECRET_KEYS", "k0=tiny", "PARLA_IDENTITY_PREVIOUS_SECRET_KEYS (key k0) is too weak"),
        ("PARLA_ADMIN_PASSWORD", "ParlaAdmin1!", "PARLA_ADMIN_PASSWORD is a development default"),
        ("PARLA_ADMIN_PASSWORD", "CHANGE-ME", "PARLA_ADMIN_PASSWORD is a placeholder"),
        ("PARLA_OAUTH_GOOGLE_CLIENT_SECRET", "replace-me", "PARLA_OAUTH_GOOGLE_CLIENT_SECRET is a placeholder"),
        ("PARLA_OAUTH_TIKTOK_CLIENT_SECRET", "CHANGE_ME", "PARLA_OAUTH_TIKTOK_CLIENT_SECRET is a placeholder"),
        (
            "PARLA_SMTP_URL",
            "smtp://mailer:CHANGE-ME@smtp.example.com:587",
            "PARLA_SMTP_URL's password is a placeholder",
        ),
        ("PARLA_DATABASE_URL", "postgresql://parla_identity:parla-dev-identity@db/parla", "PARLA_DATABASE_URL's"),
        (
            "PARLA_SERVICE_CLIENT_SECRETS",
            "curriculum=CHANGE-ME-curriculum-client-secret",
            "PARLA_SERVICE_CLIENT_SECRETS (curriculum) is a placeholder",
        ),
        ("PARLA_SERVICE_CLIENT_SECRETS", "progress=tiny", "PARLA_SERVICE_CLIENT_SECRETS (progress) is too weak"),
    ],
)
def test_production_refuses_weak_identity_secrets_naming_the_setting(setting: str, value: str, named: str) -> None:
    environ = {"PARLA_DATABASE_URL": "postgresql://parla_identity@db/parla", **PRODUCTION, setting: value}
    with pytest.raises(SettingsError, match=re.escape(named)):
        IdentitySettings.from_env(environ)


def test_production_accepts_real_secrets_and_seeds_no_admin_without_a_password() -> None:
    settings = IdentitySettings.from_env(
        {
            **PRODUCTION,
            "PARLA_DATABASE_URL": f"postgresql://parla_identity:{secrets.token_hex(32)}@db/parla",
            "PARLA_IDENTITY_PREVIOUS_SECRET_KEYS": f"k0={secrets.token_hex(32)}",
            "PARLA_OAUTH_GOOGLE_CLIENT_SECRET": "GOCSPX-" + secrets.token_urlsafe(20),
        }
    )
    assert settings.seed_admin_password is None
    development = IdentitySettings.from_env({"PARLA_ENVIRONMENT": "development"}, database_url="postgresql://u@db/x")
    assert development.seed_admin_password == DEV_ADMIN_PASSWORD


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("Secret-pass1", True),
        ("Abcdefg1", True),
        ("Abcdef1", False),
        ("abcdefgh1", False),
        ("ABCDEFGH1", False),
        ("Abcdefghi", False),
        ("A1" + "b" * 80, False),
    ],
)
def test_password_policy(password: str, ok: bool) -> None:
    assert (password_policy_violation(password) is None) is ok


async def test_unknown_account_still_costs_a_bcrypt_check_of_the_same_cost() -> None:
    assert await verify_password("Secret-pass1", None, 5) is False
    assert bcrypt_cost(_dummy_hash(5)) == 5


def test_secret_box_seals_with_a_key_id_and_binds_the_context() -> None:
    box = SecretBox("k2", {"k2": derive_key("new secret")})
    sealed = box.seal("provider-token", context="oauth_providers.access_token:x")
    assert sealed.startswith("v1.k2.")
    assert "provider-token" not in sealed
    assert box.open(sealed, context="oauth_providers.access_token:x") == "provider-token"
    with pytest.raises(DecryptionError):
        box.open(sealed, context="oauth_providers.refresh_token:x")
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(DecryptionError):
        box.open(tampered, context="oauth_providers.access_token:x")


def test_secret_box_rotation_keeps_old_values_readable() -> None:
    old = IdentitySettings.from_env(
        {"PARLA_ENVIRONMENT": "development"},
        database_url="postgresql://u@127.0.0.1/db",
        identity_secret_key="first",
        identity_secret_key_id="k1",
    )
    new = IdentitySettings.from_env(
        {"PARLA_ENVIRONMENT": "development"},
        database_url="postgresql://u@127.0.0.1/db",
        identity_secret_key="second",
        identity_secret_key_id="k2",
        identity_previous_secret_keys="k1=first",
    )
    sealed_old = SecretBox.from_settings(old).seal("secret", context="c")
    box = SecretBox.from_settings(new)
    assert box.open(sealed_old, context="c") == "secret"
    resealed = box.reseal(sealed_old, context="c")
    assert resealed.startswith("v1.k2.")
    assert box.open(resealed, context="c") == "secret"
    with pytest.raises(DecryptionError):
        SecretBox.from_settings(old).open(resealed, context="c")


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, Message]] = []

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:  # noqa: N802
        assert isinstance(envelope.content, bytes)
        self.messages.append((envelope, message_from_bytes(envelope.content)))
        return "250 OK"


async def test_mail_goes_over_smtp_when_configured(settings: IdentitySettings, tmp_path: Path) -> None:
    inbox = _Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        smtp_settings = IdentitySettings.from_env(
            {},
            database_url=settings.database_url,
            environment="test",
            bcrypt_rounds=4,
            smtp_url=f"smtp://127.0.0.1:{port}",
            data_dir=str(tmp_path),
        )
        await Mailer(smtp_settings).send("ana@example.com", "Confirm your Parla email address", "code: 123")
        assert len(inbox.messages) == 1
        envelope, message = inbox.messages[0]
        assert envelope.rcpt_tos == ["ana@example.com"]
        assert message["Subject"] == "Confirm your Parla email address"
        assert "code: 123" in message.get_payload()
        assert not (tmp_path / "mail").exists()  # not written as a file when SMTP is configured
    finally:
        server.stop()


async def test_mail_is_written_as_eml_without_smtp(tmp_path: Path, settings: IdentitySettings) -> None:
    file_settings = IdentitySettings.from_env(
        {}, database_url=settings.database_url, environment="test", bcrypt_rounds=4, data_dir=str(tmp_path)
    )
    await Mailer(file_settings).send("bo@example.com", "Hello", "body")
    [path] = (tmp_path / "mail").glob("*.eml")
    message = message_from_bytes(path.read_bytes())
    assert message["To"] == "bo@example.com"


async def test_registration_mail_goes_over_smtp_end_to_end(settings: IdentitySettings, tmp_path: Path) -> None:
    """The whole app with ``PARLA_SMTP_URL`` set: the verification code arrives at a real SMTP server and works."""
    from conftest import PASSWORD, code_from, new_email
    from litestar.testing import AsyncTestClient

    from parla_identity.app import create_app
    from parla_testing import wait_until_ready

    inbox = _Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    smtp_settings = IdentitySettings.from_env(
        {},
        **{
            **{field: getattr(settings, field) for field in settings.__struct_fields__},
            "smtp_url": f"smtp://127.0.0.1:{port}",
            "data_dir": str(tmp_path),
        },
    )
    try:
        async with AsyncTestClient(app=create_app(smtp_settings)) as client:
            await wait_until_ready(client)
            address = new_email("smtp")
            registered = await client.post("/auth/register", json={"email": address, "password": PASSWORD, "name": "S"})
            assert registered.status_code == 201
            deadline = asyncio.get_running_loop().time() + 15
            while not inbox.messages:
                assert asyncio.get_running_loop().time() < deadline, "no mail reached the SMTP server"
                await asyncio.sleep(0.05)
            envelope, _ = inbox.messages[0]
            assert envelope.rcpt_tos == [address]
            code = code_from(message_from_bytes(envelope.content, policy=email_policy.default))  # type: ignore[arg-type]
            assert (await client.post("/auth/verify-email", json={"token": code})).status_code == 200
            assert not (tmp_path / "mail").exists()
    finally:
        server.stop()
