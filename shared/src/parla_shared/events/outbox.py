"""Transactional outbox: events are rows written with the change; a relay publishes them to JetStream."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec
import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from parla_shared.events.bus import EventBus
from parla_shared.events.envelope import ENVELOPE_VERSION, EventEnvelope, new_event
from parla_shared.events.tables import MessagingTables

_log = structlog.get_logger("parla.events.outbox")


class Outbox:
    """Writes a service's events into its outbox inside the caller's transaction."""

    def __init__(self, tables: MessagingTables, *, producer: str) -> None:
        self.tables = tables
        self.producer = producer

    async def add(
        self,
        session: AsyncSession,
        event_type: str,
        data: msgspec.Struct | dict[str, Any],
        *,
        subject_id: object | None = None,
        actor_id: UUID | None = None,
        version: int = ENVELOPE_VERSION,
    ) -> EventEnvelope:
        event = self.event(event_type, data, subject_id=subject_id, actor_id=actor_id, version=version)
        await session.execute(self.tables.outbox.insert().values(**_outbox_row(event)))
        return event

    @staticmethod
    def insert_sql(parameter: int) -> str:
        """SQL writing the events of a JSON array (``as_json``) bound at ``$parameter``, for a statement in SQL."""
        # Only a parameter's number is formatted in; the events themselves are bound.
        source = f"jsonb_array_elements(${parameter:d}::jsonb) AS e"
        return f"INSERT INTO outbox (id, subject, payload) SELECT (e->>'id')::uuid, e->>'type', e FROM {source}"  # noqa: S608

    @staticmethod
    def as_json(events: Sequence[EventEnvelope]) -> str:
        """The events as the JSON array ``insert_sql`` reads (the driver's jsonb codec takes text)."""
        return msgspec.json.encode(events).decode()

    def event(
        self,
        event_type: str,
        data: msgspec.Struct | dict[str, Any],
        *,
        subject_id: object | None = None,
        actor_id: UUID | None = None,
        version: int = ENVELOPE_VERSION,
    ) -> EventEnvelope:
        """An event of this producer, to be written with ``add_all``."""
        return new_event(
            event_type, data, producer=self.producer, subject_id=subject_id, actor_id=actor_id, version=version
        )

    async def add_all(self, session: AsyncSession, events: Sequence[EventEnvelope]) -> None:
        """Many events in one statement (bulk work such as seeding), in the caller's transaction."""
        if events:
            await session.execute(self.tables.outbox.insert(), [_outbox_row(event) for event in events])


def _outbox_row(event: EventEnvelope) -> dict[str, Any]:
    """The outbox row of an event: the relay publishes ``payload`` to ``subject`` with the id as ``Nats-Msg-Id``."""
    return {"id": event.id, "subject": event.type, "payload": msgspec.to_builtins(event)}


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff from half a second, capped at a minute."""
    return timedelta(seconds=min(60.0, 0.5 * 2 ** max(attempts - 1, 0)))


class OutboxRelay:
    """Publishes unsent outbox rows with ``Nats-Msg-Id`` = event id, then marks them sent.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` so several replicas share the work; a failed row
    waits out a backoff. The relay wakes on the outbox's NOTIFY and otherwise polls every ``poll_seconds``.
    """

    def __init__(
        self,
        tables: MessagingTables,
        engine: AsyncEngine,
        bus: EventBus,
        *,
        listen_dsn: str,
        poll_seconds: float = 1.0,
        batch_size: int = 100,
        gather_seconds: float = 0.02,
        retention: timedelta = timedelta(days=7),
    ) -> None:
        self._tables = tables
        self._engine = engine
        self._bus = bus
        self._listen_dsn = listen_dsn
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._gather_seconds = gather_seconds
        self._retention = retention
        self._wake = asyncio.Event()

    async def run(self) -> None:
        listener = asyncio.create_task(self._listen(), name="outbox-listen")
        try:
            cleanup_every = max(1, int(600 / self._poll_seconds))
            for round_number in itertools.count():
                try:
                    published = await self.publish_pending()
                    if round_number % cleanup_every == 0:
                        await self.delete_published()
                except Exception as exc:  # noqa: BLE001 - the relay must outlive a database or broker hiccup
                    _log.warning("outbox relay round failed", error=str(exc))
                    published = 0
                if published < self._batch_size:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self._poll_seconds)
                    # Under load every request's commit notifies: a moment's wait lets one round carry the
                    # events of many transactions instead of one round (three statements) per transaction.
                    await asyncio.sleep(self._gather_seconds)
                    self._wake.clear()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def publish_pending(self) -> int:
        """One batch; returns how many rows were published.

        The batch's messages are sent back to back and their acknowledgements awaited together (one round trip
        for the batch, not one per event); the stream receives them in outbox order. A failed one waits out its
        backoff; the others of the batch are published and marked.
        """
        if not self._bus.connected:
            return 0
        outbox = self._tables.outbox
        async with self._engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(outbox.c.id, outbox.c.subject, outbox.c.payload, outbox.c.attempts)
                    .where(outbox.c.published_at.is_(None), outbox.c.next_attempt_at <= func.now())
                    .order_by(outbox.c.created_at)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            outcomes = await asyncio.gather(
                *(
                    self._bus.jetstream.publish(
                        row.subject,
                        msgspec.json.encode(row.payload),
                        headers={"Nats-Msg-Id": str(row.id)},
                        timeout=5,
                    )
                    for row in rows
                ),
                return_exceptions=True,
            )
            published: list[UUID] = []
            for row, outcome in zip(rows, outcomes, strict=True):
                if not isinstance(outcome, BaseException):
                    published.append(row.id)
                    continue
                attempts = row.attempts + 1
                await connection.execute(
                    update(outbox)
                    .where(outbox.c.id == row.id)
                    .values(
                        attempts=attempts,
                        next_attempt_at=func.now() + retry_delay(attempts),
                        last_error=str(outcome) or type(outcome).__name__,
                    )
                )
                _log.warning("event publish failed", event_id=str(row.id), attempts=attempts, error=str(outcome))
            if published:
                await connection.execute(
                    update(outbox).where(outbox.c.id.in_(published)).values(published_at=func.now())
                )
        return len(published)

    async def delete_published(self) -> None:
        outbox = self._tables.outbox
        async with self._engine.begin() as connection:
            await connection.execute(outbox.delete().where(outbox.c.published_at < func.now() - self._retention))

    async def _listen(self) -> None:
        def wake(*_: object) -> None:
            self._wake.set()

        while True:
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(self._listen_dsn, timeout=5)
                await connection.add_listener(self._tables.notify_channel, wake)
                while not connection.is_closed():
                    await asyncio.sleep(self._poll_seconds * 5)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - polling still runs; try to listen again shortly
                _log.info("outbox listen unavailable", error=str(exc))
                await asyncio.sleep(self._poll_seconds * 5)
            finally:
                if connection is not None and not connection.is_closed():
                    with contextlib.suppress(Exception):
                        await connection.close()
