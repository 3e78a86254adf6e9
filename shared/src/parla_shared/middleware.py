"""Request context at the edge of every service: the gateway's ``X-Request-ID``, the client IP and user agent."""

from __future__ import annotations

import ipaddress
import re
import time
import uuid
from collections.abc import Sequence

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from parla_shared.context import RequestContext, request_context

REQUEST_ID_HEADER = "x-request-id"
_access_log = structlog.get_logger("parla.access")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_ip(scope: Scope, trusted_proxies: Sequence[Network]) -> str | None:
    """The address of whoever sent the request to the first proxy we trust.

    The peer is believed only when it is a trusted proxy; then ``X-Forwarded-For`` is read from the right (each
    proxy appends the address it saw) and the first entry that is not a trusted proxy is the client. Entries to its
    left were written by the client itself and prove nothing. An entry that is not an IP address (forged) gives no
    address rather than a made-up one.
    """
    client = scope.get("client")
    peer = client[0] if client else None

    def trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in trusted_proxies)

    peer_address = _address(peer) if peer else None
    if peer_address is None or not trusted(peer_address):
        return peer
    hops = [
        hop.strip()
        for key, value in scope.get("headers", ())
        if key == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return None
        if not trusted(address):
            return str(address)
    # Every hop is one of our proxies: the request started inside (a health check, another service).
    first = _address(hops[0]) if hops else None
    return str(first) if first else peer


class RequestContextMiddleware(ASGIMiddleware):
    scopes = ("http", "websocket")  # type: ignore[assignment]

    def __init__(self, trusted_proxies: Sequence[Network] = ()) -> None:
        self._trusted_proxies = tuple(trusted_proxies)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        given = _header(scope, REQUEST_ID_HEADER.encode())
        request_id = given if given and _VALID_REQUEST_ID.match(given) else uuid.uuid4().hex
        context = RequestContext(
            request_id=request_id,
            ip=client_ip(scope, self._trusted_proxies),
            user_agent=_header(scope, b"user-agent"),
        )
        token = request_context.set(context)
        structlog.contextvars.bind_contextvars(request_id=request_id)

        started = time.perf_counter()
        status: int | None = None

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await next_app(scope, receive, send_with_request_id)
        finally:
            # One JSON line per request, instead of the server's plain-text access log.
            _access_log.info(
                "request",
                method=scope.get("method"),
                path=scope.get("path"),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                client_ip=context.ip,
            )
            structlog.contextvars.unbind_contextvars("request_id", "caller_service", "learner_id")
            request_context.reset(token)
