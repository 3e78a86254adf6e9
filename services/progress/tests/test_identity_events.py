"""Identity's events, published on the real NATS, feed the learner projection; a deleted user is erased."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import nats
import pytest
from conftest import Content, LearnerClient, NewLearner

from parla_progress.clock import ManualClock
from parla_shared.events.bus import ensure_streams
from parla_shared.events.envelope import encode_event, new_event
from parla_testing import TestEnvironment

PROGRESS_TABLES = (
    "learners",
    "user_courses",
    "user_lesson_progress",
    "user_exercise_interactions",
    "exercise_memory",
    "league_memberships",
    "user_daily_xp",
    "user_hearts_log",
    "user_achievements",
    "lesson_sessions",
    "lesson_session_answers",
)

# Publishes an identity event (its type and data) as identity would.
Publish = Callable[[str, dict[str, Any]], Awaitable[None]]


@pytest.fixture
async def publish(test_env: TestEnvironment, client: httpx.AsyncClient) -> AsyncIterator[Publish]:
    del client  # the service is up
    connection = await nats.connect(test_env.nats_url)
    js = connection.jetstream()
    await ensure_streams(js, ["identity"])  # identity's own stream, as identity makes it

    async def send(event_type: str, data: dict[str, Any]) -> None:
        event = new_event(event_type, data, producer="identity", subject_id=data["user_id"])
        await js.publish(event_type, encode_event(event), headers={"Nats-Msg-Id": str(event.id)})

    yield send
    await connection.close()


async def _eventually(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(300):
        if await check():
            return
        await asyncio.sleep(0.1)
    pytest.fail("the event was not applied")


async def test_registration_and_updates_set_timezone_and_goal(new_learner: NewLearner, publish: Publish) -> None:
    learner: LearnerClient = new_learner()
    user_id = str(learner.user_id)
    await publish(
        "parla.identity.user.registered",
        {
            "user_id": user_id,
            "email": "a@example.com",
            "name": "A",
            "timezone": "Asia/Tokyo",
            "daily_xp_goal": 30,
            "method": "password",
        },
    )

    async def registered() -> bool:
        me = await learner.me()
        return bool(me["timezone"] == "Asia/Tokyo" and me["daily_xp_goal"] == 30)

    await _eventually(registered)
    await publish(
        "parla.identity.user.updated",
        {
            "user_id": user_id,
            "changes": {"daily_xp_goal": {"old": 30, "new": 50}},
            "timezone": "Asia/Tokyo",
            "daily_xp_goal": 50,
        },
    )

    async def updated() -> bool:
        return bool((await learner.me())["daily_xp_goal"] == 50)

    await _eventually(updated)


async def test_an_update_before_any_request_creates_the_learner(new_learner: NewLearner, publish: Publish) -> None:
    learner: LearnerClient = new_learner()
    await publish(
        "parla.identity.user.updated",
        {"user_id": str(learner.user_id), "changes": {}, "timezone": "America/Los_Angeles", "daily_xp_goal": 10},
    )

    async def applied() -> bool:
        return bool((await learner.me())["timezone"] == "America/Los_Angeles")

    await _eventually(applied)


async def test_a_deleted_user_loses_every_progress_row(
    new_learner: NewLearner, content: Content, publish: Publish, db: asyncpg.Connection
) -> None:
    learner: LearnerClient = new_learner()
    bystander: LearnerClient = new_learner()
    for who in (learner, bystander):
        await who.enrol(content.test_id)
        session = await who.start((await who.lessons(content.test_id))[0]["lesson_id"])
        await who.answer_all(session, wrong={0})
        assert (await who.complete(session["session_id"])).status_code == 200

    async def rows(user_id: uuid.UUID) -> dict[str, int]:
        return {
            table: await db.fetchval(f"SELECT count(*) FROM progress.{table} WHERE user_id = $1", user_id)  # noqa: S608
            for table in PROGRESS_TABLES
        }

    assert all(count > 0 for count in (await rows(learner.user_id)).values())
    await publish(
        "parla.identity.user.deleted",
        {"user_id": str(learner.user_id), "deleted_by": str(learner.user_id), "reason": "self"},
    )

    async def erased() -> bool:
        return set((await rows(learner.user_id)).values()) == {0}

    await _eventually(erased)
    assert all(count > 0 for count in (await rows(bystander.user_id)).values())

    # A token still valid after the deletion, or a late event, cannot bring the learner back.
    again = await learner.enrol(content.test_id)
    assert again.status_code == 401
    assert again.json()["title"] == "Account deleted"
    await publish(
        "parla.identity.user.updated",
        {"user_id": str(learner.user_id), "changes": {}, "timezone": "Asia/Tokyo", "daily_xp_goal": 10},
    )
    marker: LearnerClient = new_learner()
    await publish(
        "parla.identity.user.updated",
        {"user_id": str(marker.user_id), "changes": {}, "timezone": "Asia/Tokyo", "daily_xp_goal": 10},
    )

    async def marker_applied() -> bool:
        return bool((await marker.me())["timezone"] == "Asia/Tokyo")

    await _eventually(marker_applied)  # events are applied in order: the late one was handled before
    assert set((await rows(learner.user_id)).values()) == {0}


async def test_a_timezone_change_neither_breaks_nor_doubles_the_streak(
    new_learner: NewLearner, content: Content, publish: Publish, clock: ManualClock
) -> None:
    learner: LearnerClient = new_learner()

    async def move_to(timezone: str) -> None:
        await publish(
            "parla.identity.user.updated",
            {"user_id": str(learner.user_id), "changes": {}, "timezone": timezone, "daily_xp_goal": 20},
        )

        async def moved() -> bool:
            return bool((await learner.me())["timezone"] == timezone)

        await _eventually(moved)

    await learner.enrol(content.test_id)
    try:
        await move_to("Europe/Madrid")
        clock.set(datetime(2032, 1, 1, 21, 0, tzinfo=UTC))  # 22:00 on 1 Jan in Madrid
        assert (await learner.complete_a_lesson(content.test_id))["current_streak"] == 1
        await move_to("America/Los_Angeles")
        clock.set(datetime(2032, 1, 2, 4, 0, tzinfo=UTC))  # 20:00 on 1 Jan in Los Angeles: 1 Jan again
        assert (await learner.complete_a_lesson(content.test_id))["current_streak"] == 1  # not doubled
        clock.set(datetime(2032, 1, 3, 4, 0, tzinfo=UTC))  # 20:00 on 2 Jan in Los Angeles
        assert (await learner.complete_a_lesson(content.test_id))[
            "current_streak"
        ] == 2  # not broken (Madrid's 2 Jan had ended)
        clock.set(datetime(2032, 1, 4, 7, 59, tzinfo=UTC))  # 23:59 on 3 Jan in Los Angeles
        assert (await learner.me())["current_streak"] == 2
        clock.set(datetime(2032, 1, 4, 8, 1, tzinfo=UTC))  # 4 Jan in Los Angeles: 3 Jan went by
        assert (await learner.me())["current_streak"] == 0
    finally:
        clock.release()


async def test_a_first_request_racing_the_deletion_leaves_nothing_behind(
    new_learner: NewLearner, content: Content, publish: Publish, db: asyncpg.Connection, test_env: TestEnvironment
) -> None:
    """The learner's very first request creates their row while identity's user.deleted is being handled:
    whichever transaction commits first, nothing of the user is left once the erasure is done (FR-5)."""
    learner: LearnerClient = new_learner()

    async def lock_waiters() -> int:
        return int(
            await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )

    async def erasure_recorded() -> bool:
        return bool(await db.fetchval("SELECT count(*) FROM progress.erased_users WHERE user_id = $1", learner.user_id))

    blocker = await asyncpg.connect(test_env.admin_dsn)
    try:
        # Holding the enrolment's unique key stops the request right after it created the learner row, uncommitted.
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute(
            "INSERT INTO progress.user_courses (user_id, course_id) VALUES ($1, $2)", learner.user_id, content.test_id
        )
        enrolment = asyncio.create_task(learner.enrol(content.test_id))

        async def request_waits() -> bool:
            return await lock_waiters() >= 1

        await _eventually(request_waits)
        await publish(
            "parla.identity.user.deleted",
            {"user_id": str(learner.user_id), "deleted_by": str(learner.user_id), "reason": "self"},
        )

        async def erasure_done_or_waiting() -> bool:
            return await erasure_recorded() or await lock_waiters() >= 2

        await _eventually(erasure_done_or_waiting)
        await transaction.rollback()
        assert (await enrolment).status_code in (201, 401)
    finally:
        await blocker.close()

    await _eventually(erasure_recorded)  # recorded in the transaction that deletes the user's rows
    for table in PROGRESS_TABLES:
        count = await db.fetchval(f"SELECT count(*) FROM progress.{table} WHERE user_id = $1", learner.user_id)  # noqa: S608
        assert count == 0, table


async def test_a_first_request_behind_a_running_deletion_is_refused(
    new_learner: NewLearner, content: Content, publish: Publish, db: asyncpg.Connection, test_env: TestEnvironment
) -> None:
    """The other order: the erasure has begun (its learner row is not committed yet) when the learner's first
    request comes; the request waits for it and then finds the account deleted, leaving nothing (FR-5)."""
    learner: LearnerClient = new_learner()

    async def lock_waiters() -> int:
        return int(
            await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )

    blocker = await asyncpg.connect(test_env.admin_dsn)
    try:
        # Holding the erased_users key stops the erasure just before it records the user and commits.
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("INSERT INTO progress.erased_users (user_id) VALUES ($1)", learner.user_id)
        await publish(
            "parla.identity.user.deleted",
            {"user_id": str(learner.user_id), "deleted_by": str(learner.user_id), "reason": "self"},
        )

        async def erasure_waits() -> bool:
            return await lock_waiters() >= 1

        await _eventually(erasure_waits)
        enrolment = asyncio.create_task(learner.enrol(content.test_id))

        async def request_waits_or_is_done() -> bool:
            return enrolment.done() or await lock_waiters() >= 2

        await _eventually(request_waits_or_is_done)
        await transaction.rollback()
        response = await enrolment
    finally:
        await blocker.close()

    assert response.status_code == 401, response.text
    assert response.json()["title"] == "Account deleted"
    for table in PROGRESS_TABLES:
        count = await db.fetchval(f"SELECT count(*) FROM progress.{table} WHERE user_id = $1", learner.user_id)  # noqa: S608
        assert count == 0, table
