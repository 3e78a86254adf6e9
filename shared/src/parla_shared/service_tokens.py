"""A service's own credential for calling another service: a short-lived token identity signs for it.

The calling service authenticates to identity's ``POST /internal/service-tokens`` with its client id (its name) and
its client secret (``PARLA_SERVICE_CLIENT_SECRET``), naming the service it wants to call; the token is kept until
shortly before it expires, so calls on the hot path don't go to identity.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
import msgspec
import structlog

from parla_shared.problems import Problem

SERVICE_TOKEN_PATH = "/internal/service-tokens"  # noqa: S105 - a route, not a password
_log = structlog.get_logger("parla.service_tokens")


class ServiceTokenRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A client-credentials grant (RFC 6749 §4.4) for one audience, as JSON."""

    grant_type: str
    client_id: str
    client_secret: str
    audience: str


class ServiceToken(msgspec.Struct, frozen=True):
    access_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a password


@dataclass
class _Held:
    token: str
    renew_at: float


class ServiceTokens:
    """Service tokens per audience from identity, cached until ``renew_before_seconds`` before they expire."""

    def __init__(
        self,
        identity_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 5.0,
        renew_before_seconds: float = 30.0,
    ) -> None:
        self._url = f"{identity_url.rstrip('/')}{SERVICE_TOKEN_PATH}"
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = timeout
        self._renew_before = renew_before_seconds
        self._held: dict[str, _Held] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._client: httpx.AsyncClient | None = None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def token(self, audience: str) -> str:
        """A valid token for calling ``audience``; concurrent callers wait for one request to identity."""
        held = self._held.get(audience)
        if held is not None and time.monotonic() < held.renew_at:
            return held.token
        async with self._locks.setdefault(audience, asyncio.Lock()):
            held = self._held.get(audience)
            if held is None or time.monotonic() >= held.renew_at:
                held = await self._request(audience)
                self._held[audience] = held
            return held.token

    def forget(self, audience: str) -> None:
        """Drops the held token (the called service refused it): the next call asks identity for a new one."""
        self._held.pop(audience, None)

    async def _request(self, audience: str) -> _Held:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        body = ServiceTokenRequest("client_credentials", self._client_id, self._client_secret, audience)
        asked_at = time.monotonic()
        try:
            response = await self._client.post(self._url, content=msgspec.json.encode(body), headers=_JSON)
        except httpx.HTTPError as exc:
            _log.warning("identity unreachable for a service token", audience=audience, error=str(exc))
            raise Problem(503, "Identity unavailable", "the service could not authenticate; try again") from exc
        if response.status_code != 200:
            _log.error(
                "service token refused", audience=audience, status=response.status_code, body=response.text[:200]
            )
            raise Problem(503, "Service authentication failed", "the service could not authenticate; try again")
        granted = msgspec.json.decode(response.content, type=ServiceToken)
        # Renewed before it expires (half its lifetime at most), counted from when it was asked for.
        margin = min(self._renew_before, granted.expires_in / 2)
        return _Held(granted.access_token, asked_at + granted.expires_in - margin)


_JSON = {"Content-Type": "application/json"}
