"""Durable pull consumers whose effects are idempotent: each event id is recorded in the inbox with the effect."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import msgspec
import structlog
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from uuid_utils.compat import uuid7

from parla_shared.context import RequestContext, request_context
from parla_shared.contracts import InvalidPayloadError
from parla_shared.db import SystemPath, running_system_path
from parla_shared.events.bus import EventBus, stream_name
from parla_shared.events.envelope import EventEnvelope, decode_event
from parla_shared.events.tables import MessagingTables

_log = structlog.get_logger("parla.events.consumer")

EventHandler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]
EventBatchHandler = Callable[[AsyncSession, Sequence[EventEnvelope]], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """What a service consumes: a durable consumer on one context's stream, for some subjects.

    ``handler`` applies one event at a time; ``batch_handler``, for a busy stream, all the new events of a fetched
    batch at once (in set-based statements), in the same transaction as their inbox rows. Exactly one is given.
    """

    durable: str
    context: str
    subjects: Sequence[str]
    handler: EventHandler | None = None
    batch_handler: EventBatchHandler | None = None

    def __post_init__(self) -> None:
        if (self.handler is None) == (self.batch_handler is None):
            raise ValueError(f"subscription {self.durable}: give exactly one of handler and batch_handler")


def _message_event_id(message: Msg) -> UUID:
    """The publisher's ``Nats-Msg-Id`` when it is an event id, otherwise a fresh id for the record."""
    try:
        return UUID((message.header or {}).get("Nats-Msg-Id", ""))
    except ValueError:
        return uuid7()


class EventConsumer:
    """Fetches, handles and acks; a handler failure is retried with backoff and dead-lettered at the bound."""

    def __init__(
        self,
        subscription: Subscription,
        *,
        bus: EventBus,
        session_maker: async_sessionmaker[AsyncSession],
        tables: MessagingTables,
        max_deliver: int = 5,
        batch_size: int = 50,
        ack_wait_seconds: float = 30.0,
        idle_resubscribe_seconds: float = 30.0,
    ) -> None:
        self.subscription = subscription
        self._bus = bus
        self._session_maker = session_maker
        self._tables = tables
        self._max_deliver = max_deliver
        self._batch_size = batch_size
        self._ack_wait = ack_wait_seconds
        self._idle_resubscribe = idle_resubscribe_seconds

    def consumer_config(self) -> ConsumerConfig:
        subjects = list(self.subscription.subjects)
        return ConsumerConfig(
            durable_name=self.subscription.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self._ack_wait,
            # Our own bound (with a dead-letter record) applies; the server never drops a message silently.
            max_deliver=-1,
            filter_subjects=subjects if len(subjects) > 1 else None,
            filter_subject=subjects[0] if len(subjects) == 1 else None,
        )

    async def run(self) -> None:
        while True:
            await self._bus.wait_connected()
            generation = self._bus.generation
            try:
                await self._consume_until_reconnect(self._bus.jetstream, generation)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - resubscribe after any broker-side failure
                _log.warning("consumer loop failed", durable=self.subscription.durable, error=str(exc))
                await asyncio.sleep(1)

    async def _consume_until_reconnect(self, js: JetStreamContext, generation: int) -> None:
        subscription = await js.pull_subscribe_bind(
            durable=await self._ensure_consumer(js), stream=stream_name(self.subscription.context)
        )
        idle_seconds = 0.0
        try:
            # A reconnection or a long silence means the subscription may be stale: subscribe again.
            while self._bus.generation == generation and idle_seconds < self._idle_resubscribe:
                try:
                    messages = await subscription.fetch(self._batch_size, timeout=1)
                except TimeoutError:
                    idle_seconds += 1
                    continue
                idle_seconds = 0.0
                await self.handle_batch(messages)
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _ensure_consumer(self, js: JetStreamContext) -> str:
        await js.add_consumer(stream_name(self.subscription.context), self.consumer_config())
        return self.subscription.durable

    async def handle_batch(self, messages: Sequence[Msg]) -> None:
        """A fetched batch in one transaction (one inbox insert, one commit); any failure: one by one instead.

        The inbox still records every event id with its effect, so a redelivered event changes nothing. When a
        handler fails the whole batch rolls back and each message goes through ``handle``, which retries and
        dead-letters only the one that fails.
        """
        if len(messages) <= 1:
            for message in messages:
                await self.handle(message)
            return
        try:
            events = [decode_event(message.data) for message in messages]
        except msgspec.DecodeError:
            for message in messages:
                await self.handle(message)
            return
        try:
            await self._apply_all_once(events)
        except Exception as exc:  # noqa: BLE001 - every event is tried again on its own
            _log.info("event batch failed, handling one by one", durable=self.subscription.durable, error=str(exc))
            for message in messages:
                await self.handle(message)
            return
        for message in messages:
            await message.ack()

    async def _apply_all_once(self, events: Sequence[EventEnvelope]) -> None:
        """The events' effects in one transaction, each applied only if the inbox has not recorded it yet."""
        inbox = self._tables.inbox
        with running_system_path(SystemPath.CONSUMER):
            async with self._session_maker() as session, session.begin():
                first_time = set(
                    (
                        await session.execute(
                            insert(inbox)
                            .values(
                                [
                                    {"event_id": event.id, "consumer": self.subscription.durable, "subject": event.type}
                                    for event in events
                                ]
                            )
                            .on_conflict_do_nothing()
                            .returning(inbox.c.event_id)
                        )
                    ).scalars()
                )
                fresh = []
                for event in events:
                    if event.id in first_time:
                        first_time.discard(event.id)  # the same event twice in one batch: applied once
                        fresh.append(event)
                if self.subscription.batch_handler is not None:
                    await self.subscription.batch_handler(session, fresh)
                    return
                assert self.subscription.handler is not None
                for event in fresh:
                    token = request_context.set(RequestContext(event.request_id, event.ip, event.user_agent))
                    try:
                        await self.subscription.handler(session, event)
                    finally:
                        request_context.reset(token)

    async def handle(self, message: Msg) -> None:
        deliveries = message.metadata.num_delivered or 1
        try:
            event = decode_event(message.data)
        except msgspec.DecodeError as exc:
            await self._dead_letter(message, None, deliveries, f"undecodable event: {exc}")
            await message.term()
            return
        try:
            await self._apply_all_once([event])
        except InvalidPayloadError as exc:
            # Its payload breaks its contract: every delivery would fail alike, so it is a dead letter at once.
            await self._dead_letter(message, event, deliveries, str(exc))
            await message.term()
            return
        except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then dead-lettered
            _log.warning(
                "event handler failed",
                durable=self.subscription.durable,
                event_id=str(event.id),
                type=event.type,
                deliveries=deliveries,
                error=str(exc),
            )
            if deliveries >= self._max_deliver:
                await self._dead_letter(message, event, deliveries, repr(exc))
                await message.term()
            else:
                await message.nak(delay=min(30.0, 0.5 * 2**deliveries))
            return
        await message.ack()

    async def _dead_letter(self, message: Msg, event: EventEnvelope | None, deliveries: int, error: str) -> None:
        dead_letters = self._tables.dead_letters
        async with self._session_maker() as session, session.begin():
            await session.execute(
                insert(dead_letters)
                .values(
                    event_id=event.id if event else _message_event_id(message),
                    consumer=self.subscription.durable,
                    subject=message.subject,
                    payload=msgspec.to_builtins(event) if event else None,
                    raw_payload=None if event else message.data.decode("utf-8", "replace"),
                    deliveries=deliveries,
                    error=error,
                )
                .on_conflict_do_nothing()
            )
        _log.error("event dead-lettered", durable=self.subscription.durable, subject=message.subject, error=error)


async def delete_expired_dead_letters(engine: AsyncEngine, tables: MessagingTables, max_age: timedelta) -> int:
    """Dead letters hold whole events; like the streams they came from, they are kept for a bounded time."""
    dead_letters = tables.dead_letters
    async with engine.begin() as connection:
        deleted = await connection.execute(
            dead_letters.delete().where(dead_letters.c.created_at < func.now() - max_age)
        )
    return int(deleted.rowcount)


async def expire_dead_letters(
    engine: AsyncEngine, tables: MessagingTables, max_age: timedelta, *, every_seconds: float = 600.0
) -> None:
    """Background loop: deletes dead letters older than ``max_age`` every ``every_seconds``."""
    while True:
        try:
            deleted = await delete_expired_dead_letters(engine, tables, max_age)
            if deleted:
                _log.info("expired dead letters deleted", count=deleted, max_age_days=max_age / timedelta(days=1))
        except Exception as exc:  # noqa: BLE001 - retried next round; the database may be briefly away
            _log.warning("dead-letter expiry failed", error=str(exc))
        await asyncio.sleep(every_seconds)
