"""The reads behind the API: keyset-paginated logs and the rollups (never a scan of the logs)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from parla_analytics.api.schemas import (
    ActivityPage,
    ActivityRead,
    AuditEntryRead,
    AuditPage,
    CourseCompletionRates,
    DailyActive,
    DailyActiveRange,
    ExerciseAccuracy,
    LessonCompletionRate,
    LessonExerciseAccuracy,
    RetentionCohort,
    RetentionCohorts,
    RetentionWeek,
)
from parla_shared.problems import Problem

MAX_RETENTION_WEEKS = 52
MAX_SEQ = 2**63 - 1  # the audit log's seq is a bigint

KeyT = TypeVar("KeyT")


def encode_cursor(created_at: datetime, key: object) -> str:
    raw = json.dumps([created_at.isoformat(), str(key)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, key_of: Callable[[str], KeyT]) -> tuple[datetime, KeyT]:
    """The time and key a cursor carries; ``key_of`` reads the key (a ValueError for one the page cannot take)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, key = json.loads(raw)
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            raise ValueError("the service's cursors carry an offset")
        # In UTC, so a forged time that PostgreSQL cannot take is refused here rather than by the driver.
        return moment.astimezone(UTC), key_of(str(key))
    except (ValueError, TypeError, OverflowError, binascii.Error) as exc:
        raise Problem(400, "Invalid cursor", "cursor must be a next_cursor value from a previous page") from exc


def _next_cursor(items: list[Any], limit: int, key: str) -> str | None:
    """After the page's last item, when the query (asking for ``limit + 1``) found more than a page."""
    if len(items) <= limit:
        return None
    last = items[limit - 1]
    return encode_cursor(last.created_at, getattr(last, key))


def _audit_seq(key: str) -> int:
    seq = int(key)
    if not 0 <= seq <= MAX_SEQ:
        raise ValueError("seq is a bigint")
    return seq


async def activity_page(session: AsyncSession, user_id: UUID, limit: int, cursor: str | None) -> ActivityPage:
    params: dict[str, Any] = {"u": user_id, "limit": limit + 1}
    after = ""
    if cursor:
        params["c_at"], params["c_id"] = decode_cursor(cursor, UUID)
        after = "AND (created_at, id) < (:c_at, :c_id)"
    rows = (
        await session.execute(
            text(
                "SELECT id, user_id, activity_type, activity_data, "  # noqa: S608 - fixed fragment, bound values
                "host(ip_address) AS ip_address, user_agent, "
                f"created_at FROM user_activity_log WHERE user_id = :u {after} "
                "ORDER BY created_at DESC, id DESC LIMIT :limit"
            ),
            params,
        )
    ).mappings()
    items = [ActivityRead(**row) for row in rows]
    return ActivityPage(items=items[:limit], next_cursor=_next_cursor(items, limit, "id"))


async def audit_page(
    session: AsyncSession,
    *,
    action: str | None,
    table_name: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> AuditPage:
    conditions: list[str] = []
    params: dict[str, Any] = {"limit": limit + 1}
    for column, value in (("action", action), ("table_name", table_name)):
        if value is not None:
            conditions.append(f"{column} = :{column}")
            params[column] = value
    if since is not None:
        conditions.append("created_at >= :since")
        params["since"] = since
    if until is not None:
        conditions.append("created_at < :until")
        params["until"] = until
    if cursor:
        params["c_at"], params["c_seq"] = decode_cursor(cursor, _audit_seq)
        conditions.append("(created_at, seq) < (:c_at, :c_seq)")
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = (
        await session.execute(
            text(
                "SELECT id, seq, admin_user_id, action, table_name, "  # noqa: S608 - fixed fragments, bound values
                "record_id, old_values, new_values, "
                "host(ip_address) AS ip_address, created_at, prev_hash, hash FROM system_audit_log "
                f"{where} ORDER BY created_at DESC, seq DESC LIMIT :limit"
            ),
            params,
        )
    ).mappings()
    items = [AuditEntryRead(**row) for row in rows]
    return AuditPage(items=items[:limit], next_cursor=_next_cursor(items, limit, "seq"))


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


async def completion_rates(session: AsyncSession, course_id: UUID) -> CourseCompletionRates:
    rows = await session.execute(
        text(
            "SELECT lesson_id, starts, completions, score_sum FROM lesson_stats WHERE course_id = :c ORDER BY lesson_id"
        ),
        {"c": course_id},
    )
    return CourseCompletionRates(
        course_id=course_id,
        lessons=[
            LessonCompletionRate(
                lesson_id=row.lesson_id,
                starts=row.starts,
                completions=row.completions,
                completion_rate=_ratio(row.completions, row.starts),
                average_score=_ratio(float(row.score_sum), row.completions),
            )
            for row in rows
        ],
    )


async def exercise_accuracy(session: AsyncSession, lesson_id: UUID) -> LessonExerciseAccuracy:
    rows = await session.execute(
        text(
            "SELECT exercise_id, attempts, correct, time_spent_seconds_sum FROM exercise_stats "
            "WHERE lesson_id = :l ORDER BY exercise_id"
        ),
        {"l": lesson_id},
    )
    return LessonExerciseAccuracy(
        lesson_id=lesson_id,
        exercises=[
            ExerciseAccuracy(
                exercise_id=row.exercise_id,
                attempts=row.attempts,
                correct=row.correct,
                accuracy=_ratio(row.correct, row.attempts),
                average_time_seconds=_ratio(float(row.time_spent_seconds_sum), row.attempts),
            )
            for row in rows
        ],
    )


async def daily_active(session: AsyncSession, since: date, until: date) -> DailyActiveRange:
    # The days are listed here, not with generate_series: asyncpg sends date.min/date.max as -infinity/infinity,
    # and a series from or to an infinity never ends.
    counts: dict[date, int] = {
        row.activity_date: row.learners
        for row in await session.execute(
            text(
                "SELECT activity_date, learners FROM daily_active_counts WHERE activity_date BETWEEN :since AND :until"
            ),
            {"since": since, "until": until},
        )
    }
    days = [since + timedelta(days=offset) for offset in range((until - since).days + 1)]
    return DailyActiveRange(
        from_=since, to=until, days=[DailyActive(date=day, learners=counts.get(day, 0)) for day in days]
    )


async def retention_cohorts(session: AsyncSession, since: date, until: date, today: date) -> RetentionCohorts:
    sizes = (
        await session.execute(
            text(
                "SELECT cohort_week, signups FROM cohort_sizes WHERE cohort_week BETWEEN :since AND :until "
                "ORDER BY cohort_week"
            ),
            {"since": since, "until": until},
        )
    ).all()
    retained: dict[tuple[date, int], int] = {
        (row.cohort_week, row.week_number): row.learners
        for row in await session.execute(
            text(
                "SELECT cohort_week, week_number, learners FROM cohort_retention "
                "WHERE cohort_week BETWEEN :since AND :until AND week_number <= :max_weeks"
            ),
            {"since": since, "until": until, "max_weeks": MAX_RETENTION_WEEKS},
        )
    }
    current_week = today - timedelta(days=today.weekday())
    cohorts = []
    for cohort_week, signups in sizes:
        elapsed = min(MAX_RETENTION_WEEKS, max(0, (current_week - cohort_week).days // 7))
        weeks = [
            RetentionWeek(
                week_number=number,
                learners=retained.get((cohort_week, number), 0),
                rate=_ratio(retained.get((cohort_week, number), 0), signups),
            )
            for number in range(elapsed + 1)
        ]
        cohorts.append(RetentionCohort(cohort_week=cohort_week, signups=signups, weeks=weeks))
    return RetentionCohorts(from_=since, to=until, cohorts=cohorts)
