"""Erasure (FR-5) and weekly signup retention cohorts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import asyncpg
import httpx
from conftest import Producer, envelope, wait_processed

from parla_shared.events.envelope import EventEnvelope
from parla_testing import TokenFactory, bearer


async def test_a_deleted_user_loses_their_activity_and_keeps_an_audit_entry_with_the_id_only(
    client: httpx.AsyncClient, producers: dict[str, Producer], analytics_db: asyncpg.Pool, make_token: TokenFactory
) -> None:
    learner_id, course_id, lesson_id = uuid4(), uuid4(), uuid4()
    user = str(learner_id)
    identity, progress = producers["identity"], producers["progress"]
    lesson = {"user_id": user, "course_id": str(course_id), "lesson_id": str(lesson_id), "session_id": str(uuid4())}
    events = [
        await identity.emit(
            "parla.identity.user.registered",
            {
                "user_id": user,
                "email": "gone@example.com",
                "name": "Gone",
                "timezone": "UTC",
                "daily_xp_goal": 10,
                "method": "password",
            },
        ),
        await progress.emit("parla.progress.lesson.started", {**lesson, "practice": False}),
        await progress.emit(
            "parla.progress.lesson.completed",
            {
                **lesson,
                "score": 90,
                "correct_count": 9,
                "total_count": 10,
                "perfect": False,
                "xp_earned": 10,
                "practice": False,
            },
        ),
    ]
    await wait_processed(analytics_db, *events)
    admin = bearer(make_token(uuid4(), roles=("admin",)))
    assert len((await client.get(f"/users/{learner_id}/activity", headers=admin)).json()["items"]) == 3

    deleted = await identity.emit(
        "parla.identity.user.deleted", {"user_id": user, "deleted_by": user, "reason": "self"}, actor_id=learner_id
    )
    await wait_processed(analytics_db, deleted)
    assert (await client.get(f"/users/{learner_id}/activity", headers=admin)).json()["items"] == []
    for table in ("user_activity_log", "daily_active_learners", "user_active_weeks", "user_signups"):
        query = f"SELECT count(*) FROM analytics.{table} WHERE user_id = $1"  # noqa: S608 - fixed names
        assert await analytics_db.fetchval(query, learner_id) == 0, table
    # Anonymous aggregates stay: the lesson was still started and completed once.
    rates = (await client.get(f"/lessons/completion-rates?course_id={course_id}", headers=admin)).json()
    assert rates["lessons"][0]["completions"] == 1

    entries = (await client.get("/audit-log?action=user_delete", headers=admin)).json()["items"]
    entry = next(entry for entry in entries if entry["id"] == str(deleted.id))
    assert entry["record_id"] == user
    assert entry["old_values"] == {"user_id": user}
    assert entry["new_values"] == {"reason": "self", "deleted_by": user}
    assert "gone@example.com" not in str(entry)

    # A late event about the erased user (another stream, delivered after the deletion) brings nothing back.
    late = await progress.emit(
        "parla.progress.xp.earned", {"user_id": user, "amount": 5, "source": "lesson", "local_date": "2026-11-25"}
    )
    await wait_processed(analytics_db, late)
    assert (await client.get(f"/users/{learner_id}/activity", headers=admin)).json()["items"] == []


async def test_weekly_signup_cohorts_count_the_learners_active_in_each_later_week(
    client: httpx.AsyncClient, producers: dict[str, Producer], analytics_db: asyncpg.Pool, make_token: TokenFactory
) -> None:
    # A cohort week of its own, far in the past, so the counts belong to this test alone.
    cohort = datetime(2021, 3, 1, 9, 0, tzinfo=UTC)  # a Monday
    identity, progress = producers["identity"], producers["progress"]
    alice, bob, carol = (str(uuid4()) for _ in range(3))

    def registered(user: str, at: datetime) -> EventEnvelope:
        return envelope(
            "parla.identity.user.registered",
            {
                "user_id": user,
                "email": f"{user}@example.com",
                "name": "x",
                "timezone": "UTC",
                "daily_xp_goal": 10,
                "method": "password",
            },
            occurred_at=at,
        )

    def login(user: str, at: datetime) -> EventEnvelope:
        return envelope("parla.identity.user.logged_in", {"user_id": user, "method": "password"}, occurred_at=at)

    def xp(user: str, at: datetime) -> EventEnvelope:
        return envelope(
            "parla.progress.xp.earned",
            {"user_id": user, "amount": 5, "source": "lesson", "local_date": at.date().isoformat()},
            occurred_at=at,
        )

    # Carol's progress event of week 1 is published before her registration (streams don't order each other).
    carol_early = xp(carol, cohort + timedelta(days=8))
    await progress.publish(carol_early)
    await wait_processed(analytics_db, carol_early)
    events = [
        registered(alice, cohort),
        registered(bob, cohort + timedelta(days=2)),
        registered(carol, cohort + timedelta(days=6)),
        login(alice, cohort + timedelta(days=7)),
        login(alice, cohort + timedelta(days=9)),
        login(bob, cohort + timedelta(days=15)),
    ]
    for event in events:
        await identity.publish(event)
    await wait_processed(analytics_db, *events)

    admin = bearer(make_token(uuid4(), roles=("admin",)))
    body = (await client.get("/engagement/retention-cohorts?from=2021-03-01&to=2021-03-07", headers=admin)).json()
    assert len(body["cohorts"]) == 1
    cohort_row = body["cohorts"][0]
    assert cohort_row["cohort_week"] == "2021-03-01"
    assert cohort_row["signups"] == 3
    weeks = {week["week_number"]: (week["learners"], week["rate"]) for week in cohort_row["weeks"]}
    assert weeks[0] == (3, 1.0)
    assert weeks[1] == (2, 0.6667)  # alice (twice in the week: once) and carol
    assert weeks[2] == (1, 0.3333)
    assert weeks[3] == (0, 0.0)
    assert len(cohort_row["weeks"]) == 53  # capped at a year of weeks
    # The same week's daily actives count alice once for the two logins of different days.
    daily = (await client.get("/engagement/daily-active?from=2021-03-08&to=2021-03-10", headers=admin)).json()
    assert [day["learners"] for day in daily["days"]] == [1, 1, 1]
