"""Gauges the alerts need beyond request metrics: outbox backlog, consumer lag, dead letters, pool usage.

Refreshed by one background task every ``PARLA_METRICS_REFRESH_SECONDS`` (15 s), never per request: three
small indexed queries and one JetStream consumer-info call per consumer. Labelled ``app_name`` like the
request metrics (``parla_<service>``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from prometheus_client import Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from parla_shared.events.bus import EventBus, stream_name
from parla_shared.events.consumer import Subscription

_log = structlog.get_logger("parla.metrics")

OUTBOX_UNPUBLISHED = Gauge("parla_outbox_unpublished", "Events in the outbox not published yet", ["app_name"])
OUTBOX_OLDEST_SECONDS = Gauge(
    "parla_outbox_oldest_unpublished_seconds", "Age of the oldest unpublished outbox event (0: none)", ["app_name"]
)
DEAD_LETTERS = Gauge("parla_dead_letters", "Dead-lettered events waiting for an operator", ["app_name"])
CONSUMER_PENDING = Gauge(
    "parla_consumer_pending_messages",
    "Events in the stream not yet delivered to this durable consumer (consumer lag)",
    ["app_name", "durable"],
)
CONSUMER_ACK_PENDING = Gauge(
    "parla_consumer_ack_pending_messages", "Events delivered and not yet acknowledged", ["app_name", "durable"]
)
POOL_CHECKED_OUT = Gauge("parla_db_pool_checked_out", "Database connections in use by this process", ["app_name"])
POOL_CAPACITY = Gauge("parla_db_pool_capacity", "The most connections this process's pool opens", ["app_name"])


class OperationalMetrics:
    def __init__(
        self,
        *,
        service: str,
        schema: str,
        engine: AsyncEngine,
        bus: EventBus,
        subscriptions: Sequence[Subscription],
        pool_capacity: int,
    ) -> None:
        self.app_name = f"parla_{service}"
        self._schema = schema
        self._engine = engine
        self._bus = bus
        self._subscriptions = subscriptions
        POOL_CAPACITY.labels(self.app_name).set(pool_capacity)

    async def refresh(self) -> None:
        """One reading of every gauge; a part that fails (database or NATS down) keeps its last value."""
        pool = self._engine.sync_engine.pool
        POOL_CHECKED_OUT.labels(self.app_name).set(pool.checkedout())  # type: ignore[attr-defined]
        try:
            await self._refresh_database()
        except Exception as exc:  # noqa: BLE001 - metrics must never take the service down
            _log.warning("metrics: database reading failed", error=str(exc) or type(exc).__name__)
        if self._bus.connected:
            try:
                await self._refresh_consumers()
            except Exception as exc:  # noqa: BLE001
                _log.warning("metrics: consumer reading failed", error=str(exc) or type(exc).__name__)

    async def _refresh_database(self) -> None:
        schema = self._schema
        oldest = "coalesce(extract(epoch FROM now() - min(created_at)), 0)"
        backlog_query = f"SELECT count(*), {oldest} FROM {schema}.outbox WHERE published_at IS NULL"  # noqa: S608
        async with self._engine.connect() as connection:
            backlog = (await connection.execute(text(backlog_query))).one()
            dead = await connection.scalar(text(f"SELECT count(*) FROM {schema}.dead_letters"))  # noqa: S608
        OUTBOX_UNPUBLISHED.labels(self.app_name).set(backlog[0])
        OUTBOX_OLDEST_SECONDS.labels(self.app_name).set(float(backlog[1]))
        DEAD_LETTERS.labels(self.app_name).set(dead or 0)

    async def _refresh_consumers(self) -> None:
        js = self._bus.jetstream
        for subscription in self._subscriptions:
            info = await js.consumer_info(stream_name(subscription.context), subscription.durable)
            CONSUMER_PENDING.labels(self.app_name, subscription.durable).set(info.num_pending or 0)
            CONSUMER_ACK_PENDING.labels(self.app_name, subscription.durable).set(info.num_ack_pending or 0)

    async def run(self, every_seconds: float) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(every_seconds)
