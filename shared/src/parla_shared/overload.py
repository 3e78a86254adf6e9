"""Load shedding: a process serves a bounded number of requests at once and answers the excess at once with 503.

Queued work is what makes an overloaded service fail late and everywhere: each request waits for a database
connection (up to the pool timeout, then a 500) while its client has long given up. A bound on the requests in
flight, sized from the connection pool, keeps every admitted request fast and turns the rest into an immediate
``503`` problem with ``Retry-After``, which clients and the gateway understand. The probes and metrics are never
shed: an overloaded process is alive and must be seen as such.
"""

from __future__ import annotations

import msgspec
from litestar import Request, Response
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from parla_shared.problems import PROBLEM_JSON

RETRY_AFTER_SECONDS = 1
UNSHED_PATHS = frozenset({"/health", "/ready", "/metrics"})
OVERLOADED_DETAIL = "The service is at capacity; retry after the time given in Retry-After."


def overloaded_body() -> bytes:
    return msgspec.json.encode({"status": 503, "title": "Service Unavailable", "detail": OVERLOADED_DETAIL})


class InFlightLimitMiddleware(ASGIMiddleware):
    """At most ``limit`` HTTP requests in this process at once; one more is answered 503 without being handled."""

    scopes = ("http",)  # type: ignore[assignment]

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the in-flight limit must be at least 1")
        self.limit = limit
        self.in_flight = 0
        self._body = overloaded_body()
        self._headers: list[tuple[bytes, bytes]] = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(self._body)).encode()),
            (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
        ]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if scope["path"] in UNSHED_PATHS:
            await next_app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            start: HTTPResponseStartEvent = {"type": "http.response.start", "status": 503, "headers": self._headers}
            body: HTTPResponseBodyEvent = {"type": "http.response.body", "body": self._body, "more_body": False}
            await send(start)
            await send(body)
            return
        self.in_flight += 1
        try:
            await next_app(scope, receive, send)
        finally:
            self.in_flight -= 1


def pool_timeout_response(_request: Request, _exc: PoolTimeoutError) -> Response[bytes]:  # type: ignore[type-arg]
    """No database connection came free in time: the same 503 as shedding, never a 500."""
    return Response(
        content=overloaded_body(),
        status_code=503,
        media_type=PROBLEM_JSON,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
