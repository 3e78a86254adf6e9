"""OAuth login: Google (OpenID Connect, code + PKCE S256 + state + nonce, ID token checked against the
provider's JWKS) and TikTok (OAuth 2 code flow + PKCE, then its user-info endpoint).

State is kept server-side (``oauth_states``: the state's hash, the nonce and the sealed PKCE verifier) and is
single use with an expiry. Endpoints come from settings, so tests run the whole flow against a local provider.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import msgspec
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from parla_identity.crypto import opaque_token, token_hash
from parla_identity.domain.accounts import PLACEHOLDER_EMAIL_DOMAIN
from parla_identity.models import PROVIDERS, OAuthState
from parla_identity.use_cases.context import Identity
from parla_shared.auth import jwks_to_keys
from parla_shared.problems import Problem

_DISCOVERY_TTL_SECONDS = 3600.0
_ID_TOKEN_ALGORITHMS = ("RS256", "ES256", "EdDSA")


class ProviderUser(msgspec.Struct, frozen=True):
    provider: str
    provider_user_id: str
    email: str | None
    email_verified: bool
    name: str
    avatar_url: str | None
    access_token: str | None
    refresh_token: str | None
    expires_in: int | None


def provider_token_context(provider_key: str, column: str) -> str:
    """Associated data of a sealed provider token: its column and the link (``provider:provider_user_id``)."""
    return f"identity.oauth_providers.{column}:{provider_key}"


def _state_context(state_hash: str) -> str:
    return f"identity.oauth_states.code_verifier_encrypted:{state_hash}"


def pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _bad_gateway(provider: str, what: str) -> Problem:
    return Problem(502, "OAuth provider error", f"{provider}: {what}")


class OAuthClients:
    def __init__(self, identity: Identity) -> None:
        self._identity = identity
        self._settings = identity.settings
        self._discovery: tuple[float, dict[str, Any]] | None = None

    def redirect_uri(self, provider: str) -> str:
        return f"{self._settings.redirect_uri_base}/{provider}/callback"

    def require_configured(self, provider: str) -> None:
        if provider not in PROVIDERS:
            raise Problem(404, "Unknown OAuth provider", f"provider must be one of {', '.join(PROVIDERS)}")
        configured = (
            bool(self._settings.oauth_google_client_id)
            if provider == "google"
            else bool(self._settings.oauth_tiktok_client_key)
        )
        if not configured:
            raise Problem(
                503, "OAuth provider not configured", f"login with {provider} is not configured on this server"
            )

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self._settings.oauth_http_timeout_seconds)

    async def _google_discovery(self) -> dict[str, Any]:
        if self._discovery and time.monotonic() - self._discovery[0] < _DISCOVERY_TTL_SECONDS:
            return self._discovery[1]
        url = f"{self._settings.oauth_google_issuer.rstrip('/')}/.well-known/openid-configuration"
        try:
            async with self._client() as client:
                response = await client.get(url)
                response.raise_for_status()
                document: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise _bad_gateway("google", f"discovery failed ({exc})") from exc
        if document.get("issuer") != self._settings.oauth_google_issuer:
            raise _bad_gateway("google", "discovery document names another issuer")
        self._discovery = (time.monotonic(), document)
        return document

    async def authorization_url(self, session: AsyncSession, provider: str) -> tuple[str, str]:
        """Where to send the browser, and the state (for the cookie that binds the login to this browser)."""
        self.require_configured(provider)
        state, verifier, nonce = opaque_token(), secrets.token_urlsafe(48), opaque_token()
        state_hash = token_hash(state)
        session.add(
            OAuthState(
                state_hash=state_hash,
                provider=provider,
                nonce=nonce if provider == "google" else None,
                code_verifier_encrypted=self._identity.box.seal(verifier, context=_state_context(state_hash)),
                expires_at=datetime.now(UTC) + timedelta(seconds=self._settings.oauth_state_ttl_seconds),
            )
        )
        await session.flush()
        common = {
            "response_type": "code",
            "redirect_uri": self.redirect_uri(provider),
            "state": state,
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if provider == "google":
            discovery = await self._google_discovery()
            query = {
                **common,
                "client_id": self._settings.oauth_google_client_id,
                "scope": "openid email profile",
                "nonce": nonce,
            }
            return f"{discovery['authorization_endpoint']}?{urlencode(query)}", state
        query = {**common, "client_key": self._settings.oauth_tiktok_client_key, "scope": "user.info.basic"}
        return f"{self._settings.oauth_tiktok_authorize_url}?{urlencode(query)}", state

    async def complete(self, session: AsyncSession, provider: str, code: str, state: str) -> ProviderUser:
        self.require_configured(provider)
        state_hash = token_hash(state)
        row = await session.scalar(
            select(OAuthState).where(OAuthState.state_hash == state_hash, OAuthState.provider == provider)
        )
        if row is None or row.expires_at <= datetime.now(UTC):
            raise Problem(400, "Invalid OAuth state", "the login attempt is unknown, expired or already completed")
        await session.execute(delete(OAuthState).where(OAuthState.state_hash == state_hash))
        verifier = self._identity.box.open(row.code_verifier_encrypted, context=_state_context(state_hash))
        if provider == "google":
            return await self._complete_google(code, verifier, row.nonce)
        return await self._complete_tiktok(code, verifier)

    async def _post_token(self, provider: str, url: str, form: dict[str, str]) -> dict[str, Any]:
        try:
            async with self._client() as client:
                response = await client.post(url, data=form, headers={"Accept": "application/json"})
            body: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise _bad_gateway(provider, f"token request failed ({exc})") from exc
        if response.status_code != 200 or "access_token" not in body:
            raise _bad_gateway(provider, f"token request refused ({body.get('error', response.status_code)})")
        return body

    async def _complete_google(self, code: str, verifier: str, nonce: str | None) -> ProviderUser:
        discovery = await self._google_discovery()
        settings = self._settings
        tokens = await self._post_token(
            "google",
            discovery["token_endpoint"],
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri("google"),
                "client_id": settings.oauth_google_client_id,
                "client_secret": settings.oauth_google_client_secret,
                "code_verifier": verifier,
            },
        )
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise _bad_gateway("google", "no ID token in the token response")
        claims = await self._verify_id_token(discovery, id_token)
        if not nonce or not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise Problem(401, "Invalid ID token", "the ID token's nonce does not match this login")
        email = claims.get("email")
        return ProviderUser(
            provider="google",
            provider_user_id=str(claims["sub"]),
            email=email if isinstance(email, str) else None,
            email_verified=claims.get("email_verified") in (True, "true"),
            name=str(claims.get("name") or (email.split("@")[0] if isinstance(email, str) else "Parla learner")),
            avatar_url=claims.get("picture") if isinstance(claims.get("picture"), str) else None,
            access_token=tokens.get("access_token"),
            refresh_token=tokens.get("refresh_token"),
            expires_in=_int_or_none(tokens.get("expires_in")),
        )

    async def _verify_id_token(self, discovery: dict[str, Any], id_token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(id_token)
            async with self._client() as client:
                response = await client.get(discovery["jwks_uri"])
                response.raise_for_status()
            keys = jwks_to_keys(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            raise _bad_gateway("google", f"cannot check the ID token ({exc})") from exc
        algorithm = header.get("alg")
        key = keys.get(str(header.get("kid")))
        if algorithm not in _ID_TOKEN_ALGORITHMS or key is None:
            raise Problem(401, "Invalid ID token", "the ID token is not signed by a key of the provider")
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=key.key,
                algorithms=[algorithm],
                audience=self._settings.oauth_google_client_id,
                issuer=discovery["issuer"],
                leeway=30,
                options={"require": ["iss", "aud", "sub", "exp", "iat"]},
            )
        except jwt.PyJWTError as exc:
            raise Problem(401, "Invalid ID token", f"the ID token was refused: {exc}") from exc
        return claims

    async def _complete_tiktok(self, code: str, verifier: str) -> ProviderUser:
        settings = self._settings
        tokens = await self._post_token(
            "tiktok",
            settings.oauth_tiktok_token_url,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri("tiktok"),
                "client_key": settings.oauth_tiktok_client_key,
                "client_secret": settings.oauth_tiktok_client_secret,
                "code_verifier": verifier,
            },
        )
        try:
            async with self._client() as client:
                response = await client.get(
                    settings.oauth_tiktok_userinfo_url,
                    params={"fields": "open_id,union_id,avatar_url,display_name"},
                    headers={"Authorization": f"Bearer {tokens['access_token']}"},
                )
                response.raise_for_status()
            user = response.json()["data"]["user"]
            open_id = str(user.get("open_id") or tokens.get("open_id") or "")
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise _bad_gateway("tiktok", f"user-info request failed ({exc})") from exc
        if not open_id:
            raise _bad_gateway("tiktok", "the user info has no open_id")
        return ProviderUser(
            provider="tiktok",
            provider_user_id=open_id,
            email=None,  # TikTok does not share an email address
            email_verified=False,
            name=str(user.get("display_name") or "TikTok learner"),
            avatar_url=user.get("avatar_url") if isinstance(user.get("avatar_url"), str) else None,
            access_token=tokens.get("access_token"),
            refresh_token=tokens.get("refresh_token"),
            expires_in=_int_or_none(tokens.get("expires_in")),
        )


def _int_or_none(value: object) -> int | None:
    if isinstance(value, int | str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def placeholder_email(provider: str, provider_user_id: str) -> str:
    """For a provider that shares no email (TikTok): a reserved ``.invalid`` address (RFC 2606), never mailed."""
    local = re.sub(r"[^A-Za-z0-9._-]", "-", provider_user_id)[:150].strip(".-") or "user"
    return f"{provider}-{local}{PLACEHOLDER_EMAIL_DOMAIN}"
