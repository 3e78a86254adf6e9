"""Starting a lesson: the limits, the enrolment, the lesson's status and the hearts, then one statement of writes.

In SQL on the request's asyncpg connection, like answering and completing (``answers.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
import msgspec
from uuid_utils.compat import uuid7

from parla_progress import events
from parla_progress.api.schemas import SessionRead
from parla_progress.clients.curriculum import CourseTree, CurriculumClient
from parla_progress.domain.hearts import hearts_at
from parla_progress.domain.unlocking import lesson_statuses
from parla_progress.limits import Limits, refuse_over_limit
from parla_progress.use_cases.context import LearnerRequest
from parla_progress.use_cases.learners import hearts_of, lock_learner_row
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem

# The account's session limit (the time of the n-th latest start in the window, NULL while under it) and the
# courses the learner is enrolled in, oldest enrolment first.
READ_BEFORE = """
SELECT (SELECT started_at FROM lesson_sessions WHERE user_id = $1 AND started_at > $2
         ORDER BY started_at DESC OFFSET $3 LIMIT 1) AS limit_reached_at,
       ARRAY(SELECT course_id FROM user_courses WHERE user_id = $1 AND is_active ORDER BY enrolled_at) AS enrolled
"""

# Under the learner's lock: the course's lessons the learner has completed, and those started but not completed.
LESSON_STATES = """
SELECT ARRAY(SELECT lesson_id FROM user_lesson_progress
              WHERE user_id = $1 AND lesson_id = ANY($2::uuid[]) AND completion_count > 0) AS completed,
       ARRAY(SELECT lesson_id FROM user_lesson_progress
              WHERE user_id = $1 AND lesson_id = ANY($2::uuid[]) AND completion_count = 0
                AND status = 'in_progress') AS started
"""

# Only the outbox's SQL is formatted in, no value.
WRITE = f"""
WITH started AS (
    INSERT INTO lesson_sessions (id, user_id, course_id, lesson_id, practice, exercises, xp_reward, status, started_at)
    VALUES ($1, $2, $3, $4, false, $5::jsonb, $6, 'active', $7)
), progress AS (
    INSERT INTO user_lesson_progress (user_id, course_id, lesson_id, status, total_attempts)
    VALUES ($2, $3, $4, 'in_progress', 1)
    ON CONFLICT (user_id, lesson_id) DO UPDATE SET total_attempts = user_lesson_progress.total_attempts + 1
), course AS (
    UPDATE user_courses SET last_active_at = $7 WHERE user_id = $2 AND course_id = $3
)
{Outbox.insert_sql(8)}
"""  # noqa: S608


async def start_lesson(request: LearnerRequest, lesson_id: UUID) -> SessionRead:
    user_id, curriculum = request.user_id, request.curriculum
    async with request.transaction() as driver:
        now = request.clock.now()
        enrolled = await limit_session_starts(driver, request.limits, user_id, now)
        content = await curriculum.lesson(lesson_id)  # 404 for an unknown lesson
        tree = await enrolled_tree_of(curriculum, lesson_id, content.course_id, enrolled)
        if tree is None:
            raise Problem(409, "Not enrolled", "enrol in the course of this lesson before starting it")
        tree_lesson = tree.lesson(lesson_id)
        assert tree_lesson is not None
        if not content.exercises:
            raise Problem(409, "Lesson has no exercises", f"lesson {lesson_id} has nothing to answer yet")

        learner = await lock_learner_row(driver, user_id)
        completed, started = await driver.fetchrow(LESSON_STATES, user_id, [lesson.id for lesson in tree.lessons()])
        if lesson_statuses(tree.prerequisites(), set(completed), set(started))[lesson_id] == "locked":
            raise Problem(409, "Lesson locked", "complete this lesson's prerequisites first")
        hearts = hearts_at(hearts_of(learner), now, interval=request.settings.heart_interval)
        if hearts.hearts == 0:
            raise Problem(
                403,
                "Out of hearts",
                "no hearts left: wait for one to come back or complete a practice session",
                extra={"next_heart_at": hearts.next_heart_at.isoformat() if hearts.next_heart_at else None},
            )
        session_id = uuid7()
        exercises = [{"exercise_id": str(exercise.id), "lesson_id": str(lesson_id)} for exercise in content.exercises]
        started_event = request.outbox.event(
            events.LESSON_STARTED,
            events.LessonStarted(
                user_id=user_id, course_id=tree.id, lesson_id=lesson_id, session_id=session_id, practice=False
            ),
            subject_id=user_id,
        )
        await driver.execute(
            WRITE,
            session_id,
            user_id,
            tree.id,
            lesson_id,
            msgspec.json.encode(exercises).decode(),
            tree_lesson.xp_reward,
            now,
            Outbox.as_json([started_event]),
        )
    return SessionRead(
        session_id=session_id,
        exercise_ids=[exercise.id for exercise in content.exercises],
        lesson_id=lesson_id,
        course_id=tree.id,
        practice=False,
        hearts=hearts.hearts,
    )


async def limit_session_starts(driver: asyncpg.Connection, limits: Limits, user_id: UUID, now: datetime) -> list[UUID]:
    """Before any other work: the client address's bucket, then the account's starts in the window (429 past
    either); returns the courses the learner is enrolled in, read in the same round trip."""
    limits.take_from_address(limits.sessions_per_ip, "too many sessions started from this address")
    limit = limits.sessions_per_account
    found = await driver.fetchrow(READ_BEFORE, user_id, now - timedelta(seconds=limit.window_seconds), limit.hits - 1)
    refuse_over_limit(found["limit_reached_at"], limit, now, "too many sessions started")
    return list(found["enrolled"])


async def enrolled_tree_of(
    curriculum: CurriculumClient, lesson_id: UUID, course_id: UUID | None, enrolled: list[UUID]
) -> CourseTree | None:
    """The tree of the enrolled course holding the lesson, or None when the learner is not enrolled in it."""
    candidates = [course_id] if course_id is not None else enrolled
    for candidate_id in candidates:
        if candidate_id not in enrolled:
            continue
        tree = await curriculum.course_tree(candidate_id)
        if tree.lesson(lesson_id) is not None:
            return tree
    return None
