"""Abuse limits on registration, password-reset requests and OAuth starts: 429 problem+json with Retry-After,
counted per client address and per email address in identity.rate_limits (shared by every replica)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import httpx
import msgspec
import pytest
from conftest import PASSWORD, new_email
from litestar.testing import AsyncTestClient

from parla_identity.app import create_app
from parla_identity.settings import IdentitySettings
from parla_shared.settings import SettingsError
from parla_testing import BehindGateway, wait_until_ready


@pytest.fixture(scope="module")
def limited_settings(settings: IdentitySettings) -> IdentitySettings:
    return msgspec.structs.replace(
        settings,
        rate_limit_register_per_ip="3/3600",
        rate_limit_register_per_email="2/3600",
        rate_limit_password_reset_per_ip="3/3600",
        rate_limit_password_reset_per_email="2/3600",
        rate_limit_oauth_authorize_per_ip="2/60",
    )


@pytest.fixture(scope="module")
async def limited(limited_settings: IdentitySettings) -> AsyncIterator[httpx.AsyncClient]:
    async with AsyncTestClient(app=BehindGateway(create_app(limited_settings))) as test_client:
        await wait_until_ready(test_client)
        yield test_client


def _address() -> dict[str, str]:
    return {"X-Forwarded-For": f"2001:db8::{uuid4().hex[:4]}"}


def _assert_too_many(response: httpx.Response, window: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert 0 < int(response.headers["retry-after"]) <= window
    assert response.json()["status"] == 429


async def test_registrations_are_limited_per_client_address(limited: httpx.AsyncClient) -> None:
    address = _address()
    for _ in range(3):
        body = {"email": new_email(), "password": PASSWORD, "name": "Ana"}
        assert (await limited.post("/auth/register", json=body, headers=address)).status_code == 201
    body = {"email": new_email(), "password": PASSWORD, "name": "Ana"}
    _assert_too_many(await limited.post("/auth/register", json=body, headers=address), 3600)
    # The same registration from another address goes through: the limit is the address's, not the service's.
    assert (await limited.post("/auth/register", json=body, headers=_address())).status_code == 201


async def test_registrations_are_limited_per_email_address(limited: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    email = new_email()
    body = {"email": email, "password": PASSWORD, "name": "Ana"}
    assert (await limited.post("/auth/register", json=body, headers=_address())).status_code == 201
    assert (await limited.post("/auth/register", json=body, headers=_address())).status_code == 409
    # A third try from yet another address: no more verification mails to this address for now.
    _assert_too_many(await limited.post("/auth/register", json=body, headers=_address()), 3600)
    key = f"register-email:{email.lower()}"
    assert await db.fetchval("SELECT hits FROM identity.rate_limits WHERE key = $1", key) == 3


async def test_password_reset_requests_are_limited_per_email_whether_or_not_it_exists(
    limited: httpx.AsyncClient,
) -> None:
    for email in (new_email(), new_email("nobody")):
        for _ in range(2):
            response = await limited.post("/auth/password-reset", json={"email": email}, headers=_address())
            assert response.status_code == 202
        _assert_too_many(await limited.post("/auth/password-reset", json={"email": email}, headers=_address()), 3600)


async def test_password_reset_requests_are_limited_per_client_address(limited: httpx.AsyncClient) -> None:
    address = _address()
    for _ in range(3):
        response = await limited.post("/auth/password-reset", json={"email": new_email()}, headers=address)
        assert response.status_code == 202
    _assert_too_many(await limited.post("/auth/password-reset", json={"email": new_email()}, headers=address), 3600)


async def test_oauth_authorize_is_limited_per_client_address(limited: httpx.AsyncClient) -> None:
    address = _address()
    for _ in range(2):
        response = await limited.get("/auth/oauth/google/authorize", headers=address, follow_redirects=False)
        assert response.status_code != 429  # google is not configured here: 503, but counted
    _assert_too_many(await limited.get("/auth/oauth/google/authorize", headers=address, follow_redirects=False), 60)


def test_the_default_limits_let_a_thousand_learners_register_from_one_address() -> None:
    defaults = IdentitySettings.from_env(
        {"PARLA_DATABASE_URL": "postgresql://localhost/parla", "PARLA_ENVIRONMENT": "test"}
    )
    assert defaults.rate_limit("register_per_ip").hits >= 1000


def test_a_malformed_limit_stops_start_up_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="PARLA_RATE_LIMIT_REGISTER_PER_IP"):
        IdentitySettings.from_env(
            {
                "PARLA_DATABASE_URL": "postgresql://localhost/parla",
                "PARLA_ENVIRONMENT": "test",
                "PARLA_RATE_LIMIT_REGISTER_PER_IP": "lots",
            }
        )
