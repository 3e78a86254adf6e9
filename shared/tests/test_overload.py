"""Overload is shed, not queued without bound: past its in-flight limit and a short queue a service answers 503
problem+json with Retry-After at once, a request that waited too long in the queue is a 503 too, and so is one that
cannot get a pooled connection, never a 500."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from litestar import Controller, Litestar, get
from litestar.di import NamedDependency
from litestar.types import HTTPRequestEvent, Message, Receive, Scope, Send
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from parla_shared.overload import InFlightLimitMiddleware
from parla_shared.service import ServiceDefinition, build_service_app
from parla_shared.settings import ServiceSettings
from parla_testing import JwksServer, TestEnvironment


class ProbeSettings(ServiceSettings, kw_only=True, frozen=True):
    service_name: str = "analytics"
    port: int = 0
    db_schema: str = "analytics"


class Gate:
    """Requests to /slow wait here until the test opens it."""

    entered = 0
    opened = asyncio.Event()


class SlowController(Controller):
    path = "/probe"

    @get("/slow")
    async def slow(self) -> dict[str, bool]:
        Gate.entered += 1
        await Gate.opened.wait()
        return {"ok": True}

    @get("/fail")
    async def fail(self) -> None:
        raise RuntimeError("a handler failure")

    @get("/hold-connection")
    async def hold_connection(self, db_session: NamedDependency[AsyncSession]) -> dict[str, bool]:
        await db_session.execute(text("SELECT 1"))
        Gate.entered += 1
        await Gate.opened.wait()
        return {"ok": True}

    @get("/use-connection")
    async def use_connection(self, db_session: NamedDependency[AsyncSession]) -> dict[str, int]:
        return {"one": int(await db_session.scalar(text("SELECT 1")) or 0)}


@pytest.fixture
def probe_app(test_env: TestEnvironment, jwks_server: JwksServer, tmp_path: Path) -> Iterator[Callable[..., Litestar]]:
    Gate.entered = 0
    Gate.opened = asyncio.Event()

    def make(**overrides: object) -> Litestar:
        settings = test_env.settings(ProbeSettings, tmp_path, jwks_url=jwks_server.url, **overrides)
        return build_service_app(
            ServiceDefinition(settings=settings, description="probe", route_handlers=[SlowController])
        )

    yield make
    Gate.opened.set()


@asynccontextmanager
async def served(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """The app in a real uvicorn server on this event loop: requests really run concurrently."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        Gate.opened.set()
        server.should_exit = True
        await serving


async def _until_entered(count: int) -> None:
    for _ in range(500):
        if Gate.entered >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {Gate.entered} of {count} requests reached the handler")


def _admission(app: Litestar) -> InFlightLimitMiddleware:
    return next(layer for layer in app.middleware if isinstance(layer, InFlightLimitMiddleware))


async def _until_waiting(app: Litestar, count: int) -> None:
    for _ in range(500):
        if _admission(app).waiting >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"only {_admission(app).waiting} of {count} requests are waiting for a place")


async def _holding_the_only_connection(client: httpx.AsyncClient) -> asyncio.Task[httpx.Response]:
    """A request that holds the pool's one connection until the gate opens. The service's own background work
    (outbox relay, gauges) may hold that connection for a moment, and then the holder is itself shed with a 503;
    it is sent again until it holds the connection."""
    for _ in range(50):
        holder = asyncio.create_task(client.get("/probe/hold-connection"))
        while Gate.entered == 0 and not holder.done():
            await asyncio.sleep(0.01)
        if Gate.entered:
            return holder
        assert (await holder).status_code == 503
    raise AssertionError("the probe never got the pool's connection")


async def test_requests_past_the_limit_and_the_queue_are_answered_503_at_once(
    probe_app: Callable[..., Litestar],
) -> None:
    app = probe_app(max_in_flight=2, max_queue_wait_seconds=60)
    async with served(app) as client:
        held = [asyncio.create_task(client.get("/probe/slow")) for _ in range(2)]
        await _until_entered(2)
        queued = [asyncio.create_task(client.get("/probe/slow")) for _ in range(2)]  # the queue is as long as the limit
        await _until_waiting(app, 2)

        shed = await client.get("/probe/slow")
        assert shed.status_code == 503
        assert shed.headers["content-type"].startswith("application/problem+json")
        assert shed.headers["retry-after"] == "1"
        assert shed.json()["status"] == 503
        assert Gate.entered == 2  # neither the queued nor the shed requests reached the handler
        # Probes and metrics are never shed: the process is alive, only busy.
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200

        Gate.opened.set()  # the held requests finish and hand their places to the queued ones
        assert [response.status_code for response in await asyncio.gather(*held, *queued)] == [200] * 4
        assert Gate.entered == 4
        assert (await client.get("/probe/slow")).status_code == 200  # capacity is back once they are done
        assert _admission(app).in_flight == 0


async def test_a_request_that_waited_too_long_for_a_place_is_answered_503(probe_app: Callable[..., Litestar]) -> None:
    app = probe_app(max_in_flight=1, max_queued=1, max_queue_wait_seconds=0.2)
    async with served(app) as client:
        held = asyncio.create_task(client.get("/probe/slow"))
        await _until_entered(1)

        waited = await client.get("/probe/slow")
        assert waited.status_code == 503
        assert waited.headers["retry-after"] == "1"
        assert Gate.entered == 1
        assert _admission(app).waiting == 0

        Gate.opened.set()
        assert (await held).status_code == 200
        assert (await client.get("/probe/slow")).status_code == 200


async def test_no_queue_sheds_at_the_limit(probe_app: Callable[..., Litestar]) -> None:
    async with served(probe_app(max_in_flight=1, max_queued=0)) as client:
        held = asyncio.create_task(client.get("/probe/slow"))
        await _until_entered(1)
        assert (await client.get("/probe/slow")).status_code == 503
        Gate.opened.set()
        assert (await held).status_code == 200


async def test_a_request_cancelled_in_the_queue_leaves_it_and_takes_no_place() -> None:
    """A waiting request whose task is cancelled (its client went away) is out of the queue, and the place freed
    later goes to the next one waiting, or back to the pool of places."""
    admission = InFlightLimitMiddleware(1, queued=2, max_wait=60)
    release = asyncio.Event()
    handled: list[str] = []

    async def app(scope: Scope, _receive: Receive, _send: Send) -> None:
        handled.append(scope["path"])
        await release.wait()

    async def request(path: str) -> None:
        async def receive() -> HTTPRequestEvent:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(_message: Message) -> None:
            return None

        await admission.handle({"type": "http", "path": path}, receive, send, app)  # type: ignore[arg-type]

    holder = asyncio.create_task(request("/holder"))
    gone = asyncio.create_task(request("/gone"))
    kept = asyncio.create_task(request("/kept"))
    while admission.waiting < 2:
        await asyncio.sleep(0)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert admission.waiting == 1

    release.set()
    await asyncio.gather(holder, kept)
    assert handled == ["/holder", "/kept"]
    assert (admission.in_flight, admission.waiting) == (0, 0)


async def test_failed_requests_give_their_place_back(probe_app: Callable[..., Litestar]) -> None:
    async with served(probe_app(max_in_flight=1)) as client:
        for _ in range(3):
            assert (await client.get("/probe/fail")).status_code == 500
        Gate.opened.set()
        assert (await client.get("/probe/slow")).status_code == 200


async def test_the_limit_defaults_to_the_pool_size(probe_app: Callable[..., Litestar]) -> None:
    app = probe_app(db_pool_min_size=1, db_pool_max_size=3, max_queue_wait_seconds=60)
    async with served(app) as client:
        held = [asyncio.create_task(client.get("/probe/slow")) for _ in range(3)]
        await _until_entered(3)
        queued = [asyncio.create_task(client.get("/probe/slow")) for _ in range(3)]
        await _until_waiting(app, 3)
        assert (await client.get("/probe/slow")).status_code == 503
        Gate.opened.set()
        await asyncio.gather(*held, *queued)


async def test_no_free_connection_in_time_is_a_503_not_a_500(probe_app: Callable[..., Litestar]) -> None:
    app = probe_app(db_pool_min_size=1, db_pool_max_size=1, max_in_flight=5, db_pool_timeout_seconds=0.5)
    async with served(app) as client:
        holder = await _holding_the_only_connection(client)

        waited = await client.get("/probe/use-connection")
        assert waited.status_code == 503
        assert waited.headers["content-type"].startswith("application/problem+json")
        assert waited.headers["retry-after"] == "1"

        Gate.opened.set()
        assert (await holder).status_code == 200
        assert (await client.get("/probe/use-connection")).json() == {"one": 1}
