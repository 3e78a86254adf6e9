"""Redelivered and duplicated events change no count."""

from __future__ import annotations

from uuid import uuid4

import asyncpg
import httpx
from conftest import Producer, envelope, wait_processed
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from parla_analytics.consumers import subscriptions
from parla_analytics.settings import AnalyticsSettings
from parla_shared.events.consumer import EventConsumer
from parla_shared.events.tables import MessagingTables
from parla_testing import TokenFactory, bearer


async def _counts(pool: asyncpg.Pool, learner: str, lesson: str) -> tuple[int, int, int, int]:
    row = await pool.fetchrow(
        "SELECT (SELECT count(*) FROM analytics.user_activity_log WHERE user_id = $1::uuid) AS activity, "
        "(SELECT count(*) FROM analytics.daily_active_learners WHERE user_id = $1::uuid) AS active_days, "
        "(SELECT starts FROM analytics.lesson_stats WHERE lesson_id = $2::uuid) AS starts, "
        "(SELECT coalesce(sum(attempts), 0) FROM analytics.exercise_stats WHERE lesson_id = $2::uuid) AS attempts",
        learner,
        lesson,
    )
    return row["activity"], row["active_days"], row["starts"], row["attempts"]


async def test_the_same_event_published_twice_counts_once(
    client: httpx.AsyncClient, producers: dict[str, Producer], analytics_db: asyncpg.Pool, make_token: TokenFactory
) -> None:
    learner, lesson = str(uuid4()), str(uuid4())
    started = envelope(
        "parla.progress.lesson.started",
        {
            "user_id": learner,
            "course_id": str(uuid4()),
            "lesson_id": lesson,
            "session_id": str(uuid4()),
            "practice": False,
        },
    )
    answered = envelope(
        "parla.progress.exercise.answered",
        {
            "user_id": learner,
            "course_id": str(uuid4()),
            "lesson_id": lesson,
            "session_id": str(uuid4()),
            "exercise_id": str(uuid4()),
            "correct": True,
            "attempt_number": 1,
            "time_spent_seconds": 2,
            "hints_used": 0,
            "hearts_lost": 0,
            "xp_earned": 0,
        },
    )
    progress = producers["progress"]
    for event in (started, answered):
        await progress.publish(event)
        # A relay retry after JetStream's duplicate window: a second stream message with the same event.
        await progress.publish(event, msg_id=f"{event.id}-replayed")
    # A marker published after the copies: once it is processed, so are the copies before it.
    marker = envelope(
        "parla.progress.xp.earned",
        {"user_id": str(uuid4()), "amount": 1, "source": "lesson", "local_date": "2026-11-25"},
    )
    await progress.publish(marker)
    await wait_processed(analytics_db, started, answered, marker)
    assert await _counts(analytics_db, learner, lesson) == (2, 1, 1, 1)
    admin = bearer(make_token(uuid4(), roles=("admin",)))
    items = (await client.get(f"/users/{learner}/activity", headers=admin)).json()["items"]
    assert sorted(item["id"] for item in items) == sorted([str(started.id), str(answered.id)])


async def test_a_redelivery_after_a_nak_counts_once(
    client: httpx.AsyncClient,
    producers: dict[str, Producer],
    analytics_db: asyncpg.Pool,
    settings: AnalyticsSettings,
) -> None:
    learner, lesson = str(uuid4()), str(uuid4())
    event = await producers["progress"].emit(
        "parla.progress.lesson.started",
        {
            "user_id": learner,
            "course_id": str(uuid4()),
            "lesson_id": lesson,
            "session_id": str(uuid4()),
            "practice": False,
        },
    )
    await wait_processed(analytics_db, event)
    before = await _counts(analytics_db, learner, lesson)
    assert before == (1, 1, 1, 0)

    # The same message fetched again from the stream, NAK'd, and its redelivery handed to the real consumer
    # (the app's own durable name, so its inbox): as when an ack is lost after the effect committed.
    bus = producers["progress"].bus
    js = bus.jetstream
    durable = f"analytics-test-redelivery-{uuid4().hex[:8]}"
    await js.add_consumer(
        "PARLA_PROGRESS",
        ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT, filter_subject=event.type, ack_wait=30),
    )
    pull = await js.pull_subscribe_bind(durable=durable, stream="PARLA_PROGRESS")
    try:
        message = None
        for _ in range(100):
            batch = await pull.fetch(50, timeout=5)
            message = next((m for m in batch if str(event.id) in m.data.decode()), None)
            for other in batch:
                if other is not message:
                    await other.ack()
            if message is not None:
                break
        assert message is not None
        await message.nak()
        redelivered = None
        for _ in range(20):
            batch = await pull.fetch(1, timeout=5)
            if batch and str(event.id) in batch[0].data.decode():
                redelivered = batch[0]
                break
        assert redelivered is not None
        assert redelivered.metadata.num_delivered == 2
        app_subscription = next(s for s in subscriptions(settings.audit_key) if s.durable == "analytics-progress")
        engine = create_async_engine(
            settings.sqlalchemy_url, pool_size=1, connect_args={"server_settings": {"search_path": "analytics"}}
        )
        try:
            consumer = EventConsumer(
                app_subscription, bus=bus, session_maker=async_sessionmaker(engine), tables=MessagingTables("analytics")
            )
            await consumer.handle(redelivered)
        finally:
            await engine.dispose()
    finally:
        await pull.unsubscribe()
        await js.delete_consumer("PARLA_PROGRESS", durable)
    assert await _counts(analytics_db, learner, lesson) == before
