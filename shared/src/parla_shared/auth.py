"""Tokens verified locally against identity's public keys (JWKS): learners' access tokens (``typ: at+jwt``, audience
``PARLA_JWT_AUDIENCE``) and services' tokens (``typ: service+jwt``, audience the called service), with guards for
users, admins and calling services."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Container, Coroutine
from typing import Any, Protocol
from uuid import UUID

import httpx
import jwt
import msgspec
import structlog
from cachetools import LRUCache
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from parla_shared.context import acting_user_id, system_path

ALLOWED_ALGORITHMS = ("EdDSA", "ES256")
# RFC 8725 §3.11 / RFC 9068: the JOSE ``typ`` header tells an access token from any other JWT the same keys sign.
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a JOSE type, not a password
# What identity signs for one service to call another (a client-credentials grant); never valid as a user's token.
SERVICE_TOKEN_TYPE = "service+jwt"  # noqa: S105 - a JOSE type, not a password
REQUIRED_CLAIMS = ["iss", "aud", "sub", "exp", "iat", "jti"]
ADMIN_ROLE = "admin"
_BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="parla"'}
_log = structlog.get_logger("parla.auth")


class Principal(msgspec.Struct, frozen=True):
    """The authenticated caller of a request."""

    user_id: UUID
    roles: tuple[str, ...]
    token_id: str

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles


class ServicePrincipal(msgspec.Struct, frozen=True):
    """Another Parla service calling, authenticated by a service token identity signed for this service."""

    service: str
    token_id: str


def service_audience(jwt_audience: str, service: str) -> str:
    """The ``aud`` of service tokens for calling ``service`` (e.g. ``parla-curriculum``)."""
    return f"{jwt_audience}-{service}"


class AccountStanding(Protocol):
    """What identity says about an account now (not when its token was signed)."""

    async def roles_of(self, user_id: UUID) -> tuple[str, ...] | None:
        """The account's roles now; None when the account no longer exists."""
        ...

    async def deleted_accounts(self) -> set[UUID]:
        """Accounts deleted recently enough that their access tokens may still be unexpired."""
        ...


class KeySource(Protocol):
    async def signing_keys(self, *, refresh: bool = False) -> dict[str, jwt.PyJWK]:
        """The public keys by key id; ``refresh`` asks for a fresh copy (an unknown ``kid`` was seen)."""
        ...


def jwks_to_keys(jwks: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    keys = jwt.PyJWKSet.from_dict(jwks).keys
    return {key.key_id: key for key in keys if key.key_id}


class HttpJwksKeySource:
    """Identity's JWKS over HTTP, cached; refetched at most every ``min_refresh_seconds`` for unknown key ids, and
    every ``refresh_seconds`` by ``keep_fresh`` so a key identity stopped publishing stops verifying here too."""

    def __init__(
        self, url: str, *, min_refresh_seconds: float = 10.0, refresh_seconds: float = 300.0, timeout: float = 3.0
    ) -> None:
        self._url = url
        self._min_refresh_seconds = min_refresh_seconds
        self._refresh_seconds = refresh_seconds
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

    async def keep_fresh(self) -> None:
        """Background task: refetch the JWKS on a schedule. A failed fetch keeps the last good keys (identity being
        briefly unreachable must not log everybody out) and is retried on the next round."""
        while True:
            await asyncio.sleep(self._refresh_seconds)
            async with self._lock:
                await self._fetch()

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


class _Verified(msgspec.Struct, frozen=True):
    """A token that passed every check: who it names, until when, and the key that signed it."""

    principal: Principal | ServicePrincipal
    expires_at: float
    key_id: str
    key: jwt.PyJWK


class TokenVerifier:
    """Verifies a token's type, signature, algorithm, issuer, audience and lifetime.

    An access token (``at+jwt``) must name the platform's audience; a service token (``service+jwt``) must name this
    service (``service_audience``), so a token progress got for curriculum opens nothing else.

    A client sends the same token with every request until it expires, so a verified token is remembered (the
    ``cache_size`` most recent): the signature is checked once per token and process, and a remembered token is
    only checked for its lifetime and for its key still being published (a withdrawn key stops it at once, like
    an unremembered one). The signature check was about 6 % of progress' CPU per answer (docs/performance.md).
    """

    def __init__(
        self,
        key_source: KeySource,
        *,
        issuer: str,
        audience: str,
        service_audience: str | None = None,
        leeway_seconds: int = 5,
        cache_size: int = 10_000,
    ) -> None:
        self._key_source = key_source
        self._issuer = issuer
        self._audience = audience
        self._service_audience = service_audience
        self._leeway = leeway_seconds
        self._verified: LRUCache[str, _Verified] = LRUCache(maxsize=cache_size)

    async def verify(self, token: str) -> Principal | ServicePrincipal:
        remembered = self._verified.get(token)
        if remembered is not None:
            if time.time() < remembered.expires_at + self._leeway and (
                (await self._key_source.signing_keys()).get(remembered.key_id) is remembered.key
            ):
                return remembered.principal
            del self._verified[token]  # checked again in full below: expired or withdrawn, it fails as such
        verified = await self._verify(token)
        self._verified[token] = verified
        return verified.principal

    async def _verify(self, token: str) -> _Verified:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise _unauthorized("malformed token") from exc
        if is_token_type(header, SERVICE_TOKEN_TYPE):
            if self._service_audience is None:
                raise _unauthorized("service tokens are not accepted here")
            claims, key_id, key = await self._claims(
                token, header, self._service_audience, [*REQUIRED_CLAIMS, "client_id"]
            )
            principal: Principal | ServicePrincipal = ServicePrincipal(
                service=str(claims["client_id"]), token_id=str(claims["jti"])
            )
        else:
            if not is_token_type(header, ACCESS_TOKEN_TYPE):
                raise _unauthorized("not an access token (typ must be at+jwt)")
            claims, key_id, key = await self._claims(token, header, self._audience, REQUIRED_CLAIMS)
            try:
                principal = Principal(
                    user_id=UUID(claims["sub"]),
                    roles=tuple(str(role) for role in claims.get("roles", ())),
                    token_id=str(claims["jti"]),
                )
            except (ValueError, TypeError) as exc:
                raise _unauthorized("invalid token") from exc
        return _Verified(principal=principal, expires_at=float(claims["exp"]), key_id=key_id, key=key)

    async def _claims(
        self, token: str, header: dict[str, Any], audience: str, required: list[str]
    ) -> tuple[dict[str, Any], str, jwt.PyJWK]:
        """The token's claims, the id of the key that signed it and that key."""
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
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[algorithm],
                audience=audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": required},
            )
        except jwt.ExpiredSignatureError as exc:
            raise _unauthorized("token expired") from exc
        except (jwt.InvalidTokenError, ValueError, TypeError) as exc:
            raise _unauthorized("invalid token") from exc
        return claims, key_id, key


def is_token_type(header: dict[str, Any], expected: str) -> bool:
    """Whether the JOSE header's ``typ`` is ``expected`` (compared case-insensitively, ``application/`` optional)."""
    typ = header.get("typ")
    if not isinstance(typ, str):
        return False
    typ = typ.lower()
    return typ.removeprefix("application/") == expected


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

    def __init__(self, verifier: TokenVerifier, deleted_accounts: Container[UUID] = frozenset()) -> None:
        self._verifier = verifier
        self._deleted_accounts = deleted_accounts

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        token = bearer_token(scope)
        principal = await self._verifier.verify(token) if token else None
        # A set lookup: the hot path pays no database or HTTP round trip for it.
        if isinstance(principal, Principal) and principal.user_id in self._deleted_accounts:
            raise _unauthorized("the account of this token no longer exists")
        scope["user"] = principal
        if isinstance(principal, ServicePrincipal):
            # Named in this request's log lines (the access log included) as the caller.
            structlog.contextvars.bind_contextvars(caller_service=principal.service)
        reset = acting_user_id.set(principal.user_id if isinstance(principal, Principal) else None)
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
        raise _unauthorized("a user's access token is required")
    return user


# Guards are coroutines though they await nothing: Litestar runs a plain function guard in a worker thread, a
# thread hop on every request (docs/performance.md).
async def requires_user(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    principal_of(connection)


async def requires_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The token must say admin, and identity must still say so now: a revoked role or a deleted account loses its
    power on the next request, not when the token expires (admin requests are rare enough to afford the check)."""
    principal = principal_of(connection)
    if not principal.is_admin:
        raise PermissionDeniedException(detail="administrator role required")
    standing: AccountStanding = connection.app.state.account_standing
    roles = await standing.roles_of(principal.user_id)
    if roles is None:
        raise _unauthorized("the account of this token no longer exists")
    if ADMIN_ROLE not in roles:
        raise PermissionDeniedException(detail="administrator role required (it has been revoked)")


async def provide_principal(request: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """Dependency: the authenticated caller, or 401."""
    return principal_of(request)


def requires_service(
    *callers: str,
) -> Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Coroutine[Any, Any, None]]:
    """Guard of service-to-service routes: only a service token of one of ``callers`` (401 without a token, 403 for
    a user's token or another service's)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        caller = connection.scope.get("user")
        if caller is None:
            raise _unauthorized("a service token is required")
        if not isinstance(caller, ServicePrincipal):
            raise PermissionDeniedException(detail="only Parla services may call this; a user's token is not accepted")
        if caller.service not in callers:
            raise PermissionDeniedException(detail=f"the {caller.service} service may not call this")

    return guard
