"""The gauges the alerts use (outbox backlog, consumer lag, dead letters, pool usage), read from the real
database and JetStream by the same refresh the services run on a timer."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from nats.js.api import AckPolicy, ConsumerConfig
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from parla_shared.events.bus import EventBus, stream_name
from parla_shared.events.consumer import Subscription
from parla_shared.operational_metrics import OperationalMetrics
from parla_testing import TestEnvironment


def _gauge(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    assert value is not None, f"{name}{labels} not exported"
    return value


async def _no_handler(*_: object) -> None:
    raise AssertionError("not consumed here")


@pytest.fixture
async def bus(test_env: TestEnvironment) -> AsyncIterator[EventBus]:
    bus = EventBus(test_env.nats_url, name="metrics-probe", stream_contexts=["metricsprobe"])
    await bus.start()
    await asyncio.wait_for(bus.wait_connected(), timeout=30)
    yield bus
    await bus.jetstream.delete_stream(stream_name("metricsprobe"))
    await bus.close()


async def test_outbox_dead_letters_consumer_lag_and_pool_are_measured(
    analytics_engine: AsyncEngine, bus: EventBus
) -> None:
    durable = f"metrics-probe-{uuid.uuid4().hex[:8]}"
    subscription = Subscription(
        durable=durable, context="metricsprobe", subjects=["parla.metricsprobe.>"], handler=_no_handler
    )
    await bus.jetstream.add_consumer(
        stream_name("metricsprobe"), ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT)
    )
    for index in range(3):
        await bus.jetstream.publish(f"parla.metricsprobe.thing.{index}", b"{}")
    metrics = OperationalMetrics(
        service="analytics",
        schema="analytics",
        engine=analytics_engine,
        bus=bus,
        subscriptions=[subscription],
        pool_capacity=20,
    )
    await metrics.refresh()
    before_unpublished = _gauge("parla_outbox_unpublished", app_name="parla_analytics")
    before_dead = _gauge("parla_dead_letters", app_name="parla_analytics")
    outbox_ids = [uuid.uuid4(), uuid.uuid4()]
    dead_id = uuid.uuid4()
    try:
        async with analytics_engine.begin() as connection:
            for event_id in outbox_ids:
                await connection.execute(
                    text(
                        "INSERT INTO analytics.outbox (id, subject, payload, created_at) "
                        "VALUES (:id, 'parla.analytics.probe', '{}', now() - interval '10 minutes')"
                    ),
                    {"id": event_id},
                )
            await connection.execute(
                text(
                    "INSERT INTO analytics.dead_letters (event_id, consumer, subject, deliveries, error) "
                    "VALUES (:id, 'probe', 'parla.probe', 5, 'probe')"
                ),
                {"id": dead_id},
            )
        async with analytics_engine.connect():
            await metrics.refresh()
            assert _gauge("parla_db_pool_checked_out", app_name="parla_analytics") >= 1
        assert _gauge("parla_outbox_unpublished", app_name="parla_analytics") == before_unpublished + 2
        assert _gauge("parla_outbox_oldest_unpublished_seconds", app_name="parla_analytics") >= 600
        assert _gauge("parla_dead_letters", app_name="parla_analytics") == before_dead + 1
        assert _gauge("parla_consumer_pending_messages", app_name="parla_analytics", durable=durable) == 3
        assert _gauge("parla_db_pool_capacity", app_name="parla_analytics") == 20
    finally:
        async with analytics_engine.begin() as connection:
            await connection.execute(text("DELETE FROM analytics.outbox WHERE id = ANY(:ids)"), {"ids": outbox_ids})
            await connection.execute(text("DELETE FROM analytics.dead_letters WHERE event_id = :id"), {"id": dead_id})
    await metrics.refresh()
    assert _gauge("parla_dead_letters", app_name="parla_analytics") == before_dead
