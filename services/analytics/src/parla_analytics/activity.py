"""Learner activity (FR-19) and the rollups kept with it (FR-20, FR-21), in the consumer's transaction."""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def week_start(day: date) -> date:
    """The Monday starting ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def utc_date(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def valid_ip(value: str | None) -> str | None:
    """The address if it is one (the envelope carries what the edge saw), otherwise nothing."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def as_uuid(value: Any) -> UUID | None:
    if isinstance(value, UUID):
        return value
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            return None
    return None


async def lock_user(session: AsyncSession, user_id: UUID) -> None:
    """Serializes per-user rollup changes across the identity and progress consumers (and erasure)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"analytics.user.{user_id}"}
    )


async def is_erased(session: AsyncSession, user_id: UUID) -> bool:
    found = await session.execute(text("SELECT 1 FROM erased_users WHERE user_id = :u"), {"u": user_id})
    return found.first() is not None


async def record_activity(
    session: AsyncSession,
    *,
    event_id: UUID,
    user_id: UUID,
    activity_type: str,
    activity_data: dict[str, Any] | None,
    occurred_at: datetime,
    ip: str | None,
    user_agent: str | None,
) -> bool:
    """One activity row plus the daily-active and weekly-retention rollups; False when the user was erased."""
    await lock_user(session, user_id)
    if await is_erased(session, user_id):
        return False
    await session.execute(
        text(
            "INSERT INTO user_activity_log (id, user_id, activity_type, activity_data, ip_address, user_agent, "
            "created_at) VALUES (:id, :user_id, :type, CAST(:data AS jsonb), CAST(:ip AS inet), :ua, :at) "
            "ON CONFLICT DO NOTHING"
        ),
        {
            "id": event_id,
            "user_id": user_id,
            "type": activity_type,
            "data": None if activity_data is None else json.dumps(activity_data, default=str),
            "ip": valid_ip(ip),
            "ua": user_agent,
            "at": occurred_at,
        },
    )
    day = utc_date(occurred_at)
    await session.execute(
        text(
            "WITH new_day AS (INSERT INTO daily_active_learners (activity_date, user_id) VALUES (:day, :u) "
            "ON CONFLICT DO NOTHING RETURNING activity_date) "
            "INSERT INTO daily_active_counts (activity_date, learners) SELECT activity_date, 1 FROM new_day "
            "ON CONFLICT (activity_date) DO UPDATE SET learners = daily_active_counts.learners + 1"
        ),
        {"day": day, "u": user_id},
    )
    await session.execute(
        text(
            "WITH new_week AS (INSERT INTO user_active_weeks (user_id, week_start) VALUES (:u, :week) "
            "ON CONFLICT DO NOTHING RETURNING user_id, week_start) "
            "INSERT INTO cohort_retention (cohort_week, week_number, learners) "
            "SELECT s.cohort_week, (w.week_start - s.cohort_week) / 7, 1 "
            "FROM new_week w JOIN user_signups s ON s.user_id = w.user_id WHERE w.week_start >= s.cohort_week "
            "ON CONFLICT (cohort_week, week_number) DO UPDATE SET learners = cohort_retention.learners + 1"
        ),
        {"u": user_id, "week": week_start(day)},
    )
    return True


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


async def record_lesson_start(session: AsyncSession, lesson_id: UUID, course_id: UUID | None) -> None:
    await session.execute(
        text(
            "INSERT INTO lesson_stats (lesson_id, course_id, starts) VALUES (:l, :c, 1) "
            "ON CONFLICT (lesson_id) DO UPDATE SET starts = lesson_stats.starts + 1, "
            "course_id = COALESCE(EXCLUDED.course_id, lesson_stats.course_id)"
        ),
        {"l": lesson_id, "c": course_id},
    )


async def record_lesson_completion(
    session: AsyncSession, lesson_id: UUID, course_id: UUID | None, score: float
) -> None:
    await session.execute(
        text(
            "INSERT INTO lesson_stats (lesson_id, course_id, completions, score_sum) VALUES (:l, :c, 1, :score) "
            "ON CONFLICT (lesson_id) DO UPDATE SET completions = lesson_stats.completions + 1, "
            "score_sum = lesson_stats.score_sum + EXCLUDED.score_sum, "
            "course_id = COALESCE(EXCLUDED.course_id, lesson_stats.course_id)"
        ),
        {"l": lesson_id, "c": course_id, "score": score},
    )


async def record_answer(
    session: AsyncSession, lesson_id: UUID, exercise_id: UUID, *, correct: bool, time_spent_seconds: float
) -> None:
    await session.execute(
        text(
            "INSERT INTO exercise_stats (lesson_id, exercise_id, attempts, correct, time_spent_seconds_sum) "
            "VALUES (:l, :e, 1, :correct, :seconds) ON CONFLICT (lesson_id, exercise_id) DO UPDATE SET "
            "attempts = exercise_stats.attempts + 1, correct = exercise_stats.correct + EXCLUDED.correct, "
            "time_spent_seconds_sum = exercise_stats.time_spent_seconds_sum + EXCLUDED.time_spent_seconds_sum"
        ),
        {"l": lesson_id, "e": exercise_id, "correct": 1 if correct else 0, "seconds": max(0.0, time_spent_seconds)},
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
