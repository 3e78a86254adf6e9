"""Spaced repetition's use cases: a practice session of the most due exercises, and the review forecast.

The memory states are written by every answer (``answers.py``, ``domain/memory.py``); these read them. Like the
other hot paths, in SQL on the request's asyncpg connection: a practice start is one read before the lock (the
limits and the enrolment), the lock, one read of the candidates and one statement of writes.

Retrievability falls as the whole days since the last review grow relative to the stability (FSRS:
``R = (1 + F * t / S) ^ -D``, F and D positive, t in whole days as the package counts them), so "lowest
retrievability first" is "largest t / S first", which PostgreSQL sorts without computing R; a state never
reviewed (no stability: R = 0) comes before any other, and the earlier due breaks ties.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from uuid import UUID

import msgspec
from uuid_utils.compat import uuid7

from parla_progress import events
from parla_progress.api.schemas import ReviewDayRead, ReviewForecastRead, SessionRead
from parla_progress.domain.daily_xp import local_date_for
from parla_progress.domain.hearts import hearts_at
from parla_progress.domain.learners import DEFAULT_TIMEZONE, learner_zone
from parla_progress.use_cases.context import LearnerRequest
from parla_progress.use_cases.learners import hearts_of, lock_learner_row
from parla_progress.use_cases.sessions import limit_session_starts
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem

FORECAST_DAYS = 14

# The course's answered exercises with their lesson, lowest retrievability at $3 first: those of completed lessons,
# or, while no completed lesson has any, those of the lessons answered so far (a learner who ran out of hearts in
# their first lesson can still practise a heart back).
MOST_DUE = """
WITH pool AS (
    SELECT m.exercise_id, m.lesson_id, m.stability, m.last_review, m.due, p.completion_count > 0 AS completed
      FROM exercise_memory m
      JOIN user_lesson_progress p ON p.user_id = m.user_id AND p.lesson_id = m.lesson_id
     WHERE m.user_id = $1 AND p.course_id = $2
)
SELECT exercise_id, lesson_id FROM pool
 WHERE completed = (SELECT bool_or(completed) FROM pool)
 ORDER BY CASE WHEN stability IS NULL OR last_review IS NULL THEN 'infinity'::float8
               ELSE greatest(0, floor(extract(epoch FROM $3 - last_review) / 86400)) / stability END DESC,
          due, exercise_id
 LIMIT $4
"""

# Only the outbox's SQL is formatted in, no value.
START_PRACTICE = f"""
WITH started AS (
    INSERT INTO lesson_sessions (id, user_id, course_id, lesson_id, practice, exercises, xp_reward, status, started_at)
    VALUES ($1, $2, $3, NULL, true, $4::jsonb, $5, 'active', $6)
), course AS (
    UPDATE user_courses SET last_active_at = $6 WHERE user_id = $2 AND course_id = $3
)
{Outbox.insert_sql(7)}
"""  # noqa: S608

TIMEZONE = "SELECT timezone FROM learners WHERE user_id = $1"

# States due before the end of the forecast, per local day of their due time; the overdue ones count on today.
DUE_PER_DAY = """
SELECT greatest((due AT TIME ZONE $2)::date, $3::date) AS day, count(*) AS due
  FROM exercise_memory
 WHERE user_id = $1 AND due < $4
 GROUP BY 1
"""


async def start_practice(request: LearnerRequest, course_id: UUID) -> SessionRead:
    user_id, settings = request.user_id, request.settings
    async with request.transaction() as driver:
        now = request.clock.now()
        enrolled = await limit_session_starts(driver, request.limits, user_id, now)
        if course_id not in enrolled:
            await request.curriculum.course_tree(course_id)  # 404 for an unknown course
            raise Problem(409, "Not enrolled", "enrol in the course before practising it")
        learner = await lock_learner_row(driver, user_id)
        most_due = await driver.fetch(MOST_DUE, user_id, course_id, now, settings.practice_size)
        if not most_due:
            raise Problem(409, "Nothing to practise", "answer some exercises of this course first")
        session_id = uuid7()
        exercises = [{"exercise_id": str(row["exercise_id"]), "lesson_id": str(row["lesson_id"])} for row in most_due]
        started = request.outbox.event(
            events.LESSON_STARTED,
            events.LessonStarted(
                user_id=user_id, course_id=course_id, lesson_id=None, session_id=session_id, practice=True
            ),
            subject_id=user_id,
        )
        await driver.execute(
            START_PRACTICE,
            session_id,
            user_id,
            course_id,
            msgspec.json.encode(exercises).decode(),
            settings.practice_xp_reward,
            now,
            Outbox.as_json([started]),
        )
    hearts = hearts_at(hearts_of(learner), now, interval=settings.heart_interval)
    return SessionRead(
        session_id=session_id,
        exercise_ids=[row["exercise_id"] for row in most_due],
        lesson_id=None,
        course_id=course_id,
        practice=True,
        hearts=hearts.hearts,
    )


async def review_forecast(request: LearnerRequest) -> ReviewForecastRead:
    async with request.transaction() as driver:
        zone_name: str = await driver.fetchval(TIMEZONE, request.user_id) or DEFAULT_TIMEZONE
        zone = learner_zone(zone_name)
        today = local_date_for(request.clock.now(), zone)
        end = datetime.combine(today + timedelta(days=FORECAST_DAYS), time.min, tzinfo=zone)
        rows = await driver.fetch(DUE_PER_DAY, request.user_id, zone.key, today, end)
    due_on: dict[date, int] = {row["day"]: row["due"] for row in rows}
    days = [today + timedelta(days=offset) for offset in range(FORECAST_DAYS)]
    return ReviewForecastRead(timezone=zone.key, days=[ReviewDayRead(date=day, due=due_on.get(day, 0)) for day in days])
