"""Learner activity (FR-19) and the rollups kept with it (FR-20, FR-21), in the consumer's transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from parla_analytics.domain.activity import utc_date, valid_ip, week_start
from parla_shared.db import driver_connection


def _user_lock_key(user_id: UUID) -> str:
    return f"analytics.user.{user_id}"


ERASED_AMONG = "SELECT user_id FROM erased_users WHERE user_id = ANY($1::uuid[])"


async def lock_user(session: AsyncSession, user_id: UUID) -> None:
    """Serializes per-user rollup changes across the identity and progress consumers (and erasure)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": _user_lock_key(user_id)}
    )


async def is_erased(session: AsyncSession, user_id: UUID) -> bool:
    found = await session.execute(text("SELECT 1 FROM erased_users WHERE user_id = :u"), {"u": user_id})
    return found.first() is not None


@dataclass(frozen=True)
class Activity:
    """One learner action for the activity log (an event's id, its user and what it says)."""

    event_id: UUID
    user_id: UUID
    activity_type: str
    activity_data: dict[str, Any] | None
    occurred_at: datetime
    ip: str | None
    user_agent: str | None


# Taken in one key order by every batch, so two batches never wait on each other in a cycle.
LOCK_USERS = (
    "SELECT pg_advisory_xact_lock(hashtextextended(key, 0)) FROM (SELECT unnest($1::text[]) AS key ORDER BY 1) AS keys"
)
INSERT_ACTIVITY = (
    "INSERT INTO user_activity_log (id, user_id, activity_type, activity_data, ip_address, user_agent, created_at) "
    "SELECT id, user_id, activity_type, data::jsonb, ip::inet, user_agent, created_at "
    "FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) "
    "AS a(id, user_id, activity_type, data, ip, user_agent, created_at) "
    "ON CONFLICT DO NOTHING"
)
ADD_ACTIVE_DAYS = (
    "WITH new_day AS (INSERT INTO daily_active_learners (activity_date, user_id) "
    "SELECT * FROM unnest($1::date[], $2::uuid[]) ON CONFLICT DO NOTHING RETURNING activity_date) "
    "INSERT INTO daily_active_counts (activity_date, learners) SELECT activity_date, count(*) FROM new_day "
    "GROUP BY activity_date "
    "ON CONFLICT (activity_date) DO UPDATE SET learners = daily_active_counts.learners + EXCLUDED.learners"
)
ADD_ACTIVE_WEEKS = (
    "WITH new_week AS (INSERT INTO user_active_weeks (user_id, week_start) "
    "SELECT * FROM unnest($1::uuid[], $2::date[]) ON CONFLICT DO NOTHING RETURNING user_id, week_start) "
    "INSERT INTO cohort_retention (cohort_week, week_number, learners) "
    "SELECT s.cohort_week, (w.week_start - s.cohort_week) / 7, count(*) "
    "FROM new_week w JOIN user_signups s ON s.user_id = w.user_id WHERE w.week_start >= s.cohort_week "
    "GROUP BY 1, 2 "
    "ON CONFLICT (cohort_week, week_number) DO UPDATE SET learners = cohort_retention.learners + EXCLUDED.learners"
)


async def record_activities(driver: asyncpg.Connection, activities: Sequence[Activity]) -> list[Activity]:
    """Activity rows plus the daily-active and weekly-retention rollups, a statement each for the whole batch;
    returns the activities recorded (an erased user's are not)."""
    if not activities:
        return []
    users = {activity.user_id for activity in activities}
    await driver.execute(LOCK_USERS, [_user_lock_key(user_id) for user_id in users])
    erased = {row[0] for row in await driver.fetch(ERASED_AMONG, list(users))}
    kept = [activity for activity in activities if activity.user_id not in erased]
    if not kept:
        return kept
    await driver.execute(
        INSERT_ACTIVITY,
        [activity.event_id for activity in kept],
        [activity.user_id for activity in kept],
        [activity.activity_type for activity in kept],
        [None if a.activity_data is None else json.dumps(a.activity_data, default=str) for a in kept],
        [valid_ip(activity.ip) for activity in kept],
        [activity.user_agent for activity in kept],
        [activity.occurred_at for activity in kept],
    )
    active_days = sorted({(utc_date(a.occurred_at), a.user_id) for a in kept}, key=str)
    await driver.execute(ADD_ACTIVE_DAYS, [day for day, _ in active_days], [user for _, user in active_days])
    active_weeks = sorted({(a.user_id, week_start(utc_date(a.occurred_at))) for a in kept}, key=str)
    await driver.execute(ADD_ACTIVE_WEEKS, [user for user, _ in active_weeks], [week for _, week in active_weeks])
    return kept


async def record_activity(session: AsyncSession, activity: Activity) -> bool:
    """One activity row plus the daily-active and weekly-retention rollups; False when the user was erased."""
    return bool(await record_activities(await driver_connection(session), [activity]))


async def record_signup(session: AsyncSession, user_id: UUID, signed_up_at: datetime) -> None:
    """The user joins their weekly cohort; weeks they were already seen active in (events of other streams
    can arrive first) count for the cohort now."""
    await lock_user(session, user_id)
    if await is_erased(session, user_id):
        return
    cohort = week_start(utc_date(signed_up_at))
    new = (
        await session.execute(
            text(
                "INSERT INTO user_signups (user_id, cohort_week, signed_up_at) VALUES (:u, :cohort, :at) "
                "ON CONFLICT DO NOTHING RETURNING cohort_week"
            ),
            {"u": user_id, "cohort": cohort, "at": signed_up_at},
        )
    ).first()
    if new is None:
        return
    await session.execute(
        text(
            "INSERT INTO cohort_sizes (cohort_week, signups) VALUES (:cohort, 1) "
            "ON CONFLICT (cohort_week) DO UPDATE SET signups = cohort_sizes.signups + 1"
        ),
        {"cohort": cohort},
    )
    await session.execute(
        text(
            "INSERT INTO cohort_retention (cohort_week, week_number, learners) "
            "SELECT :cohort, (week_start - CAST(:cohort AS date)) / 7, count(*) FROM user_active_weeks "
            "WHERE user_id = :u AND week_start >= :cohort GROUP BY week_start "
            "ON CONFLICT (cohort_week, week_number) DO UPDATE "
            "SET learners = cohort_retention.learners + EXCLUDED.learners"
        ),
        {"cohort": cohort, "u": user_id},
    )


@dataclass
class LessonTally:
    course_id: UUID | None = None
    starts: int = 0
    completions: int = 0
    score_sum: float = 0.0


@dataclass
class ExerciseTally:
    attempts: int = 0
    correct: int = 0
    time_spent_seconds: float = 0.0


async def add_to_lesson_stats(driver: asyncpg.Connection, tallies: Mapping[UUID, LessonTally]) -> None:
    """FR-21's per-lesson counters, one upsert for a batch's lessons."""
    if not tallies:
        return
    await driver.execute(
        "INSERT INTO lesson_stats (lesson_id, course_id, starts, completions, score_sum) "
        "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[], $5::float8[]) "
        "ON CONFLICT (lesson_id) DO UPDATE SET starts = lesson_stats.starts + EXCLUDED.starts, "
        "completions = lesson_stats.completions + EXCLUDED.completions, "
        "score_sum = lesson_stats.score_sum + EXCLUDED.score_sum, "
        "course_id = COALESCE(EXCLUDED.course_id, lesson_stats.course_id)",
        list(tallies),
        [tally.course_id for tally in tallies.values()],
        [tally.starts for tally in tallies.values()],
        [tally.completions for tally in tallies.values()],
        [tally.score_sum for tally in tallies.values()],
    )


async def add_to_exercise_stats(driver: asyncpg.Connection, tallies: Mapping[tuple[UUID, UUID], ExerciseTally]) -> None:
    """FR-21's per-exercise counters, one upsert for a batch's exercises (keyed by lesson and exercise)."""
    if not tallies:
        return
    await driver.execute(
        "INSERT INTO exercise_stats (lesson_id, exercise_id, attempts, correct, time_spent_seconds_sum) "
        "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::bigint[], $5::float8[]) "
        "ON CONFLICT (lesson_id, exercise_id) DO UPDATE SET attempts = exercise_stats.attempts + EXCLUDED.attempts, "
        "correct = exercise_stats.correct + EXCLUDED.correct, "
        "time_spent_seconds_sum = exercise_stats.time_spent_seconds_sum + EXCLUDED.time_spent_seconds_sum",
        [lesson for lesson, _ in tallies],
        [exercise for _, exercise in tallies],
        [tally.attempts for tally in tallies.values()],
        [tally.correct for tally in tallies.values()],
        [tally.time_spent_seconds for tally in tallies.values()],
    )


async def erase_user(session: AsyncSession, user_id: UUID) -> None:
    """FR-5: the user's activity and every per-user rollup row go; anonymous counters stay."""
    await lock_user(session, user_id)
    for statement in (
        "DELETE FROM user_activity_log WHERE user_id = :u",
        "DELETE FROM daily_active_learners WHERE user_id = :u",
        "DELETE FROM user_active_weeks WHERE user_id = :u",
        "DELETE FROM user_signups WHERE user_id = :u",
        "INSERT INTO erased_users (user_id) VALUES (:u) ON CONFLICT DO NOTHING",
    ):
        await session.execute(text(statement), {"u": user_id})
