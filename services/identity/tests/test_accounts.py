"""Register, verify email, log in, refresh, log out, password reset — through the service's HTTP API."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from conftest import PASSWORD, code_from, events_of, login, new_email, register, user_with_token, wait_for_mail

from parla_identity.domain.passwords import bcrypt_cost, hash_password
from parla_identity.settings import IdentitySettings
from parla_identity.use_cases import auth as auth_controller
from parla_testing import bearer


async def test_register_answers_the_user_and_mails_a_verification_code(
    client: httpx.AsyncClient, settings: IdentitySettings, db: asyncpg.Connection
) -> None:
    address = new_email()
    user = await register(client, address, timezone="Europe/Madrid", daily_xp_goal=30)
    assert user["email"] == address
    assert user["is_email_verified"] is False
    assert (user["timezone"], user["daily_xp_goal"], user["roles"]) == ("Europe/Madrid", 30, [])
    stored = await db.fetchrow("SELECT password_hash FROM identity.users WHERE id = $1::uuid", user["id"])
    assert stored is not None
    assert stored["password_hash"].startswith("$2b$")
    assert PASSWORD not in stored["password_hash"]
    [event] = await events_of(db, "parla.identity.user.registered", user["id"])
    assert event["version"] == 2
    assert event["data"] == {
        "user_id": user["id"],
        "timezone": "Europe/Madrid",
        "daily_xp_goal": 30,
        "method": "password",
    }

    mail = await wait_for_mail(settings.data_path / "mail", address, "Confirm")
    token = code_from(mail)
    stored_token = await db.fetchval("SELECT token_hash FROM identity.user_tokens WHERE user_id = $1::uuid", user["id"])
    assert stored_token != token  # only the hash is stored

    verified = await client.post("/auth/verify-email", json={"token": token})
    assert verified.status_code == 200
    again = await client.post("/auth/verify-email", json={"token": token})
    assert again.status_code == 400
    assert again.headers["content-type"].startswith("application/problem+json")
    pair = await login(client, address)
    me = (await client.get("/users/me", headers=bearer(pair["access_token"]))).json()
    assert me["is_email_verified"] is True
    assert len(await events_of(db, "parla.identity.user.email_verified", user["id"])) == 1


async def test_email_is_unique_case_insensitively(client: httpx.AsyncClient) -> None:
    address = new_email()
    await register(client, address)
    response = await client.post(
        "/auth/register", json={"email": address.upper(), "password": PASSWORD, "name": "Other"}
    )
    assert response.status_code == 409
    assert response.json()["title"] == "Email taken"


async def test_registration_input_is_validated(client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"password": "short1A"}, "password", "at least 8 characters"),
        ({"password": "alllowercase1"}, "password", "upper-case"),
        ({"password": "ALLUPPERCASE1"}, "password", "lower-case"),
        ({"password": "NoDigitsHere"}, "password", "digit"),
        ({"email": "not-an-email"}, "email", "valid address"),
        ({"timezone": "Mars/Olympus"}, "timezone", "IANA"),
        ({"daily_xp_goal": 15}, "daily_xp_goal", "10, 20, 30, 50"),
        ({"name": "   "}, "name", "name"),
    ]
    for override, field, words in cases:
        body = {"email": new_email(), "password": PASSWORD, "name": "Ana", **override}
        response = await client.post("/auth/register", json=body)
        assert response.status_code == 422, (override, response.text)
        problem = response.json()
        assert words in problem["detail"]
        assert problem["errors"][0]["key"] == field
    unknown = await client.post(
        "/auth/register", json={"email": new_email(), "password": PASSWORD, "name": "A", "admin": True}
    )
    assert unknown.status_code == 400
    assert "admin" in unknown.text


async def test_login_answers_a_bearer_pair_and_publishes_the_login(
    client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await register(client)
    response = await client.post(
        "/auth/login",
        json={"email": user["email"].upper(), "password": PASSWORD},
        headers={"User-Agent": "parla-tests/1.0", "X-Forwarded-For": "203.0.113.7"},
    )
    assert response.status_code == 200
    pair = response.json()
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == 900
    assert pair["refresh_token"]
    assert pair["access_token"].count(".") == 2
    [event] = await events_of(db, "parla.identity.user.logged_in", user["id"])
    assert event["data"] == {
        "user_id": user["id"],
        "method": "password",
        "ip": "203.0.113.7",
        "user_agent": "parla-tests/1.0",
    }
    assert (event["ip"], event["user_agent"]) == ("203.0.113.7", "parla-tests/1.0")


async def test_wrong_password_and_unknown_email_answer_the_same_401(client: httpx.AsyncClient) -> None:
    user = await register(client)
    ip = {"X-Forwarded-For": f"198.51.100.{uuid4().int % 250}"}
    wrong = await client.post("/auth/login", json={"email": user["email"], "password": "Wrong-pass1"}, headers=ip)
    unknown = await client.post("/auth/login", json={"email": new_email(), "password": PASSWORD}, headers=ip)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["detail"] == "the email or password is wrong"


async def test_failed_logins_throttle_the_account_with_retry_after(
    client: httpx.AsyncClient, settings: IdentitySettings
) -> None:
    user = await register(client)
    for attempt in range(settings.login_max_failures_per_account):
        response = await client.post(
            "/auth/login",
            json={"email": user["email"], "password": "Wrong-pass1"},
            headers={"X-Forwarded-For": f"192.0.2.{attempt + 1}"},
        )
        assert response.status_code == 401
    # Locked now: even the right password, from any address, is refused until the lockout ends.
    throttled = await client.post(
        "/auth/login", json={"email": user["email"], "password": PASSWORD}, headers={"X-Forwarded-For": "192.0.2.99"}
    )
    assert throttled.status_code == 429
    retry_after = int(throttled.headers["retry-after"])
    assert 0 < retry_after <= settings.login_lockout_seconds
    assert throttled.headers["content-type"].startswith("application/problem+json")
    # Another account is not affected.
    other = await register(client)
    await login(client, other["email"])


async def test_failed_logins_throttle_the_client_address(client: httpx.AsyncClient, settings: IdentitySettings) -> None:
    address = {"X-Forwarded-For": "203.0.113.200"}
    for _ in range(settings.login_max_failures_per_ip):
        response = await client.post(
            "/auth/login", json={"email": new_email(), "password": "Wrong-pass1"}, headers=address
        )
        assert response.status_code == 401
    user = await register(client)
    throttled = await client.post("/auth/login", json={"email": user["email"], "password": PASSWORD}, headers=address)
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    await login(client, user["email"])  # from another address it works


async def test_a_forged_forwarded_for_entry_does_not_escape_the_address_throttle(
    client: httpx.AsyncClient, settings: IdentitySettings, db: asyncpg.Connection
) -> None:
    """The client writes the leftmost X-Forwarded-For entries; the address counted is the one the gateway saw."""
    for attempt in range(settings.login_max_failures_per_ip):
        response = await client.post(
            "/auth/login",
            json={"email": new_email(), "password": "Wrong-pass1"},
            headers={"X-Forwarded-For": f"198.51.100.{attempt}, 203.0.113.201"},
        )
        assert response.status_code == 401
    user = await register(client)
    throttled = await client.post(
        "/auth/login",
        json={"email": user["email"], "password": PASSWORD},
        headers={"X-Forwarded-For": "192.0.2.250, 203.0.113.201"},
    )
    assert throttled.status_code == 429
    # The login event carries the same address, not the forged one.
    response = await client.post(
        "/auth/login",
        json={"email": user["email"], "password": PASSWORD},
        headers={"X-Forwarded-For": "192.0.2.251, 203.0.113.202"},
    )
    assert response.status_code == 200
    (logged_in,) = await events_of(db, "parla.identity.user.logged_in", user["id"])
    assert logged_in["data"]["ip"] == "203.0.113.202"


async def test_refresh_rotates_and_a_reused_token_revokes_the_family(client: httpx.AsyncClient) -> None:
    user = await register(client)
    first = await login(client, user["email"])
    second_response = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second_response.status_code == 200
    second = second_response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/users/me", headers=bearer(second["access_token"]))).status_code == 200

    reused = await client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert reused.json()["title"] == "Refresh token reused"
    # The whole family is revoked: the latest token no longer works either.
    latest = await client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert latest.status_code == 401
    # Another session of the same user is untouched.
    other = await login(client, user["email"])
    assert (await client.post("/auth/refresh", json={"refresh_token": other["refresh_token"]})).status_code == 200


async def test_unknown_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/refresh", json={"refresh_token": "nope"})
    assert response.status_code == 401


async def test_logout_revokes_the_session(client: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user = await register(client)
    pair = await login(client, user["email"])
    response = await client.post("/auth/logout", json={"refresh_token": pair["refresh_token"]})
    assert response.status_code == 204
    assert (await client.post("/auth/refresh", json={"refresh_token": pair["refresh_token"]})).status_code == 401
    assert len(await events_of(db, "parla.identity.user.logged_out", user["id"])) == 1
    assert (await client.post("/auth/logout", json={"refresh_token": "unknown"})).status_code == 204


async def test_password_reset_works_once_and_ends_every_session(
    client: httpx.AsyncClient, settings: IdentitySettings, db: asyncpg.Connection
) -> None:
    user = await register(client)
    session = await login(client, user["email"])
    unknown = await client.post("/auth/password-reset", json={"email": new_email()})
    assert unknown.status_code == 202
    known = await client.post("/auth/password-reset", json={"email": user["email"]})
    assert known.status_code == 202
    assert known.json() == unknown.json()
    token = code_from(await wait_for_mail(settings.data_path / "mail", user["email"], "Reset"))

    weak = await client.post("/auth/password-reset/confirm", json={"token": token, "new_password": "weak"})
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["key"] == "new_password"
    done = await client.post("/auth/password-reset/confirm", json={"token": token, "new_password": "Brand-new-pass2"})
    assert done.status_code == 204
    again = await client.post("/auth/password-reset/confirm", json={"token": token, "new_password": "Other-pass3"})
    assert again.status_code == 400

    old = await client.post("/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert old.status_code == 401
    await login(client, user["email"], "Brand-new-pass2")
    assert (await client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})).status_code == 401
    assert len(await events_of(db, "parla.identity.user.password_reset_requested", user["id"])) == 1
    assert len(await events_of(db, "parla.identity.user.password_reset", user["id"])) == 1


async def test_stored_hashes_use_the_configured_cost(
    client: httpx.AsyncClient, db: asyncpg.Connection, settings: IdentitySettings
) -> None:
    user, _ = await user_with_token(client)
    stored = await db.fetchval("SELECT password_hash FROM identity.users WHERE id = $1::uuid", user["id"])
    assert bcrypt_cost(stored) == settings.bcrypt_rounds


async def test_strings_the_database_cannot_store_are_problems_not_500s(client: httpx.AsyncClient) -> None:
    """A NUL character (PostgreSQL text cannot hold one) or a login email longer than any account's must be
    answered as a client error in problem+json, never reach the database and fail there."""
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        ("/auth/register", {"email": new_email(), "password": PASSWORD, "name": "Ana\x00"}, {}),
        ("/auth/login", {"email": "ana\x00@example.com", "password": PASSWORD}, {}),
        ("/auth/login", {"email": "a" * 400 + "@example.com", "password": PASSWORD}, {}),
        ("/auth/login", {"email": new_email(), "password": PASSWORD}, {"X-Forwarded-For": "f" * 400}),
        ("/auth/password-reset", {"email": "ana\x00@example.com"}, {}),
    ]
    for path, body, headers in requests:
        response = await client.post(path, json=body, headers=headers)
        assert 400 <= response.status_code < 500, (path, body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), (path, body)


async def test_the_reserved_placeholder_domain_cannot_be_registered(client: httpx.AsyncClient) -> None:
    """``@users.parla.invalid`` addresses belong to provider accounts without an email (TikTok); a password account
    there would take the address a provider login needs."""
    response = await client.post(
        "/auth/register",
        json={"email": f"tiktok-{uuid4().hex}@Users.Parla.Invalid", "password": PASSWORD, "name": "Squatter"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["key"] == "email"


async def test_a_bad_reset_code_is_refused_before_any_password_is_hashed(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bcrypt costs a quarter of a CPU second: an anonymous caller with a made-up code must not get one."""
    hashed: list[str] = []

    async def counting_hash(password: str, rounds: int) -> str:
        hashed.append(password)
        return await hash_password(password, rounds)

    monkeypatch.setattr(auth_controller, "hash_password", counting_hash)
    refused = await client.post(
        "/auth/password-reset/confirm", json={"token": "made-up-code", "new_password": "Brand-new-pass2"}
    )
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert hashed == []
