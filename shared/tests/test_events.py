"""The event backbone against real PostgreSQL and a real NATS: a change and its event commit together,
the relay publishes each once, the consumer applies each once."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import msgspec
import nats
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from parla_shared.contracts import decode
from parla_shared.events.bus import EventBus, stream_name
from parla_shared.events.consumer import EventConsumer, Subscription
from parla_shared.events.envelope import EventEnvelope, encode_event, new_event
from parla_shared.events.outbox import Outbox, OutboxRelay
from parla_shared.events.tables import MessagingTables
from parla_shared.service import plain_dsn
from parla_shared.settings import ServiceSettings
from parla_testing import RestartableNats, TestEnvironment

IDENTITY = MessagingTables("identity")


class ProbeCreated(msgspec.Struct, frozen=True):
    widget_id: uuid.UUID


ANALYTICS = MessagingTables("analytics")


@pytest.fixture(scope="module", autouse=True)
async def probe_tables(identity_owner_engine: AsyncEngine, analytics_owner_engine: AsyncEngine) -> AsyncIterator[None]:
    """A producer-side domain table and a consumer-side effect table, for these tests only (made by the schemas'
    owners, as a migration would: the services' roles only get their rows)."""
    async with identity_owner_engine.begin() as connection:
        await connection.execute(text("CREATE TABLE identity.probe_widgets (id uuid PRIMARY KEY, name text)"))
    async with analytics_owner_engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE analytics.probe_effects (event_id uuid, widget_id uuid, applied_at timestamptz)")
        )
    yield
    async with identity_owner_engine.begin() as connection:
        await connection.execute(text("DROP TABLE identity.probe_widgets"))
    async with analytics_owner_engine.begin() as connection:
        await connection.execute(text("DROP TABLE analytics.probe_effects"))


@dataclass
class Pipeline:
    """identity's outbox + relay → NATS → analytics' consumer, each running as in a service."""

    producer_engine: AsyncEngine
    consumer_engine: AsyncEngine
    bus: EventBus
    consumer_bus: EventBus
    durable: str
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    failures_left: int = 0
    typed: bool = False  # decode the payload into its contract first, as the services' consumers do

    async def handle(self, session: AsyncSession, event: EventEnvelope) -> None:
        if self.typed:
            decode(event, ProbeCreated)
        if self.failures_left > 0:
            self.failures_left -= 1
            raise RuntimeError("transient failure")
        await session.execute(
            text("INSERT INTO analytics.probe_effects VALUES (:event_id, :widget_id, now())"),
            {"event_id": event.id, "widget_id": event.data["widget_id"]},
        )

    async def create_widget(self, *, commit: bool = True) -> uuid.UUID:
        widget_id = uuid.uuid4()
        async with async_sessionmaker(self.producer_engine)() as session, session.begin():
            await session.execute(text("INSERT INTO identity.probe_widgets VALUES (:id, 'w')"), {"id": widget_id})
            await Outbox(IDENTITY, producer="identity").add(
                session, "parla.identity.probe.created", {"widget_id": str(widget_id)}, subject_id=widget_id
            )
            if not commit:
                await session.rollback()
        return widget_id

    async def effects(self, widget_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        async with self.consumer_engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT widget_id, count(*) FROM analytics.probe_effects WHERE widget_id = ANY(:ids) GROUP BY 1"),
                {"ids": widget_ids},
            )
            return {row[0]: row[1] for row in rows}

    async def unpublished(self, widget_ids: list[uuid.UUID]) -> int:
        async with self.producer_engine.connect() as connection:
            return int(
                await connection.scalar(
                    text(
                        "SELECT count(*) FROM identity.outbox WHERE published_at IS NULL "
                        "AND payload->'data'->>'widget_id' = ANY(:ids)"
                    ),
                    {"ids": [str(widget) for widget in widget_ids]},
                )
            )


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("condition not reached in time")
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def running_pipeline(
    test_env: TestEnvironment,
    identity_engine: AsyncEngine,
    analytics_engine: AsyncEngine,
    nats_url: str,
    *,
    relays: int = 1,
    max_deliver: int = 5,
) -> AsyncIterator[Pipeline]:
    bus = EventBus(nats_url, name="test-producer", stream_contexts=["identity"])
    consumer_bus = EventBus(nats_url, name="test-consumer", stream_contexts=["identity"])
    pipeline = Pipeline(identity_engine, analytics_engine, bus, consumer_bus, durable=f"probe-{uuid.uuid4().hex[:8]}")
    await bus.start()
    await consumer_bus.start()
    await asyncio.wait_for(bus.wait_connected(), 20)
    consumer = EventConsumer(
        Subscription(pipeline.durable, "identity", ["parla.identity.probe.>"], pipeline.handle),
        bus=consumer_bus,
        session_maker=async_sessionmaker(analytics_engine),
        tables=ANALYTICS,
        max_deliver=max_deliver,
        idle_resubscribe_seconds=5,
    )
    for _ in range(relays):
        relay = OutboxRelay(
            IDENTITY,
            identity_engine,
            bus,
            listen_dsn=plain_dsn(test_env.service_dsn("identity")),
            poll_seconds=0.2,
        )
        pipeline.tasks.append(asyncio.create_task(relay.run()))
    pipeline.tasks.append(asyncio.create_task(consumer.run()))
    try:
        yield pipeline
    finally:
        for task in pipeline.tasks:
            task.cancel()
        for task in pipeline.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await bus.close()
        await consumer_bus.close()
        # Other suites share this database: leave no trace of the probe consumer.
        async with analytics_engine.begin() as connection:
            for table in ("inbox", "dead_letters"):
                await connection.execute(
                    text(f"DELETE FROM analytics.{table} WHERE consumer = :durable"),  # noqa: S608 - fixed names
                    {"durable": pipeline.durable},
                )


async def test_a_change_and_its_event_are_handled_exactly_once_in_another_service(
    test_env: TestEnvironment, identity_engine: AsyncEngine, analytics_engine: AsyncEngine
) -> None:
    async with running_pipeline(test_env, identity_engine, analytics_engine, test_env.nats_url) as pipeline:
        widgets = [await pipeline.create_widget() for _ in range(5)]
        await eventually(lambda: _all_applied(pipeline, widgets))
        await asyncio.sleep(1)  # a late duplicate would show up here
        assert await pipeline.effects(widgets) == dict.fromkeys(widgets, 1)
        assert await pipeline.unpublished(widgets) == 0


async def _all_applied(pipeline: Pipeline, widgets: list[uuid.UUID]) -> bool:
    return len(await pipeline.effects(widgets)) == len(widgets)


async def test_a_rolled_back_transaction_publishes_nothing(
    test_env: TestEnvironment, identity_engine: AsyncEngine, analytics_engine: AsyncEngine
) -> None:
    async with running_pipeline(test_env, identity_engine, analytics_engine, test_env.nats_url) as pipeline:
        rolled_back = await pipeline.create_widget(commit=False)
        committed = await pipeline.create_widget()
        await eventually(lambda: _all_applied(pipeline, [committed]))
        async with identity_engine.connect() as connection:
            stored = await connection.scalar(
                text("SELECT count(*) FROM identity.outbox WHERE payload->'data'->>'widget_id' = :id"),
                {"id": str(rolled_back)},
            )
        assert stored == 0
        assert await pipeline.effects([rolled_back]) == {}


async def test_events_committed_while_nats_is_down_arrive_exactly_once_after_restart(
    test_env: TestEnvironment,
    identity_engine: AsyncEngine,
    analytics_engine: AsyncEngine,
    own_nats: RestartableNats,
) -> None:
    async with running_pipeline(test_env, identity_engine, analytics_engine, own_nats.url) as pipeline:
        before = [await pipeline.create_widget()]
        await eventually(lambda: _all_applied(pipeline, before))

        own_nats.stop()
        during = [await pipeline.create_widget() for _ in range(10)]  # user requests still succeed
        await asyncio.sleep(1.5)
        assert await pipeline.unpublished(during) == 10

        own_nats.start()  # same store directory: the stream and durable consumer survive
        await eventually(lambda: _all_applied(pipeline, before + during), timeout=60)
        await asyncio.sleep(1)
        assert await pipeline.effects(before + during) == dict.fromkeys(before + during, 1)
        assert await pipeline.unpublished(during) == 0


async def test_a_redelivered_event_changes_nothing(
    test_env: TestEnvironment, identity_engine: AsyncEngine, analytics_engine: AsyncEngine
) -> None:
    async with running_pipeline(test_env, identity_engine, analytics_engine, test_env.nats_url) as pipeline:
        widget = await pipeline.create_widget()
        await eventually(lambda: _all_applied(pipeline, [widget]))
        async with identity_engine.connect() as connection:
            payload = await connection.scalar(
                text("SELECT payload FROM identity.outbox WHERE payload->'data'->>'widget_id' = :id"),
                {"id": str(widget)},
            )
        # The same event again under new message ids, so JetStream's duplicate window lets it through.
        client = await nats.connect(test_env.nats_url)
        try:
            js = client.jetstream()
            for _ in range(3):
                await js.publish(
                    payload["type"],
                    encode_event(_envelope(payload)),
                    headers={"Nats-Msg-Id": uuid.uuid4().hex},
                    stream=stream_name("identity"),
                )
        finally:
            await client.close()
        await asyncio.sleep(2)
        assert await pipeline.effects([widget]) == {widget: 1}


def _envelope(payload: dict[str, object]) -> EventEnvelope:
    return msgspec.convert(payload, EventEnvelope)


async def test_a_failing_handler_is_retried_then_applied_once(
    test_env: TestEnvironment, identity_engine: AsyncEngine, analytics_engine: AsyncEngine
) -> None:
    async with running_pipeline(test_env, identity_engine, analytics_engine, test_env.nats_url) as pipeline:
        pipeline.failures_left = 2
        widget = await pipeline.create_widget()
        await eventually(lambda: _all_applied(pipeline, [widget]))
        assert await pipeline.effects([widget]) == {widget: 1}


async def test_a_handler_that_keeps_failing_is_dead_lettered(
    test_env: TestEnvironment, identity_engine: AsyncEngine, analytics_engine: AsyncEngine
) -> None:
    async with running_pipeline(
        test_env, identity_engine, analytics_engine, test_env.nats_url, max_deliver=2
    ) as pipeline:
        pipeline.failures_left = 1_000
        widget = await pipeline.create_widget()

        async def dead_lettered() -> bool:
            async with analytics_engine.connect() as connection:
                return bool(
                    await connection.scalar(
                        text(
                            "SELECT count(*) FROM analytics.dead_letters WHERE consumer = :durable "
                            "AND payload->'data'->>'widget_id' = :id"
                        ),
                        {"durable": pipeline.durable, "id": str(widget)},
                    )
                )

        await eventually(dead_lettered, timeout=30)
        assert await pipeline.effects([widget]) == {}


async def test_a_payload_that_breaks_its_contract_is_dead_lettered_at_once_with_the_reason(
    test_env: TestEnvironment, identity_engine: AsyncEngine, analytics_engine: AsyncEngine
) -> None:
    async with running_pipeline(test_env, identity_engine, analytics_engine, test_env.nats_url) as pipeline:
        pipeline.typed = True
        async with async_sessionmaker(identity_engine)() as session, session.begin():
            await Outbox(IDENTITY, producer="identity").add(
                session, "parla.identity.probe.created", {"widget_id": "not-a-uuid"}, subject_id=None
            )
        widget = await pipeline.create_widget()  # a good one after it still goes through
        await eventually(lambda: _all_applied(pipeline, [widget]))

        async with analytics_engine.connect() as connection:
            dead = (
                await connection.execute(
                    text(
                        "SELECT deliveries, error FROM analytics.dead_letters WHERE consumer = :durable "
                        "AND payload->'data'->>'widget_id' = 'not-a-uuid'"
                    ),
                    {"durable": pipeline.durable},
                )
            ).one()
        assert dead.deliveries == 1  # not retried: every delivery would fail alike
        assert "parla.identity.probe.created payload breaks its contract (ProbeCreated)" in dead.error
        assert "widget_id" in dead.error
        assert await pipeline.effects([widget]) == {widget: 1}


async def test_several_relays_publish_each_event_once(
    test_env: TestEnvironment, identity_engine: AsyncEngine, analytics_engine: AsyncEngine
) -> None:
    async with running_pipeline(test_env, identity_engine, analytics_engine, test_env.nats_url, relays=3) as pipeline:
        widgets = await asyncio.gather(*(pipeline.create_widget() for _ in range(60)))
        await eventually(lambda: _all_applied(pipeline, list(widgets)), timeout=60)
        await asyncio.sleep(1)
        assert await pipeline.effects(list(widgets)) == dict.fromkeys(widgets, 1)


def test_new_event_carries_the_request_context() -> None:
    from parla_shared.context import RequestContext, acting_user_id, request_context

    actor = uuid.uuid4()
    token = request_context.set(RequestContext("req-9", "203.0.113.7", "pytest"))
    actor_token = acting_user_id.set(actor)
    try:
        event = new_event("parla.identity.probe.created", {"a": 1}, producer="identity", subject_id=actor)
    finally:
        request_context.reset(token)
        acting_user_id.reset(actor_token)
    assert (event.request_id, event.ip, event.user_agent, event.actor_id) == (
        "req-9",
        "203.0.113.7",
        "pytest",
        actor,
    )
    assert event.id.version == 7
    assert event.context == "identity"


async def test_dead_letters_expire_after_their_max_age(analytics_engine: AsyncEngine) -> None:
    """Dead letters keep whole events, personal data included: they have a max age like the streams."""
    from datetime import timedelta

    from parla_shared.events.consumer import delete_expired_dead_letters

    durable = f"expiry-{uuid.uuid4().hex[:8]}"
    old, fresh = uuid.uuid4(), uuid.uuid4()
    async with analytics_engine.begin() as connection:
        for event_id, age in ((old, timedelta(days=31)), (fresh, timedelta(days=29))):
            await connection.execute(
                text(
                    "INSERT INTO analytics.dead_letters (event_id, consumer, subject, deliveries, error, created_at)"
                    " VALUES (:id, :durable, 'parla.identity.user.registered', 5, 'boom', now() - CAST(:age AS interval))"
                ),
                {"id": event_id, "durable": durable, "age": age},
            )
    settings = ServiceSettings(service_name="analytics", port=0, db_schema="analytics", database_url="postgresql://x")
    assert settings.dead_letter_max_age_days == 30

    await delete_expired_dead_letters(analytics_engine, ANALYTICS, timedelta(days=settings.dead_letter_max_age_days))

    async with analytics_engine.connect() as connection:
        left = (
            await connection.execute(
                text("SELECT event_id FROM analytics.dead_letters WHERE consumer = :durable"), {"durable": durable}
            )
        ).scalars()
        assert set(left) == {fresh}
        await connection.execute(
            text("DELETE FROM analytics.dead_letters WHERE consumer = :durable"), {"durable": durable}
        )
        await connection.commit()
