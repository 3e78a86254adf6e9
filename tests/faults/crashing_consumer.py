"""A replica of analytics' progress consumer that dies between its effect and its ack.

Run by the fault suite as a process of its own, with analytics' environment (its database role, its NATS user): it
joins the durable consumer ``analytics-progress`` next to the running analytics service, applies the first batch it
fetches with the real handler and the real inbox transaction (committed), prints the batch's event ids, and kills
itself with SIGKILL before acknowledging anything — the crash the inbox must make harmless when JetStream delivers
the batch again to the surviving consumer.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Sequence

from nats.aio.msg import Msg
from sqlalchemy.ext.asyncio import async_sessionmaker

from parla_analytics.consumers import subscriptions
from parla_analytics.settings import AnalyticsSettings
from parla_shared.db import create_engine
from parla_shared.events.bus import EventBus
from parla_shared.events.consumer import EventConsumer
from parla_shared.events.envelope import decode_event
from parla_shared.events.permissions import inbox_prefix
from parla_shared.events.tables import MessagingTables


class CrashingConsumer(EventConsumer):
    async def handle_batch(self, messages: Sequence[Msg]) -> None:
        events = [decode_event(message.data) for message in messages]
        await self._apply_all_once(events)
        print(json.dumps([str(event.id) for event in events]), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


async def main() -> None:
    settings = AnalyticsSettings.from_env()
    engine = create_engine(settings, "analytics-crashing-consumer")
    bus = EventBus(
        settings.nats_url,
        name="parla-analytics-crashing",
        stream_contexts=[],
        user=settings.nats_user or None,
        password=settings.nats_password or None,
        inbox_prefix=inbox_prefix("analytics"),
    )
    await bus.start()
    progress = next(s for s in subscriptions(settings.audit_key) if s.durable == "analytics-progress")
    consumer = CrashingConsumer(
        progress,
        bus=bus,
        session_maker=async_sessionmaker(engine, expire_on_commit=False),
        tables=MessagingTables(settings.db_schema),
    )
    await consumer.run()


if __name__ == "__main__":
    asyncio.run(main())
