"""Progress publishes its events through the outbox to JetStream, each with the request's id, IP and user agent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import nats
import pytest
from conftest import Content, LearnerClient, NewLearner
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy

from parla_shared.events.envelope import EventEnvelope, decode_event
from parla_testing import TestEnvironment


@pytest.fixture
async def jetstream(test_env: TestEnvironment, client: httpx.AsyncClient) -> AsyncIterator[JetStreamContext]:
    del client  # the service is up and has made its stream
    connection = await nats.connect(test_env.nats_url)
    yield connection.jetstream()
    await connection.close()


async def _events_of(js: JetStreamContext, user_id: uuid.UUID, expected: int) -> list[EventEnvelope]:
    """Every progress event about ``user_id``, waiting until at least ``expected`` arrived."""
    found: list[EventEnvelope] = []
    for _ in range(100):
        subscription = await js.pull_subscribe(
            "parla.progress.>",
            durable=None,
            stream="PARLA_PROGRESS",
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
        )
        found = []
        try:
            while True:
                try:
                    messages = await subscription.fetch(200, timeout=0.5)
                except TimeoutError:
                    break
                for message in messages:
                    event = decode_event(message.data)
                    if event.data.get("user_id") == str(user_id):
                        found.append(event)
        finally:
            await subscription.unsubscribe()
        if len(found) >= expected:
            return found
        await asyncio.sleep(0.2)
    return found


async def test_every_change_is_published_with_its_request(
    new_learner: NewLearner, content: Content, jetstream: JetStreamContext
) -> None:
    learner: LearnerClient = new_learner()
    headers = {"X-Request-ID": "progress-req-1", "User-Agent": "parla-tests/1.0", "X-Forwarded-For": "203.0.113.9"}
    learner.headers.update(headers)
    await learner.enrol(content.test_id)
    session = await learner.start((await learner.lessons(content.test_id))[0]["lesson_id"])
    await learner.answer_all(session, wrong={0})
    assert (await learner.complete(session["session_id"])).status_code == 200

    expected_types = {
        "parla.progress.enrollment.created": 1,
        "parla.progress.lesson.started": 1,
        "parla.progress.exercise.answered": 3,
        "parla.progress.hearts.changed": 1,
        "parla.progress.lesson.completed": 1,
        "parla.progress.xp.earned": 4,  # the lesson, First Lesson, Skill Master, XP Collector
        "parla.progress.streak.extended": 1,
        "parla.progress.achievement.unlocked": 3,
    }
    events = await _events_of(jetstream, learner.user_id, sum(expected_types.values()))
    counts: dict[str, int] = {}
    for event in events:
        counts[event.type] = counts.get(event.type, 0) + 1
    assert counts == expected_types
    for event in events:
        assert event.request_id == "progress-req-1"
        assert event.ip == "203.0.113.9"
        assert event.user_agent == "parla-tests/1.0"
        assert event.actor_id == learner.user_id
        assert event.producer == "progress"

    by_type = {event.type: event.data for event in events}
    completed = by_type["parla.progress.lesson.completed"]
    assert (completed["score"], completed["correct_count"], completed["total_count"]) == (50, 1, 2)
    assert (completed["perfect"], completed["practice"], completed["xp_earned"]) == (False, False, 15)
    hearts = by_type["parla.progress.hearts.changed"]
    assert (hearts["action"], hearts["hearts_before"], hearts["hearts_after"], hearts["reason"]) == (
        "lost",
        5,
        4,
        "incorrect_answer",
    )
    assert by_type["parla.progress.streak.extended"]["current_streak"] == 1
    answered = [event.data for event in events if event.type == "parla.progress.exercise.answered"]
    assert [(a["correct"], a["attempt_number"], a["hearts_lost"]) for a in answered] == [
        (False, 1, 1),
        (True, 2, 0),
        (True, 1, 0),
    ]
