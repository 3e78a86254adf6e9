"""Each service connects to NATS as itself and may publish only its own events and use only its own consumers.

Runs against an embedded NATS of its own, configured exactly as the devstack configures the embedded default
(whatever NATS the rest of the run uses), and the run's real PostgreSQL for the consumer's inbox.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from parla_devstack.nats import EmbeddedNats
from parla_shared.events.bus import EventBus, stream_name
from parla_shared.events.consumer import EventConsumer, Subscription
from parla_shared.events.envelope import EventEnvelope, encode_event, new_event
from parla_shared.events.permissions import (
    DURABLES,
    NatsPasswords,
    inbox_prefix,
    nats_user,
    render_authorization,
)
from parla_shared.events.tables import MessagingTables
from parla_testing import free_port


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[EmbeddedNats]:
    embedded = EmbeddedNats(tmp_path / "nats", free_port(), tmp_path / "nats.log", passwords=NatsPasswords.generate())
    await asyncio.to_thread(embedded.start)
    yield embedded
    await asyncio.to_thread(embedded.stop)


class Identity:
    """A connection as one service's NATS user, recording the errors the server sends it."""

    def __init__(self, server: EmbeddedNats, service: str) -> None:
        assert server.passwords is not None
        self.server = server
        self.service = service
        self.password = server.passwords.services[service]
        self.errors: list[str] = []

    async def _error(self, error: Exception) -> None:
        self.errors.append(str(error))

    async def connect(self) -> NatsClient:
        return await nats.connect(
            self.server.url,
            user=nats_user(self.service),
            password=self.password,
            inbox_prefix=inbox_prefix(self.service),
            error_cb=self._error,
            allow_reconnect=False,
        )

    def bus(self) -> EventBus:
        return EventBus(
            self.server.url,
            name=f"test-{self.service}",
            stream_contexts=[self.service],
            user=nats_user(self.service),
            password=self.password,
            inbox_prefix=inbox_prefix(self.service),
        )


async def _stored(server: EmbeddedNats, context: str) -> int:
    admin = await nats.connect(server.admin_url)
    try:
        return int((await admin.jetstream().stream_info(stream_name(context))).state.messages)
    finally:
        await admin.close()


async def _eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("condition not reached in time")
        await asyncio.sleep(0.05)


def _event(event_type: str) -> EventEnvelope:
    user_id = uuid.uuid4()
    return new_event(event_type, {"user_id": str(user_id)}, producer="test", subject_id=user_id)


async def test_the_embedded_default_refuses_anonymous_and_wrong_password_clients(server: EmbeddedNats) -> None:
    errors: list[str] = []

    async def record(error: Exception) -> None:
        errors.append(str(error))

    for credentials in ({}, {"user": nats_user("progress"), "password": "wrong"}):
        errors.clear()
        with pytest.raises(Exception):  # noqa: B017, PT011 - nats-py ends with "no servers available"
            await nats.connect(server.url, allow_reconnect=False, connect_timeout=2, error_cb=record, **credentials)
        assert any("authorization violation" in error.lower() for error in errors), errors


async def test_a_service_cannot_forge_another_contexts_event(server: EmbeddedNats) -> None:
    identity_bus = Identity(server, "identity").bus()
    await identity_bus.start()
    await asyncio.wait_for(identity_bus.wait_connected(), 10)  # identity made its own stream
    progress = Identity(server, "progress")
    connection = await progress.connect()
    try:
        forged = _event("parla.identity.user.deleted")
        with pytest.raises(Exception):  # noqa: B017, PT011 - refused: no ack ever comes (timeout or no responders)
            await connection.jetstream().publish(forged.type, encode_event(forged), timeout=2)
        await _eventually(lambda: any("permissions violation" in error.lower() for error in progress.errors))
        assert any("parla.identity.user.deleted" in error for error in progress.errors)
        assert await _stored(server, "identity") == 0

        # Nor may it create, delete or reconfigure identity's stream, or read identity's replies.
        for subject in (
            f"$JS.API.STREAM.CREATE.{stream_name('identity')}",
            f"$JS.API.STREAM.DELETE.{stream_name('identity')}",
            f"$JS.API.STREAM.PURGE.{stream_name('identity')}",
        ):
            progress.errors.clear()
            await connection.publish(subject, b"{}")
            await _eventually(lambda: bool(progress.errors))
            assert "permissions violation" in progress.errors[0].lower(), subject
        progress.errors.clear()
        await connection.subscribe("_INBOX.identity.>")
        await _eventually(lambda: bool(progress.errors))
        assert "permissions violation" in progress.errors[0].lower()
    finally:
        await connection.close()
        await identity_bus.close()


async def test_a_service_cannot_take_another_consumers_messages(server: EmbeddedNats) -> None:
    analytics = Identity(server, "analytics")
    connection = await analytics.connect()
    try:
        # progress's durable consumer on identity's stream: analytics may neither create nor fetch from it.
        for subject in (
            f"$JS.API.CONSUMER.CREATE.{stream_name('identity')}.progress-identity",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream_name('identity')}.progress-identity",
        ):
            analytics.errors.clear()
            await connection.publish(subject, b"{}")
            await _eventually(lambda: bool(analytics.errors))
            assert "permissions violation" in analytics.errors[0].lower(), subject
    finally:
        await connection.close()


async def test_normal_flows_work_under_the_restricted_identities(
    server: EmbeddedNats, analytics_engine: AsyncEngine
) -> None:
    """identity publishes to its own stream; analytics' durable consumer (its own name) fetches, handles and
    acks it: no permission error on either side."""
    producer = Identity(server, "identity")
    consumer_identity = Identity(server, "analytics")
    identity_bus, analytics_bus = producer.bus(), consumer_identity.bus()
    handled: list[EventEnvelope] = []

    async def handle(_session: AsyncSession, event: EventEnvelope) -> None:
        handled.append(event)

    durable = "analytics-identity"
    assert DURABLES["analytics"][durable] == "identity"
    consumer = EventConsumer(
        Subscription(durable, "identity", ["parla.identity.>"], handle),
        bus=analytics_bus,
        session_maker=async_sessionmaker(analytics_engine),
        tables=MessagingTables("analytics"),
    )
    await analytics_bus.start()
    task = asyncio.create_task(consumer.run())
    await identity_bus.start()
    try:
        await asyncio.wait_for(identity_bus.wait_connected(), 10)
        events = [_event("parla.identity.user.registered") for _ in range(3)]
        for event in events:
            await identity_bus.jetstream.publish(
                event.type, encode_event(event), headers={"Nats-Msg-Id": str(event.id)}, timeout=5
            )
        await _eventually(lambda: len(handled) == len(events), timeout=30)
        assert [event.id for event in handled] == [event.id for event in events]
        admin = await nats.connect(server.admin_url)
        try:
            for _ in range(100):  # the ack follows the handler's commit
                info = await admin.jetstream().consumer_info(stream_name("identity"), durable)
                if info.ack_floor is not None and info.ack_floor.stream_seq == len(events):
                    break
                await asyncio.sleep(0.1)
            assert info.ack_floor is not None
            assert info.ack_floor.stream_seq == len(events)
        finally:
            await admin.close()
        assert not [line for line in server.log_path.read_text().splitlines() if "Violation" in line]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await identity_bus.close()
        await analytics_bus.close()
        async with analytics_engine.begin() as connection:
            await connection.execute(
                text("DELETE FROM analytics.inbox WHERE consumer = :durable AND event_id = ANY(:ids)"),
                {"durable": durable, "ids": [event.id for event in handled]},
            )


def test_the_deployed_configuration_is_the_rendered_one() -> None:
    """deploy/nats/auth.conf is what this module renders, with the passwords left to the server's environment."""
    from parla_shared.events.permissions import render_deploy_config

    deployed = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "auth.conf"
    assert deployed.read_text() == render_deploy_config()
    assert "$PARLA_NATS_PROGRESS_PASSWORD" in render_authorization()


def test_the_permissions_cover_every_services_consumers() -> None:
    """The durable consumers each service runs are exactly the ones its NATS user may create and read."""
    from parla_analytics.consumers import subscriptions as analytics_subscriptions
    from parla_progress.consumers import IDENTITY_SUBSCRIPTION

    running = {
        "identity": [],
        "curriculum": [],
        "progress": [IDENTITY_SUBSCRIPTION],
        "analytics": analytics_subscriptions(b"k" * 32),
    }
    for service, subscriptions in running.items():
        assert {s.durable: s.context for s in subscriptions} == dict(DURABLES[service]), service
        assert all(s.durable.startswith(f"{service}-") for s in subscriptions)
