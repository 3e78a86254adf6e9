"""Load shedding: a process serves a bounded number of requests at once, lets a bounded number wait briefly for a
place, and answers the excess at once with 503.

Unbounded queued work is what makes an overloaded service fail late and everywhere: each request waits for a
database connection (up to the pool timeout, then a 500) while its client has long given up. A bound on the
requests in flight, sized from the connection pool, keeps every admitted request fast. Learners do not arrive
evenly, though: a lesson's answers come in waves, and a wave a few requests past the bound is over in a few
milliseconds. So a short first-come-first-served queue, as long as the in-flight bound, absorbs such a burst; past
it, or after ``max_wait`` seconds in it, a request is answered an immediate ``503`` problem with ``Retry-After``,
which clients and the gateway understand. Sustained overload fills the queue and is shed as before. The probes and
metrics are never shed: an overloaded process is alive and must be seen as such.
"""

from __future__ import annotations

import asyncio
from collections import deque

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
    """At most ``limit`` HTTP requests in this process at once and ``queued`` waiting up to ``max_wait`` seconds for a
    place; any other request is answered 503 without being handled."""

    scopes = ("http",)  # type: ignore[assignment]

    def __init__(self, limit: int, *, queued: int = 0, max_wait: float = 0.5) -> None:
        if limit < 1:
            raise ValueError("the in-flight limit must be at least 1")
        if queued < 0 or max_wait <= 0:
            raise ValueError("the queue's length must be 0 or more and its wait positive")
        self.limit = limit
        self.queued = queued
        self.max_wait = max_wait
        self.in_flight = 0
        # Each waiting request's future; a place is handed over by resolving it (in_flight stays as it is).
        self._waiting: deque[asyncio.Future[None]] = deque()
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
        if self.in_flight < self.limit:  # never while requests wait: a freed place goes to the first of them
            self.in_flight += 1
        elif not await self._waited_for_a_place():
            start: HTTPResponseStartEvent = {"type": "http.response.start", "status": 503, "headers": self._headers}
            body: HTTPResponseBodyEvent = {"type": "http.response.body", "body": self._body, "more_body": False}
            await send(start)
            await send(body)
            return
        try:
            await next_app(scope, receive, send)
        finally:
            self._give_back_a_place()

    async def _waited_for_a_place(self) -> bool:
        """Whether this request was handed a place within ``max_wait``; False at once when the queue is full."""
        if len(self._waiting) >= self.queued:
            return False
        place: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(place)
        try:
            await asyncio.wait_for(asyncio.shield(place), self.max_wait)
        except TimeoutError:
            if place.done():  # handed over just as the wait ended: the place is this request's
                return True
            self._waiting.remove(place)
            return False
        except asyncio.CancelledError:  # the request itself is cancelled (its client is gone)
            if place.done():
                self._give_back_a_place()
            else:
                self._waiting.remove(place)
            raise
        return True

    @property
    def waiting(self) -> int:
        """Requests waiting for a place now."""
        return len(self._waiting)

    def _give_back_a_place(self) -> None:
        if self._waiting:
            self._waiting.popleft().set_result(None)
        else:
            self.in_flight -= 1


def pool_timeout_response(_request: Request, _exc: PoolTimeoutError) -> Response[bytes]:  # type: ignore[type-arg]
    """No database connection came free in time: the same 503 as shedding, never a 500."""
    return Response(
        content=overloaded_body(),
        status_code=503,
        media_type=PROBLEM_JSON,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
