"""Google (OIDC) and TikTok login over real HTTP against a local provider the test starts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import asyncpg
import httpx
import pytest
from conftest import PASSWORD, code_from, events_of, login, new_email, register, wait_for_mail
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from litestar.testing import AsyncTestClient

from parla_identity.api.oauth import STATE_COOKIE, state_cookie
from parla_identity.app import create_app
from parla_identity.models import OAuthProvider
from parla_identity.settings import IdentitySettings
from parla_identity.use_cases.context import Identity
from parla_identity.use_cases.oauth_login import open_provider_token
from parla_testing import BehindGateway, bearer, wait_until_ready
from parla_testing.sign_in_provider import (
    GOOGLE_CLIENT_ID,
    GOOGLE_CLIENT_SECRET,
    TIKTOK_CLIENT_KEY,
    TIKTOK_CLIENT_SECRET,
    SignInProvider,
)


@pytest.fixture(scope="module")
def provider() -> Iterator[SignInProvider]:
    with SignInProvider() as fake:
        yield fake


@pytest.fixture(scope="module")
def oauth_settings(settings: IdentitySettings, provider: SignInProvider) -> IdentitySettings:
    return IdentitySettings.from_env(
        {},
        **{
            **{field: getattr(settings, field) for field in settings.__struct_fields__},
            "oauth_google_issuer": provider.url,
            "oauth_google_client_id": GOOGLE_CLIENT_ID,
            "oauth_google_client_secret": GOOGLE_CLIENT_SECRET,
            "oauth_tiktok_authorize_url": f"{provider.url}/tiktok/authorize",
            "oauth_tiktok_token_url": f"{provider.url}/tiktok/token",
            "oauth_tiktok_userinfo_url": f"{provider.url}/tiktok/userinfo",
            "oauth_tiktok_client_key": TIKTOK_CLIENT_KEY,
            "oauth_tiktok_client_secret": TIKTOK_CLIENT_SECRET,
        },
    )


@pytest.fixture(scope="module")
async def oauth_client(oauth_settings: IdentitySettings) -> AsyncIterator[httpx.AsyncClient]:
    async with AsyncTestClient(app=BehindGateway(create_app(oauth_settings))) as test_client:
        await wait_until_ready(test_client)
        yield test_client


async def authorize(client: httpx.AsyncClient, provider: str) -> dict[str, list[str]]:
    response = await client.get(f"/auth/oauth/{provider}/authorize", follow_redirects=False)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    query = parse_qs(location.query)
    assert query["redirect_uri"] == [f"http://localhost:8080/api/identity/auth/oauth/{provider}/callback"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"][0]
    # The browser keeps the state in a cookie for the callback (scoped to the public OAuth path, which the test
    # client's own paths lack: the jar gets it for every path, as the browser would send it to the callback).
    cookie = response.cookies.get(STATE_COOKIE)
    assert cookie == query["state"][0]
    client.cookies.set(STATE_COOKIE, cookie)
    return query


async def google_login(client: httpx.AsyncClient, provider: SignInProvider, **user: Any) -> Any:
    query = await authorize(client, "google")
    code = provider.grant(query, **user)
    return await client.get("/auth/oauth/google/callback", params={"code": code, "state": query["state"][0]})


async def test_google_login_creates_an_account_with_the_verified_email(
    oauth_client: httpx.AsyncClient, provider: SignInProvider, settings: IdentitySettings, db: asyncpg.Connection
) -> None:
    query = await authorize(oauth_client, "google")
    assert query["client_id"] == [GOOGLE_CLIENT_ID]
    assert "openid" in query["scope"][0].split()
    assert query["nonce"][0]
    address = new_email("google")
    code = provider.grant(query, sub=f"g-{uuid4().hex}", email=address, email_verified=True, name="Gala")
    response = await oauth_client.get("/auth/oauth/google/callback", params={"code": code, "state": query["state"][0]})
    assert response.status_code == 200, response.text
    pair = response.json()
    assert pair["token_type"] == "Bearer"
    me = (await oauth_client.get("/users/me", headers=bearer(pair["access_token"]))).json()
    assert (me["email"], me["name"], me["is_email_verified"]) == (address, "Gala", True)
    [registered] = await events_of(db, "parla.identity.user.registered", me["id"])
    assert registered["data"]["method"] == "google"
    [logged_in] = await events_of(db, "parla.identity.user.logged_in", me["id"])
    assert logged_in["data"]["method"] == "google"

    # The provider's tokens are stored sealed (AES-GCM), and open again with the service's key.
    row = await db.fetchrow(
        "SELECT provider_user_id, access_token, refresh_token FROM identity.oauth_providers WHERE user_id = $1::uuid",
        me["id"],
    )
    assert row is not None
    assert row["access_token"].startswith("v1.dev.")
    assert "at-" not in row["access_token"]
    assert "rt-" not in row["refresh_token"]
    link = OAuthProvider(provider="google", provider_user_id=row["provider_user_id"], access_token=row["access_token"])
    opened = open_provider_token(Identity.from_settings(settings), link, "access_token")
    assert opened is not None
    assert opened.startswith("at-")


async def test_google_login_again_finds_the_same_account(
    oauth_client: httpx.AsyncClient, provider: SignInProvider
) -> None:
    subject, address = f"g-{uuid4().hex}", new_email("google")
    first = await google_login(oauth_client, provider, sub=subject, email=address, email_verified=True, name="G")
    second = await google_login(oauth_client, provider, sub=subject, email=address, email_verified=True, name="G")
    ids = [
        (await oauth_client.get("/users/me", headers=bearer(r.json()["access_token"]))).json()["id"]
        for r in (first, second)
    ]
    assert ids[0] == ids[1]


async def test_google_links_an_existing_account_only_through_a_verified_email(
    oauth_client: httpx.AsyncClient, provider: SignInProvider
) -> None:
    existing = await register(oauth_client)
    refused = await google_login(
        oauth_client, provider, sub=f"g-{uuid4().hex}", email=existing["email"], email_verified=False, name="X"
    )
    assert refused.status_code == 409
    assert refused.json()["title"] == "Account exists"
    linked = await google_login(
        oauth_client, provider, sub=f"g-{uuid4().hex}", email=existing["email"].upper(), email_verified=True, name="X"
    )
    assert linked.status_code == 200
    me = (await oauth_client.get("/users/me", headers=bearer(linked.json()["access_token"]))).json()
    assert me["id"] == existing["id"]
    assert me["is_email_verified"] is True


async def test_linking_an_unverified_account_ends_the_password_nobody_proved_the_email_for(
    oauth_client: httpx.AsyncClient, provider: SignInProvider, db: asyncpg.Connection
) -> None:
    """Account pre-hijacking: someone registers the owner's address with their own password and never verifies
    it; when the owner later logs in with a provider that verified the address, that password and its sessions
    must stop opening the account."""
    squatter = await register(oauth_client)
    squatter_session = await login(oauth_client, squatter["email"])
    linked = await google_login(
        oauth_client, provider, sub=f"g-{uuid4().hex}", email=squatter["email"], email_verified=True, name="Owner"
    )
    assert linked.status_code == 200, linked.text
    me = (await oauth_client.get("/users/me", headers=bearer(linked.json()["access_token"]))).json()
    assert (me["id"], me["is_email_verified"]) == (squatter["id"], True)
    refused = await oauth_client.post(
        "/auth/login",
        json={"email": squatter["email"], "password": PASSWORD},
        headers={"X-Forwarded-For": f"198.51.100.{uuid4().int % 250}"},
    )
    assert refused.status_code == 401
    stale = await oauth_client.post("/auth/refresh", json={"refresh_token": squatter_session["refresh_token"]})
    assert stale.status_code == 401
    assert len(await events_of(db, "parla.identity.user.email_verified", me["id"])) == 1


async def test_linking_a_verified_account_keeps_its_password(
    oauth_client: httpx.AsyncClient, provider: SignInProvider, settings: IdentitySettings
) -> None:
    owner = await register(oauth_client)
    token = code_from(await wait_for_mail(settings.data_path / "mail", owner["email"], "Confirm"))
    assert (await oauth_client.post("/auth/verify-email", json={"token": token})).status_code == 200
    session = await login(oauth_client, owner["email"])
    linked = await google_login(
        oauth_client, provider, sub=f"g-{uuid4().hex}", email=owner["email"], email_verified=True, name="Owner"
    )
    assert linked.status_code == 200, linked.text
    await login(oauth_client, owner["email"])
    kept = await oauth_client.post("/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert kept.status_code == 200


async def test_google_id_token_must_carry_the_nonce_and_the_providers_signature(
    oauth_client: httpx.AsyncClient, provider: SignInProvider
) -> None:
    wrong_nonce = await google_login(
        oauth_client, provider, sub="g-x", email=new_email(), email_verified=True, claims_override={"nonce": "other"}
    )
    assert wrong_nonce.status_code == 401
    assert "nonce" in wrong_nonce.json()["detail"]
    forged = await google_login(
        oauth_client,
        provider,
        sub="g-y",
        email=new_email(),
        email_verified=True,
        sign_with=generate_private_key(public_exponent=65537, key_size=2048),
    )
    assert forged.status_code == 401
    other_audience = await google_login(
        oauth_client, provider, sub="g-z", email=new_email(), email_verified=True, aud="someone-else"
    )
    assert other_audience.status_code == 401


async def test_state_is_single_use_and_must_be_known(oauth_client: httpx.AsyncClient, provider: SignInProvider) -> None:
    query = await authorize(oauth_client, "google")
    code = provider.grant(query, sub=f"g-{uuid4().hex}", email=new_email(), email_verified=True, name="S")
    state = query["state"][0]
    assert (
        await oauth_client.get("/auth/oauth/google/callback", params={"code": code, "state": state})
    ).status_code == 200
    replay = await oauth_client.get("/auth/oauth/google/callback", params={"code": code, "state": state})
    assert replay.status_code == 400
    unknown = await oauth_client.get("/auth/oauth/google/callback", params={"code": "c", "state": "forged"})
    assert unknown.status_code == 400
    # A state issued for TikTok does not complete a Google login.
    tiktok_query = await authorize(oauth_client, "tiktok")
    crossed = await oauth_client.get(
        "/auth/oauth/google/callback", params={"code": "c", "state": tiktok_query["state"][0]}
    )
    assert crossed.status_code == 400
    denied = await oauth_client.get("/auth/oauth/google/callback", params={"error": "access_denied"})
    assert denied.status_code == 400


async def test_authorize_sets_an_httponly_samesite_cookie_for_the_oauth_routes(oauth_client: httpx.AsyncClient) -> None:
    response = await oauth_client.get("/auth/oauth/google/authorize", follow_redirects=False)
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith(f"{STATE_COOKIE}=")
    attributes = {part.strip().split("=")[0].lower(): part for part in set_cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age"} <= attributes.keys()
    assert attributes["samesite"].strip().lower() == "samesite=lax"
    assert attributes["path"].strip() == "Path=/api/identity/auth/oauth"
    assert "secure" not in attributes  # the test's public URL is http://localhost:8080


def test_the_state_cookie_is_secure_when_the_public_url_is_https(oauth_settings: IdentitySettings) -> None:
    https = IdentitySettings.from_env(
        {},
        **{
            **{field: getattr(oauth_settings, field) for field in oauth_settings.__struct_fields__},
            "public_url": "https://parla.example.com",
        },
    )
    assert "Secure" in state_cookie(https, "state", 600).to_header()
    assert "Secure" not in state_cookie(oauth_settings, "state", 600).to_header()


async def test_the_callback_only_completes_in_the_browser_that_started_the_login(
    oauth_client: httpx.AsyncClient, provider: SignInProvider
) -> None:
    """Login CSRF: an attacker starts a login with their own provider account and sends the victim the callback
    link (valid code and state). Without the state cookie of the browser that started it, the callback is refused
    and the attempt stays usable by its own browser."""
    query = await authorize(oauth_client, "google")
    state = query["state"][0]
    code = provider.grant(query, sub=f"g-{uuid4().hex}", email=new_email(), email_verified=True, name="Mallory")
    other_browser = (await authorize(oauth_client, "google"))["state"][0]
    oauth_client.cookies.clear()
    for cookie in (None, other_browser):
        headers = {"Cookie": f"{STATE_COOKIE}={cookie}"} if cookie else {}
        refused = await oauth_client.get(
            "/auth/oauth/google/callback", params={"code": code, "state": state}, headers=headers
        )
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["title"] == "OAuth login from another browser"
    completed = await oauth_client.get(
        "/auth/oauth/google/callback",
        params={"code": code, "state": state},
        headers={"Cookie": f"{STATE_COOKIE}={state}"},
    )
    assert completed.status_code == 200, completed.text
    assert "access_token" in completed.json()


async def test_tiktok_login_uses_the_user_info_endpoint(
    oauth_client: httpx.AsyncClient, provider: SignInProvider
) -> None:
    query = await authorize(oauth_client, "tiktok")
    assert query["client_key"] == [TIKTOK_CLIENT_KEY]
    open_id = f"tt-{uuid4().hex}"
    user = {"open_id": open_id, "display_name": "Tika", "avatar_url": "https://cdn.example/t.png"}
    code = provider.grant(query, **user)
    response = await oauth_client.get("/auth/oauth/tiktok/callback", params={"code": code, "state": query["state"][0]})
    assert response.status_code == 200, response.text
    me = (await oauth_client.get("/users/me", headers=bearer(response.json()["access_token"]))).json()
    assert (me["name"], me["avatar_url"], me["is_email_verified"]) == ("Tika", "https://cdn.example/t.png", False)
    assert me["email"].endswith("@users.parla.invalid")
    query = await authorize(oauth_client, "tiktok")
    again = await oauth_client.get(
        "/auth/oauth/tiktok/callback", params={"code": provider.grant(query, **user), "state": query["state"][0]}
    )
    assert (await oauth_client.get("/users/me", headers=bearer(again.json()["access_token"]))).json()["id"] == me["id"]


async def test_unconfigured_and_unknown_providers_are_clear_problems(client: httpx.AsyncClient) -> None:
    unconfigured = await client.get("/auth/oauth/google/authorize", follow_redirects=False)
    assert unconfigured.status_code == 503
    assert unconfigured.headers["content-type"].startswith("application/problem+json")
    assert "not configured" in unconfigured.json()["detail"]
    assert (await client.get("/auth/oauth/tiktok/callback?code=a&state=b")).status_code == 503
    assert (await client.get("/auth/oauth/facebook/authorize", follow_redirects=False)).status_code == 404
