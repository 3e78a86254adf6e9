"""The learner's most read views, in SQL on the request's asyncpg connection (like the hot writes): the course
map the app reads before every lesson, and ``/me``."""

from __future__ import annotations

from uuid import UUID

from parla_progress.api.schemas import CourseProgressRead, LessonProgressRead, MeRead, TodayRead
from parla_progress.domain.daily_xp import local_date_for
from parla_progress.domain.hearts import HeartsState, hearts_at
from parla_progress.domain.learners import DEFAULT_DAILY_XP_GOAL, DEFAULT_TIMEZONE, learner_zone
from parla_progress.domain.streaks import StreakState, freezes_at, streak_at
from parla_progress.domain.unlocking import lesson_statuses
from parla_progress.use_cases.context import LearnerRequest
from parla_progress.use_cases.learners import hearts_of, streak_of

COURSE_PROGRESS = """
SELECT EXISTS (SELECT 1 FROM user_courses WHERE user_id = $1 AND course_id = $2) AS enrolled,
       ARRAY(SELECT lesson_id FROM user_lesson_progress
              WHERE user_id = $1 AND lesson_id = ANY($3::uuid[]) ORDER BY lesson_id) AS lesson_ids,
       ARRAY(SELECT status FROM user_lesson_progress
              WHERE user_id = $1 AND lesson_id = ANY($3::uuid[]) ORDER BY lesson_id) AS statuses,
       ARRAY(SELECT best_score FROM user_lesson_progress
              WHERE user_id = $1 AND lesson_id = ANY($3::uuid[]) ORDER BY lesson_id) AS best_scores,
       ARRAY(SELECT completion_count FROM user_lesson_progress
              WHERE user_id = $1 AND lesson_id = ANY($3::uuid[]) ORDER BY lesson_id) AS completion_counts
"""

LEARNER = (
    "SELECT timezone, daily_xp_goal, hearts, hearts_refill_anchor, total_xp, current_streak, longest_streak, "
    "last_active_local_date, streak_survives_until, streak_freezes FROM learners WHERE user_id = $1"
)
TODAY = "SELECT xp_earned, goal_met FROM user_daily_xp WHERE user_id = $1 AND date = $2"


async def course_progress(request: LearnerRequest, course_id: UUID) -> CourseProgressRead:
    tree = await request.curriculum.course_tree(course_id)  # 404 for an unknown course
    async with request.transaction() as driver:
        found = await driver.fetchrow(
            COURSE_PROGRESS, request.user_id, course_id, [lesson.id for lesson in tree.lessons()]
        )
    rows = zip(found["lesson_ids"], found["statuses"], found["best_scores"], found["completion_counts"], strict=True)
    progress = {lesson_id: (status, best, count) for lesson_id, status, best, count in rows}
    completed = {lesson_id for lesson_id, (_, _, count) in progress.items() if count > 0}
    started = {
        lesson_id for lesson_id, (status, _, count) in progress.items() if count == 0 and status == "in_progress"
    }
    return CourseProgressRead(
        course_id=course_id,
        enrolled=found["enrolled"],
        lessons=[
            LessonProgressRead(
                lesson_id=lesson_id,
                status=status,
                best_score=progress[lesson_id][1] if lesson_id in progress else 0,
                completion_count=progress[lesson_id][2] if lesson_id in progress else 0,
            )
            for lesson_id, status in lesson_statuses(tree.prerequisites(), completed, started).items()
        ],
    )


async def me(request: LearnerRequest) -> MeRead:
    now = request.clock.now()
    async with request.transaction() as driver:
        learner = await driver.fetchrow(LEARNER, request.user_id)
        zone = learner_zone(learner["timezone"] if learner else DEFAULT_TIMEZONE)
        today = local_date_for(now, zone)
        today_row = await driver.fetchrow(TODAY, request.user_id, today)
    # Before its first write a learner is the defaults (the row is made by the first state-changing request).
    hearts = HeartsState() if learner is None else hearts_of(learner)
    streak = StreakState() if learner is None else streak_of(learner)
    view = hearts_at(hearts, now, interval=request.settings.heart_interval)
    return MeRead(
        total_xp=learner["total_xp"] if learner else 0,
        hearts=view.hearts,
        max_hearts=view.max_hearts,
        next_heart_at=view.next_heart_at,
        current_streak=streak_at(streak, now, zone),
        longest_streak=streak.longest_streak,
        streak_freezes=freezes_at(streak, now, zone),
        daily_xp_goal=learner["daily_xp_goal"] if learner else DEFAULT_DAILY_XP_GOAL,
        timezone=learner["timezone"] if learner else DEFAULT_TIMEZONE,
        today=TodayRead(
            date=today,
            xp=today_row["xp_earned"] if today_row else 0,
            goal_met=today_row["goal_met"] if today_row else False,
        ),
    )
