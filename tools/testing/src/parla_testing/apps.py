"""A service's app as its suite's tests call it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient


class BehindGateway:
    """An app as the gateway on the same host reaches it: the peer is 127.0.0.1 (a trusted proxy by default), so
    ``X-Forwarded-For`` counts as it does in production. Litestar's test client would say ``testclient``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "client": ("127.0.0.1", 50000)}
        await self.app(scope, receive, send)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def wait_until_ready(client: Any, timeout: float = 30.0) -> None:
    """The app's NATS connection is made in the background: wait for ``/ready``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (await client.get("/ready")).status_code != 200:
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("service did not become ready")
        await asyncio.sleep(0.1)


@asynccontextmanager
async def app_client(app: Litestar, *, behind_gateway: bool = False) -> AsyncIterator[AsyncTestClient[Any]]:
    """A test client of ``app`` once it is ready (``behind_gateway``: reached as through the gateway)."""
    async with AsyncTestClient(app=BehindGateway(app) if behind_gateway else app) as client:
        await wait_until_ready(client)
        yield client
