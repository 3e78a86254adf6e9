"""Profiles, erasure, admin endpoints, the admin CLI, signing keys, JWKS and token verification."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import jwt
from conftest import PASSWORD, events_of, login, new_email, register, user_with_token
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from parla_identity.settings import IdentitySettings
from parla_identity.use_cases import accounts
from parla_identity.use_cases.context import Identity
from parla_shared.db import SystemPath, running_system_path
from parla_testing import bearer


async def test_me_answers_the_profile(client: httpx.AsyncClient) -> None:
    user, headers = await user_with_token(client)
    response = await client.get("/users/me", headers=headers)
    assert response.status_code == 200
    me = response.json()
    assert set(me) == {
        "id",
        "email",
        "name",
        "avatar_url",
        "is_email_verified",
        "daily_xp_goal",
        "timezone",
        "roles",
        "created_at",
    }
    assert (me["id"], me["daily_xp_goal"], me["timezone"]) == (user["id"], 20, "UTC")


async def test_me_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/users/me")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_patch_me_validates_and_publishes_the_changes(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user, headers = await user_with_token(client)
    for body, field in (
        ({"timezone": "Nowhere/Land"}, "timezone"),
        ({"daily_xp_goal": 40}, "daily_xp_goal"),
        ({"avatar_url": "javascript:alert(1)"}, "avatar_url"),
    ):
        response = await client.patch("/users/me", json=body, headers=headers)
        assert response.status_code == 422, body
        assert response.json()["errors"][0]["key"] == field
    assert (await client.patch("/users/me", json={"email": "x@example.com"}, headers=headers)).status_code == 400

    response = await client.patch(
        "/users/me",
        json={"timezone": "America/Mexico_City", "daily_xp_goal": 50, "name": "Ana María", "avatar_url": None},
        headers=headers,
    )
    assert response.status_code == 200
    me = response.json()
    assert (me["timezone"], me["daily_xp_goal"], me["name"]) == ("America/Mexico_City", 50, "Ana María")
    [event] = await events_of(db, "parla.identity.user.updated", user["id"])
    # The name changed, but its values stay in identity (version 2: no personal data in events).
    assert event["version"] == 2
    assert event["data"] == {
        "user_id": user["id"],
        "changed_fields": ["daily_xp_goal", "name", "timezone"],
        "changes": {
            "timezone": {"old": "UTC", "new": "America/Mexico_City"},
            "daily_xp_goal": {"old": 20, "new": 50},
        },
        "timezone": "America/Mexico_City",
        "daily_xp_goal": 50,
    }
    assert event["actor_id"] == user["id"]
    updated_at = await db.fetchval("SELECT updated_at > created_at FROM identity.users WHERE id = $1::uuid", user["id"])
    assert updated_at is True


async def test_profile_strings_the_database_cannot_store_are_problems_not_500s(
    client: httpx.AsyncClient, identity: Identity
) -> None:
    _, headers = await user_with_token(client)
    for body in ({"name": "Ana\x00"}, {"avatar_url": "https://cdn.example/a\x00.png"}):
        response = await client.patch("/users/me", json=body, headers=headers)
        assert 400 <= response.status_code < 500, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    _, admin = await _admin_headers(client, identity)
    found = await client.get("/admin/users", params={"email": "a\x00b"}, headers=admin)
    assert 400 <= found.status_code < 500, found.text
    assert found.headers["content-type"].startswith("application/problem+json")


async def test_delete_me_erases_every_identity_row(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user, headers = await user_with_token(client)
    response = await client.delete("/users/me", headers=headers)
    assert response.status_code == 204
    for table in ("users", "refresh_tokens", "user_tokens", "user_roles", "oauth_providers"):
        column = "id" if table == "users" else "user_id"
        query = f"SELECT count(*) FROM identity.{table} WHERE {column} = $1::uuid"  # noqa: S608 - fixed names
        count = await db.fetchval(query, user["id"])
        assert count == 0, table
    [event] = await events_of(db, "parla.identity.user.deleted", user["id"])
    assert event["data"] == {"user_id": user["id"], "deleted_by": user["id"], "reason": "self"}
    # The access token outlived its account: refused as unauthenticated, not answered as a missing resource.
    assert (await client.get("/users/me", headers=headers)).status_code == 401
    gone = await client.post("/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert gone.status_code == 401


async def _admin_headers(client: httpx.AsyncClient, identity: Identity) -> tuple[str, dict[str, str]]:
    address = new_email("admin")
    with running_system_path(SystemPath.OPERATOR):  # as create-admin does
        async with identity.keys.database_transaction() as session:
            admin = await accounts.create_admin(identity, session, address, PASSWORD, "Admin")
            admin_id = str(admin.id)
    pair = await login(client, address)
    return admin_id, bearer(pair["access_token"])


async def test_admin_finds_users_grants_and_revokes_admin_and_deletes(
    client: httpx.AsyncClient, identity: Identity, db: asyncpg.Connection
) -> None:
    admin_id, admin = await _admin_headers(client, identity)
    marker = uuid.uuid4().hex[:8]
    users = [await register(client, f"find-{marker}-{n}@example.com") for n in range(3)]
    _, learner = await user_with_token(client)

    assert (await client.get("/admin/users", headers=learner)).status_code == 403
    page = (await client.get(f"/admin/users?email=FIND-{marker}&limit=2", headers=admin)).json()
    assert page["total"] == 3
    assert len(page["items"]) == 2
    rest = (await client.get(f"/admin/users?email=find-{marker}&limit=2&offset=2", headers=admin)).json()
    assert {item["id"] for item in page["items"] + rest["items"]} == {user["id"] for user in users}
    assert (await client.get("/admin/users?limit=0", headers=admin)).status_code == 400
    # Past PostgreSQL's bigint OFFSET: a 400 problem, not a database error.
    too_far = await client.get(f"/admin/users?offset={2**65}", headers=admin)
    assert too_far.status_code == 400, too_far.text
    assert too_far.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(f"/admin/users?offset={2**63 - 1}", headers=admin)).json()["items"] == []

    target = users[0]["id"]
    granted = await client.put(f"/admin/users/{target}/roles/admin", headers=admin)
    assert granted.status_code == 200
    assert granted.json()["roles"] == ["admin"]
    [grant] = await events_of(db, "parla.identity.user.role_granted", target)
    assert grant["data"] == {"user_id": target, "role": "admin", "old_roles": [], "new_roles": ["admin"]}
    assert grant["actor_id"] == admin_id
    token = await login(client, users[0]["email"])
    assert jwt.decode(token["access_token"], options={"verify_signature": False})["roles"] == ["admin"]

    revoked = await client.delete(f"/admin/users/{target}/roles/admin", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["roles"] == []
    [revoke] = await events_of(db, "parla.identity.user.role_revoked", target)
    assert revoke["data"] == {"user_id": target, "role": "admin", "old_roles": ["admin"], "new_roles": []}
    assert (await client.put(f"/admin/users/{target}/roles/root", headers=admin)).status_code == 404
    assert (await client.delete(f"/admin/users/{admin_id}/roles/admin", headers=admin)).status_code == 409

    deleted = await client.delete(f"/admin/users/{target}", headers=admin)
    assert deleted.status_code == 204
    [erasure] = await events_of(db, "parla.identity.user.deleted", target)
    assert erasure["data"] == {"user_id": target, "deleted_by": admin_id, "reason": "admin"}
    assert (await client.get(f"/admin/users/{target}", headers=admin)).status_code == 404
    assert (await client.delete(f"/admin/users/{target}", headers=admin)).status_code == 404


async def test_a_revoked_admin_role_and_a_deleted_account_lose_their_power_on_the_next_request(
    client: httpx.AsyncClient, identity: Identity
) -> None:
    """The access token still says admin; identity's admin routes go by the account as it is now."""
    _, admin = await _admin_headers(client, identity)
    target, learner = await user_with_token(client)
    assert (await client.put(f"/admin/users/{target['id']}/roles/admin", headers=admin)).status_code == 200
    promoted = bearer((await login(client, target["email"]))["access_token"])
    assert (await client.get("/admin/users", headers=promoted)).status_code == 200
    assert (await client.delete(f"/admin/users/{target['id']}/roles/admin", headers=admin)).status_code == 200
    demoted = await client.get("/admin/users", headers=promoted)
    assert demoted.status_code == 403
    assert demoted.headers["content-type"].startswith("application/problem+json")
    assert (await client.delete(f"/admin/users/{target['id']}", headers=admin)).status_code == 204
    for headers in (promoted, learner):
        assert (await client.get("/admin/users", headers=headers)).status_code in (401, 403)
        gone = await client.get("/users/me", headers=headers)
        assert gone.status_code == 401
        assert gone.headers["content-type"].startswith("application/problem+json")


def cli_env(settings: IdentitySettings) -> dict[str, str]:
    return {
        **os.environ,
        "PARLA_DATABASE_URL": settings.database_url,
        "PARLA_NATS_URL": settings.nats_url,
        "PARLA_ENVIRONMENT": "test",
    }


def test_cli_creates_an_admin_idempotently_with_the_password_on_stdin(
    settings: IdentitySettings, client: httpx.AsyncClient
) -> None:
    address = new_email("cli")
    command = [sys.executable, "-m", "parla_identity.cli", "create-admin", "--email", address]
    for _ in range(2):
        done = subprocess.run(
            command, input=PASSWORD + "\n", env=cli_env(settings), capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert address in done.stdout
    weak = subprocess.run(command, input="weak\n", env=cli_env(settings), capture_output=True, text=True, check=False)
    assert weak.returncode != 0
    assert "password must be" in weak.stderr
    empty = subprocess.run(command, input="", env=cli_env(settings), capture_output=True, text=True, check=False)
    assert empty.returncode == 2
    assert "no password given" in empty.stderr


def test_cli_takes_no_password_argument(settings: IdentitySettings) -> None:
    """An argument is visible in the process list and shell history: the option does not exist."""
    address = new_email("cli")
    command = [sys.executable, "-m", "parla_identity.cli", "create-admin", "--email", address, "--password", PASSWORD]
    done = subprocess.run(command, input="", env=cli_env(settings), capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "unrecognized arguments: --password" in done.stderr


async def test_cli_admin_can_log_in_with_admin_role(settings: IdentitySettings, client: httpx.AsyncClient) -> None:
    address = new_email("cli")
    command = [sys.executable, "-m", "parla_identity.cli", "create-admin", "--email", address]
    await asyncio.to_thread(
        subprocess.run, command, input=PASSWORD.encode(), env=cli_env(settings), check=True, capture_output=True
    )
    pair = await login(client, address)
    me = (await client.get("/users/me", headers=bearer(pair["access_token"]))).json()
    assert me["roles"] == ["admin"]
    assert me["is_email_verified"] is True


async def test_jwks_publishes_the_signing_key_and_tokens_name_it(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    _, headers = await user_with_token(client)
    token = headers["Authorization"].split()[1]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert header["kid"] in {key["kid"] for key in jwks["keys"]}
    assert all("d" not in key for key in jwks["keys"])  # never a private part
    claims = jwt.decode(token, options={"verify_signature": False})
    assert {"iss", "aud", "sub", "exp", "iat", "jti", "roles"} <= claims.keys()
    assert (claims["iss"], claims["aud"]) == ("parla-identity", "parla")
    sealed = await db.fetchval("SELECT private_key_encrypted FROM identity.signing_keys WHERE kid = $1", header["kid"])
    assert sealed.startswith("v1.dev.")


async def test_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(
    client: httpx.AsyncClient, identity: Identity
) -> None:
    _, old_headers = await user_with_token(client)
    old_kid = jwt.get_unverified_header(old_headers["Authorization"].split()[1])["kid"]
    new_kid = await identity.keys.rotate()  # as another replica or `python -m parla_identity.cli rotate-signing-key`
    assert new_kid != old_kid
    # The service picks the new key up on its next reload and signs with it from then on.
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        _, new_headers = await user_with_token(client)
        if jwt.get_unverified_header(new_headers["Authorization"].split()[1])["kid"] == new_kid:
            break
        assert asyncio.get_running_loop().time() < deadline, "the service never signed with the new key"
        await asyncio.sleep(0.2)
    jwks = {key["kid"] for key in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert {old_kid, new_kid} <= jwks
    assert (await client.get("/users/me", headers=old_headers)).status_code == 200
    assert (await client.get("/users/me", headers=new_headers)).status_code == 200


def _claims(settings: IdentitySettings, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(uuid.uuid4()),
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": uuid.uuid4().hex,
        "roles": ["admin"],
        **changes,
    }


async def test_bad_tokens_are_rejected(
    client: httpx.AsyncClient, identity: Identity, settings: IdentitySettings
) -> None:
    kid, key = await identity.keys.active_key()
    at_header = {"kid": kid, "typ": "at+jwt"}  # an access token's JOSE header
    now = datetime.now(UTC)
    other_key = Ed25519PrivateKey.generate()
    unsigned = jwt.encode(_claims(settings), key="", algorithm="none", headers=at_header)
    forged = jwt.encode(_claims(settings), other_key, algorithm="EdDSA", headers=at_header)
    expired = jwt.encode(
        _claims(settings, iat=now - timedelta(hours=1), exp=now - timedelta(minutes=5)),
        key,
        algorithm="EdDSA",
        headers=at_header,
    )
    other_audience = jwt.encode(_claims(settings, aud="someone-else"), key, algorithm="EdDSA", headers=at_header)
    admin_id, _ = await _admin_headers(client, identity)
    valid = jwt.encode(_claims(settings, sub=admin_id), key, algorithm="EdDSA", headers=at_header)
    # RFC 8725: a JWT signed by identity's key that does not say it is an access token is not one.
    untyped = jwt.encode(_claims(settings), key, algorithm="EdDSA", headers={"kid": kid})
    other_type = jwt.encode(_claims(settings), key, algorithm="EdDSA", headers={"kid": kid, "typ": "JWT"})
    for token in (unsigned, forged, expired, other_audience, untyped, other_type):
        response = await client.get("/admin/users", headers=bearer(token))
        assert response.status_code == 401, json.dumps(
            jwt.decode(token, options={"verify_signature": False}), default=str
        )
    assert (await client.get("/admin/users", headers=bearer(valid))).status_code == 200


async def test_reseal_moves_every_secret_to_the_new_key(settings: IdentitySettings, identity: Identity) -> None:
    rotated = IdentitySettings.from_env(
        {},
        **{
            **{field: getattr(settings, field) for field in settings.__struct_fields__},
            "identity_secret_key": "a-brand-new-secret",
            "identity_secret_key_id": "k2",
            "identity_previous_secret_keys": f"{settings.identity_secret_key_id}={settings.identity_secret_key}",
        },
    )
    new_identity = Identity.from_settings(rotated)
    try:
        with running_system_path(SystemPath.OPERATOR):  # as reseal-secrets does: every user's OAuth tokens
            async with new_identity.keys.database_transaction() as session:
                assert await accounts.reseal_secrets(new_identity, session) >= 1
                statement = text("SELECT private_key_encrypted FROM identity.signing_keys")
                sealed = (await session.execute(statement)).scalars()
                assert all(value.startswith("v1.k2.") for value in sealed)
                # Rolled back: the running service keeps its key, which this test must not take away.
                await session.rollback()
    finally:
        await new_identity.keys.close()


def test_cli_reseal_is_a_no_op_when_everything_uses_the_current_key(
    settings: IdentitySettings, client: httpx.AsyncClient
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "parla_identity.cli", "reseal-secrets"],
        env=cli_env(settings),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("0 secrets now sealed with key dev")


async def test_deleted_accounts_are_forgotten_once_their_tokens_have_expired(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: IdentitySettings
) -> None:
    old, recent = uuid.uuid4(), uuid.uuid4()
    lifetime = settings.access_token_ttl_seconds + 300
    await db.execute(
        "INSERT INTO identity.deleted_accounts (user_id, deleted_at) VALUES "
        "($1, now() - make_interval(secs => $3 + 60)), ($2, now() - make_interval(secs => $3 - 60))",
        old,
        recent,
        float(lifetime),
    )
    deadline = asyncio.get_running_loop().time() + 15
    while await db.fetchval("SELECT count(*) FROM identity.deleted_accounts WHERE user_id = $1", old):
        assert asyncio.get_running_loop().time() < deadline, "housekeeping kept an expired deletion"
        await asyncio.sleep(0.2)
    assert await db.fetchval("SELECT count(*) FROM identity.deleted_accounts WHERE user_id = $1", recent) == 1
