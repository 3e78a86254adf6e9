from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import msgspec
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from uuid_utils.compat import uuid7

from parla_analytics.app import create_app
from parla_analytics.settings import AnalyticsSettings
from parla_shared.context import RequestContext, acting_user_id, request_context
from parla_shared.db import SystemPath
from parla_shared.events.bus import EventBus
from parla_shared.events.envelope import EventEnvelope, encode_event
from parla_shared.events.outbox import Outbox, OutboxRelay
from parla_shared.events.tables import MessagingTables
from parla_shared.service import plain_dsn
from parla_testing import ServiceSettingsFactory, TestEnvironment, app_client

PRODUCERS = ("identity", "curriculum", "progress")
CONSUMER_OF = {context: f"analytics-{context}" for context in PRODUCERS}
TEST_IP = "203.0.113.7"
TEST_AGENT = "ParlaTest/1.0 (pytest)"


@pytest.fixture(scope="session")
def settings(service_settings: ServiceSettingsFactory) -> AnalyticsSettings:
    return service_settings(AnalyticsSettings)


@pytest.fixture(scope="session")
async def client(settings: AnalyticsSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
async def analytics_db(test_env: TestEnvironment) -> AsyncIterator[asyncpg.Pool]:
    """The analytics schema as the analytics role itself sees it on a system path (tests read every user's
    rows, and tamper, through it)."""
    pool = await asyncpg.create_pool(
        plain_dsn(test_env.service_dsn("analytics")),
        min_size=1,
        max_size=3,
        server_settings={"search_path": "analytics", "app.system_path": SystemPath.OPERATOR.value},
    )
    yield pool
    await pool.close()


class Producer:
    """Another context as it really publishes: its outbox in its own schema (as its own role), and a relay."""

    def __init__(self, context: str, engine: AsyncEngine, bus: EventBus) -> None:
        self.context = context
        self.engine = engine
        self.bus = bus
        self.outbox = Outbox(MessagingTables(context), producer=context)

    async def emit(
        self,
        event_type: str,
        data: dict[str, Any],
        *,
        actor_id: UUID | None = None,
        ip: str | None = TEST_IP,
        user_agent: str | None = TEST_AGENT,
    ) -> EventEnvelope:
        token = request_context.set(RequestContext(request_id=uuid7().hex, ip=ip, user_agent=user_agent))
        acting = acting_user_id.set(actor_id)
        try:
            async with self.engine.begin() as connection, AsyncSession(bind=connection) as session:
                return await self.outbox.add(session, event_type, data, subject_id=data.get("user_id"))
        finally:
            request_context.reset(token)
            acting_user_id.reset(acting)

    async def publish(self, envelope: EventEnvelope, *, msg_id: str | None = None) -> None:
        """Straight to JetStream (a replay, or an event from the past), with ``Nats-Msg-Id``."""
        await self.bus.wait_connected()
        await self.bus.jetstream.publish(
            envelope.type, encode_event(envelope), headers={"Nats-Msg-Id": msg_id or str(envelope.id)}, timeout=5
        )


def envelope(
    event_type: str,
    data: dict[str, Any],
    *,
    occurred_at: datetime | None = None,
    actor_id: UUID | None = None,
    ip: str | None = TEST_IP,
) -> EventEnvelope:
    return EventEnvelope(
        id=uuid7(),
        type=event_type,
        version=1,
        occurred_at=occurred_at or datetime.now(UTC),
        producer=event_type.split(".")[1],
        subject_id=str(data.get("user_id")) if data.get("user_id") else None,
        actor_id=actor_id,
        request_id=None,
        ip=ip,
        user_agent=TEST_AGENT,
        data=msgspec.to_builtins(data),
    )


@pytest.fixture(scope="session")
async def producers(test_env: TestEnvironment, client: httpx.AsyncClient) -> AsyncIterator[dict[str, Producer]]:
    bus = EventBus(test_env.nats_url, name="analytics-test-producers", stream_contexts=PRODUCERS)
    await bus.start()
    await bus.wait_connected()
    engines: dict[str, AsyncEngine] = {}
    tasks: list[asyncio.Task[None]] = []
    result: dict[str, Producer] = {}
    for context in PRODUCERS:
        dsn = test_env.service_dsn(context)
        engine = create_async_engine(dsn.replace("postgresql://", "postgresql+asyncpg://", 1), pool_size=2)
        engines[context] = engine
        relay = OutboxRelay(MessagingTables(context), engine, bus, listen_dsn=plain_dsn(dsn), poll_seconds=0.2)
        tasks.append(asyncio.create_task(relay.run(), name=f"test-relay-{context}"))
        result[context] = Producer(context, engine, bus)
    yield result
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    for engine in engines.values():
        await engine.dispose()
    await bus.close()


async def wait_processed(pool: asyncpg.Pool, *events: EventEnvelope, timeout: float = 60.0) -> None:
    """Until the app's consumer recorded every event in its inbox (its effects commit with it)."""
    deadline = asyncio.get_running_loop().time() + timeout
    for event in events:
        consumer = CONSUMER_OF[event.context]
        while not await pool.fetchval(
            "SELECT 1 FROM analytics.inbox WHERE event_id = $1 AND consumer = $2", event.id, consumer
        ):
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"{consumer} did not process {event.type} {event.id}")
            await asyncio.sleep(0.1)
