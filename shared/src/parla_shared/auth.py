"""Access tokens: verified locally against identity's public keys (JWKS), with guards for users and admins."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol
from uuid import UUID

import httpx
import jwt
import msgspec
import structlog
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from parla_shared.context import acting_user_id, system_path

ALLOWED_ALGORITHMS = ("EdDSA", "ES256")
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "jti"]
ADMIN_ROLE = "admin"
_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="parla"'}
_log = structlog.get_logger("parla.auth")


class Principal(msgspec.Struct, frozen=True):
    """The authenticated caller of a request."""

    user_id: UUID
    roles: tuple[str, ...]
    token_id: str
    access_token: str

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles


class KeySource(Protocol):
    async def signing_keys(self, *, refresh: bool = False) -> dict[str, jwt.PyJWK]:
        """The public keys by key id; ``refresh`` asks for a fresh copy (an unknown ``kid`` was seen)."""
        ...


def jwks_to_keys(jwks: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    keys = jwt.PyJWKSet.from_dict(jwks).keys
    return {key.key_id: key for key in keys if key.key_id}


class HttpJwksKeySource:
    """Identity's JWKS over HTTP, cached; refetched at most every ``min_refresh_seconds`` for unknown key ids."""

    def __init__(self, url: str, *, min_refresh_seconds: float = 10.0, timeout: float = 3.0) -> None:
        self._url = url
        self._min_refresh_seconds = min_refresh_seconds
        self._timeout = timeout
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def signing_keys(self, *, refresh: bool = False) -> dict[str, jwt.PyJWK]:
        stale = not self._keys or (refresh and time.monotonic() - self._fetched_at >= self._min_refresh_seconds)
        if stale:
            async with self._lock:
                if not self._keys or time.monotonic() - self._fetched_at >= self._min_refresh_seconds:
                    await self._fetch()
        return self._keys

    async def _fetch(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(self._url)
                response.raise_for_status()
            self._keys = jwks_to_keys(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
            _log.warning("jwks fetch failed", url=self._url, error=str(exc))
        finally:
            self._fetched_at = time.monotonic()


class TokenVerifier:
    """Verifies an access token's signature, algorithm, issuer, audience and lifetime."""

    def __init__(self, key_source: KeySource, *, issuer: str, audience: str, leeway_seconds: int = 5) -> None:
        self._key_source = key_source
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise _unauthorized("malformed token") from exc
        algorithm, key_id = header.get("alg"), header.get("kid")
        if algorithm not in ALLOWED_ALGORITHMS:
            raise _unauthorized("token algorithm not accepted")
        if not isinstance(key_id, str):
            raise _unauthorized("token has no key id")
        keys = await self._key_source.signing_keys()
        if key_id not in keys:
            keys = await self._key_source.signing_keys(refresh=True)
        key = keys.get(key_id)
        if key is None:
            raise _unauthorized("token signed by an unknown key")
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
            return Principal(
                user_id=UUID(claims["sub"]),
                roles=tuple(str(role) for role in claims.get("roles", ())),
                token_id=str(claims["jti"]),
                access_token=token,
            )
        except jwt.ExpiredSignatureError as exc:
            raise _unauthorized("token expired") from exc
        except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
            raise _unauthorized("invalid token") from exc


def _unauthorized(detail: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail=detail, headers=_BEARER_CHALLENGE)


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise _unauthorized("expected a Bearer token")
            return token.strip()
    return None


class AuthenticationMiddleware(ASGIMiddleware):
    """Authenticates a request that carries a token; anonymous requests pass with ``user = None``.

    Whether a route needs a user is the route's business (``requires_user``/``requires_admin``).
    """

    scopes = ("http", "websocket")  # type: ignore[assignment]

    def __init__(self, verifier: TokenVerifier) -> None:
        self._verifier = verifier

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        token = bearer_token(scope)
        principal = await self._verifier.verify(token) if token else None
        scope["user"] = principal
        reset = acting_user_id.set(principal.user_id if principal else None)
        # A route that runs a named system path declares it in its ``opt`` (``parla_shared.db.route_system_path``).
        route_handler = scope.get("route_handler")
        path = route_handler.opt.get("system_path") if route_handler is not None else None
        reset_path = system_path.set(path)
        try:
            await next_app(scope, receive, send)
        finally:
            system_path.reset(reset_path)
            acting_user_id.reset(reset)


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise _unauthorized("authentication required")
    return user


def requires_user(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    principal_of(connection)


def requires_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not principal_of(connection).is_admin:
        raise PermissionDeniedException(detail="administrator role required")


async def provide_principal(request: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """Dependency: the authenticated caller, or 401."""
    return principal_of(request)
