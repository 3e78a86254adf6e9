"""Request context at the edge of every service: the gateway's ``X-Request-ID``, the client IP and user agent."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from parla_shared.context import RequestContext, request_context

REQUEST_ID_HEADER = "x-request-id"
_access_log = structlog.get_logger("parla.access")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def client_ip(scope: Scope) -> str | None:
    """The first ``X-Forwarded-For`` hop (set by the gateway, the only way in), else the peer address."""
    forwarded = _header(scope, b"x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip() or None
    client = scope.get("client")
    return client[0] if client else None


class RequestContextMiddleware(ASGIMiddleware):
    scopes = ("http", "websocket")  # type: ignore[assignment]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        given = _header(scope, REQUEST_ID_HEADER.encode())
        request_id = given if given and _VALID_REQUEST_ID.match(given) else uuid.uuid4().hex
        context = RequestContext(request_id=request_id, ip=client_ip(scope), user_agent=_header(scope, b"user-agent"))
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
            structlog.contextvars.unbind_contextvars("request_id")
            request_context.reset(token)
