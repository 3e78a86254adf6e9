"""Identity through the Caddy gateway: every identity row of docs/api.md, and token rejection by all four services."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parla_identity.crypto import SecretBox
from parla_identity.settings import IdentitySettings

SERVICES = ("identity", "curriculum", "progress", "analytics")
PASSWORD = "Gateway-pass1"
ID = "/api/identity"


def _email() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}@example.com"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _query(sql: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(os.environ["PARLA_TEST_ADMIN_DSN"])
        try:
            rows: list[asyncpg.Record] = await connection.fetch(sql, *args)
            return rows
        finally:
            await connection.close()

    return asyncio.run(run())


@pytest.fixture(scope="module")
def identity_key() -> tuple[str, Ed25519PrivateKey]:
    """The platform's active signing key, opened with identity's secret (the documented development default)."""
    [row] = _query("SELECT kid, private_key_encrypted FROM identity.signing_keys WHERE retired_at IS NULL")
    secrets_env = {key: value for key, value in os.environ.items() if key.startswith("PARLA_IDENTITY_")}
    settings = IdentitySettings.from_env(
        secrets_env, database_url="postgresql://unused@127.0.0.1/unused", environment="development"
    )
    raw = SecretBox.from_settings(settings).open(
        row["private_key_encrypted"], context=f"identity.signing_keys.private_key_encrypted:{row['kid']}"
    )
    return row["kid"], Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw))


@pytest.fixture(scope="module")
def account(gateway: httpx.Client) -> dict[str, Any]:
    email = _email()
    response = gateway.post(f"{ID}/auth/register", json={"email": email, "password": PASSWORD, "name": "Eve"})
    assert response.status_code == 201, response.text
    return {**response.json(), "email": email}


def test_register_login_me_refresh_logout(gateway: httpx.Client) -> None:
    email = _email()
    registered = gateway.post(
        f"{ID}/auth/register",
        json={"email": email, "password": PASSWORD, "name": "Ana", "timezone": "Europe/Madrid", "daily_xp_goal": 10},
    )
    assert registered.status_code == 201
    duplicate = gateway.post(f"{ID}/auth/register", json={"email": email.upper(), "password": PASSWORD, "name": "A"})
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"].startswith("application/problem+json")

    login = gateway.post(f"{ID}/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    pair = login.json()
    assert pair["token_type"] == "Bearer"

    me = gateway.get(f"{ID}/users/me", headers=_bearer(pair["access_token"]))
    assert me.status_code == 200
    assert (me.json()["email"], me.json()["timezone"], me.json()["daily_xp_goal"]) == (email, "Europe/Madrid", 10)

    refreshed = gateway.post(f"{ID}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 200
    new_pair = refreshed.json()
    assert gateway.get(f"{ID}/users/me", headers=_bearer(new_pair["access_token"])).status_code == 200
    reused = gateway.post(f"{ID}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert reused.status_code == 401
    assert gateway.post(f"{ID}/auth/refresh", json={"refresh_token": new_pair["refresh_token"]}).status_code == 401

    second = gateway.post(f"{ID}/auth/login", json={"email": email, "password": PASSWORD}).json()
    assert gateway.post(f"{ID}/auth/logout", json={"refresh_token": second["refresh_token"]}).status_code == 204
    assert gateway.post(f"{ID}/auth/refresh", json={"refresh_token": second["refresh_token"]}).status_code == 401


def test_bad_credentials_are_401(gateway: httpx.Client, account: dict[str, Any]) -> None:
    wrong = gateway.post(f"{ID}/auth/login", json={"email": account["email"], "password": "Wrong-pass1"})
    unknown = gateway.post(f"{ID}/auth/login", json={"email": _email(), "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_verify_email_and_password_reset(gateway: httpx.Client, mailed_code: Callable[[str, str], str]) -> None:
    email = _email()
    registered = gateway.post(f"{ID}/auth/register", json={"email": email, "password": PASSWORD, "name": "Vi"})
    assert registered.status_code == 201
    code = mailed_code(email, "Confirm")
    assert gateway.post(f"{ID}/auth/verify-email", json={"token": code}).status_code == 200
    assert gateway.post(f"{ID}/auth/verify-email", json={"token": code}).status_code == 400

    assert gateway.post(f"{ID}/auth/password-reset", json={"email": email}).status_code == 202
    assert gateway.post(f"{ID}/auth/password-reset", json={"email": _email()}).status_code == 202
    reset = mailed_code(email, "Reset")
    body = {"token": reset, "new_password": "Another-pass2"}
    assert gateway.post(f"{ID}/auth/password-reset/confirm", json=body).status_code == 204
    assert gateway.post(f"{ID}/auth/password-reset/confirm", json=body).status_code == 400
    pair = gateway.post(f"{ID}/auth/login", json={"email": email, "password": "Another-pass2"}).json()
    me = gateway.get(f"{ID}/users/me", headers=_bearer(pair["access_token"])).json()
    assert me["is_email_verified"] is True


def test_stored_password_hashes_have_cost_12_or_more(account: dict[str, Any]) -> None:
    [row] = _query("SELECT password_hash FROM identity.users WHERE id = $1::uuid", account["id"])
    assert int(row["password_hash"].split("$")[2]) >= 12


def test_patch_and_delete_me(gateway: httpx.Client) -> None:
    email = _email()
    gateway.post(f"{ID}/auth/register", json={"email": email, "password": PASSWORD, "name": "Pat"})
    token = gateway.post(f"{ID}/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
    bad = gateway.patch(f"{ID}/users/me", json={"timezone": "Atlantis/Capital"}, headers=_bearer(token))
    assert bad.status_code == 422
    changed = gateway.patch(
        f"{ID}/users/me", json={"timezone": "Asia/Tokyo", "daily_xp_goal": 30}, headers=_bearer(token)
    )
    assert changed.status_code == 200
    assert (changed.json()["timezone"], changed.json()["daily_xp_goal"]) == ("Asia/Tokyo", 30)
    assert gateway.delete(f"{ID}/users/me", headers=_bearer(token)).status_code == 204
    assert gateway.post(f"{ID}/auth/login", json={"email": email, "password": PASSWORD}).status_code == 401


def test_dev_admin_finds_and_deletes_users(gateway: httpx.Client, account: dict[str, Any]) -> None:
    credentials = {
        "email": os.environ.get("PARLA_ADMIN_EMAIL", "admin@parla.local"),
        "password": os.environ.get("PARLA_ADMIN_PASSWORD", "ParlaAdmin1!"),
    }
    admin = gateway.post(f"{ID}/auth/login", json=credentials)
    assert admin.status_code == 200, "the dev admin is seeded by python -m parla_identity.seed"
    headers = _bearer(admin.json()["access_token"])
    found = gateway.get(f"{ID}/admin/users", params={"email": account["email"]}, headers=headers).json()
    assert [item["id"] for item in found["items"]] == [account["id"]]
    email = _email()
    victim = gateway.post(f"{ID}/auth/register", json={"email": email, "password": PASSWORD, "name": "V"}).json()
    assert gateway.put(f"{ID}/admin/users/{victim['id']}/roles/admin", headers=headers).json()["roles"] == ["admin"]
    assert gateway.delete(f"{ID}/admin/users/{victim['id']}/roles/admin", headers=headers).json()["roles"] == []
    assert gateway.delete(f"{ID}/admin/users/{victim['id']}", headers=headers).status_code == 204
    assert gateway.get(f"{ID}/admin/users/{victim['id']}", headers=headers).status_code == 404


def test_jwks_and_unconfigured_oauth(gateway: httpx.Client, identity_key: tuple[str, Ed25519PrivateKey]) -> None:
    jwks = gateway.get(f"{ID}/.well-known/jwks.json").json()
    assert identity_key[0] in {key["kid"] for key in jwks["keys"]}
    response = gateway.get(f"{ID}/auth/oauth/google/authorize", follow_redirects=False)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")


def _claims(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "iss": "parla-identity",
        "aud": "parla",
        "sub": str(uuid.uuid4()),
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": uuid.uuid4().hex,
        "roles": ["admin"],
        **changes,
    }


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_rejects_bad_tokens(
    gateway: httpx.Client, identity_key: tuple[str, Ed25519PrivateKey], service: str
) -> None:
    kid, key = identity_key
    at_header = {"kid": kid, "typ": "at+jwt"}  # an access token's JOSE header
    now = datetime.now(UTC)
    bad_tokens = {
        "no typ header": jwt.encode(_claims(), key, algorithm="EdDSA", headers={"kid": kid}),
        "typ JWT": jwt.encode(_claims(), key, algorithm="EdDSA", headers={"kid": kid, "typ": "JWT"}),
        "alg none": jwt.encode(_claims(), key="", algorithm="none", headers=at_header),
        "another key": jwt.encode(_claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers=at_header),
        "expired": jwt.encode(
            _claims(iat=now - timedelta(hours=1), exp=now - timedelta(minutes=10)),
            key,
            algorithm="EdDSA",
            headers=at_header,
        ),
        "another audience": jwt.encode(_claims(aud="not-parla"), key, algorithm="EdDSA", headers=at_header),
    }
    good = jwt.encode(_claims(), key, algorithm="EdDSA", headers=at_header)
    # /health needs no user, so a refusal can only come from verifying the presented token.
    assert gateway.get(f"/api/{service}/health", headers=_bearer(good)).status_code == 200
    for name, token in bad_tokens.items():
        response = gateway.get(f"/api/{service}/health", headers=_bearer(token))
        assert response.status_code == 401, f"{service} accepted a token with {name}"
        assert response.headers["content-type"].startswith("application/problem+json")
