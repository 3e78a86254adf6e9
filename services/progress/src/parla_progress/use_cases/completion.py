"""Completing a session: score, XP, hearts (practice), streak and its freezes, achievements, unlocking and the
week's league XP, awarded exactly once.

In SQL on the request's asyncpg connection, like answering (``answers.py``): one read before the curriculum
call, the learner's lock, one read of everything the rules need, then one statement for every write. The rules
themselves are the domain's plain functions; the events, in the order they happen, are ``completion_events.py``'s.
"""

from __future__ import annotations

import json
from datetime import datetime, time
from uuid import UUID

import msgspec

from parla_progress.api.schemas import AchievementRead, CompletionRead
from parla_progress.domain.achievements import LearnerStats
from parla_progress.domain.achievements import count_completed_skills as count_skills
from parla_progress.domain.daily_xp import daily_goal_met, local_date_for
from parla_progress.domain.hearts import HeartsChange, gain_heart, hearts_at
from parla_progress.domain.leagues import COHORT_SIZE, week_of
from parla_progress.domain.learners import learner_zone
from parla_progress.domain.scoring import SessionScore, score_session, unanswered
from parla_progress.domain.streaks import earn_freezes, record_activity
from parla_progress.domain.unlocking import newly_unlocked
from parla_progress.use_cases.catalogue import achievements_earned
from parla_progress.use_cases.completion_events import completion_events
from parla_progress.use_cases.context import LearnerRequest
from parla_progress.use_cases.leagues import cohort_id_sql
from parla_progress.use_cases.learners import hearts_of, lock_learner_row, streak_of
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem

READ_SESSION = (
    "SELECT course_id, lesson_id, practice, exercises, xp_reward, result "
    "FROM lesson_sessions WHERE id = $1 AND user_id = $2"
)

# Under the learner's lock, one snapshot of what the rules read: the session's answers in order, the course's
# completed and started lessons, the learner's completed lessons everywhere, today's rewarded practices, the
# achievements already earned and today's XP so far.
READ_STATE = """
SELECT (SELECT result FROM lesson_sessions WHERE id = $1) AS result,
       ARRAY(SELECT exercise_id FROM user_exercise_interactions WHERE session_id = $1
              ORDER BY attempt_number, interaction_at, id) AS answered_exercise_ids,
       ARRAY(SELECT is_correct FROM user_exercise_interactions WHERE session_id = $1
              ORDER BY attempt_number, interaction_at, id) AS answered_correct,
       (SELECT coalesce(sum(time_spent_seconds), 0) FROM user_exercise_interactions WHERE session_id = $1)
           AS time_spent,
       ARRAY(SELECT lesson_id FROM user_lesson_progress
              WHERE user_id = $2 AND lesson_id = ANY($3::uuid[]) AND completion_count > 0) AS completed,
       ARRAY(SELECT lesson_id FROM user_lesson_progress
              WHERE user_id = $2 AND lesson_id = ANY($3::uuid[]) AND completion_count = 0
                AND status = 'in_progress') AS started,
       (SELECT count(*) FROM user_lesson_progress WHERE user_id = $2 AND completion_count > 0) AS lessons_completed,
       (SELECT count(*) FROM lesson_sessions
         WHERE user_id = $2 AND practice AND status = 'completed' AND completed_at >= $4) AS practices_today,
       ARRAY(SELECT achievement_id FROM user_achievements WHERE user_id = $2) AS earned,
       (SELECT xp_earned FROM user_daily_xp WHERE user_id = $2 AND date = $5) AS xp_today
"""

# Every write of a completion in one statement; the lesson's progress only for a lesson ($20), the hearts log and
# the achievements only when there are some; the week's league XP: joining ($27: the cohort counter names the
# cohort, the learner row remembers it) or adding to the membership (domain/leagues.py).
WRITE = f"""
WITH lesson AS (
    INSERT INTO user_lesson_progress
        (user_id, course_id, lesson_id, status, completion_count, best_score, xp_earned,
         first_completed_at, last_completed_at)
    SELECT $2, $3, $4, 'completed', 1, $5, $6, $7, $7 WHERE $20
    ON CONFLICT (user_id, lesson_id) DO UPDATE SET
        status = 'completed',
        completion_count = user_lesson_progress.completion_count + 1,
        best_score = greatest(user_lesson_progress.best_score, EXCLUDED.best_score),
        xp_earned = user_lesson_progress.xp_earned + EXCLUDED.xp_earned,
        first_completed_at = coalesce(user_lesson_progress.first_completed_at, EXCLUDED.first_completed_at),
        last_completed_at = EXCLUDED.last_completed_at
), daily AS (
    INSERT INTO user_daily_xp (user_id, date, xp_earned, goal_met, activities_completed, time_spent_seconds)
    VALUES ($2, $8, $9, $10, 1, $11)
    ON CONFLICT (user_id, date) DO UPDATE SET
        xp_earned = user_daily_xp.xp_earned + EXCLUDED.xp_earned,
        goal_met = EXCLUDED.goal_met,
        activities_completed = user_daily_xp.activities_completed + 1,
        time_spent_seconds = user_daily_xp.time_spent_seconds + EXCLUDED.time_spent_seconds
), course AS (
    UPDATE user_courses SET total_xp = total_xp + $6, last_active_at = $7 WHERE user_id = $2 AND course_id = $3
), league_count AS (
    INSERT INTO league_cohort_counters (week, tier, joined) SELECT $28, $29, 1 WHERE $27
    ON CONFLICT (week, tier) DO UPDATE SET joined = league_cohort_counters.joined + 1
    RETURNING {cohort_id_sql("week", "tier", "joined", "$31")} AS cohort_id
), league_join AS (
    INSERT INTO league_memberships (week, user_id, tier, cohort_id, xp, xp_reached_at)
    SELECT $28, $2, $29, cohort_id, $30, $7 FROM league_count
), league_xp AS (
    UPDATE league_memberships SET xp = xp + $30, xp_reached_at = $7
     WHERE NOT $27 AND $30 > 0 AND week = $28 AND user_id = $2
), learner AS (
    UPDATE learners SET hearts = $12, hearts_refill_anchor = $13, total_xp = $14, current_streak = $15,
           longest_streak = $16, last_active_local_date = $17, streak_survives_until = $18, perfect_lessons = $19,
           skills_completed = $21, last_active_at = $7, streak_freezes = $26,
           league_week = CASE WHEN $27 THEN $28::date ELSE league_week END,
           league_cohort_id = CASE WHEN $27 THEN (SELECT cohort_id FROM league_count) ELSE league_cohort_id END
     WHERE user_id = $2
), hearts_log AS (
    INSERT INTO user_hearts_log (user_id, action, hearts_before, hearts_after, reason, created_at)
    SELECT $2, h.action, h.hearts_before, h.hearts_after, h.reason, h.at
      FROM jsonb_to_recordset($22::jsonb)
        AS h(action text, hearts_before int, hearts_after int, reason text, at timestamptz)
), achievements AS (
    INSERT INTO user_achievements (user_id, achievement_id, earned_at)
    SELECT $2, achievement_id, $7 FROM unnest($23::uuid[]) AS achievement_id
    ON CONFLICT (user_id, achievement_id) DO NOTHING
), finished AS (
    UPDATE lesson_sessions SET status = 'completed', completed_at = $7, result = $24::jsonb WHERE id = $1
)
{Outbox.insert_sql(25)}
"""  # noqa: S608 (only the outbox's and the cohort id's SQL are formatted in, no value)


async def complete_session(request: LearnerRequest, session_id: UUID) -> CompletionRead:
    user_id, settings = request.user_id, request.settings
    async with request.transaction() as driver:
        now = request.clock.now()
        session = await driver.fetchrow(READ_SESSION, session_id, user_id)
        if session is None:
            raise Problem(404, "Session not found", f"session {session_id} does not exist")
        if session["result"] is not None:
            return msgspec.convert(session["result"], CompletionRead)
        course_id: UUID = session["course_id"]
        lesson_id: UUID | None = session["lesson_id"]
        practice: bool = session["practice"]
        tree = await request.curriculum.course_tree(course_id)
        achievements = await request.achievements.active(driver)

        learner = await lock_learner_row(driver, user_id)
        zone = learner_zone(learner["timezone"])
        today = local_date_for(now, zone)
        midnight = datetime.combine(today, time.min, tzinfo=zone)
        course_lessons = [lesson.id for lesson in tree.lessons()]
        state = await driver.fetchrow(READ_STATE, session_id, user_id, course_lessons, midnight, today)
        if state["result"] is not None:
            return msgspec.convert(state["result"], CompletionRead)
        score = _score(session["exercises"], state["answered_exercise_ids"], state["answered_correct"])

        lesson_xp: int = session["xp_reward"]
        hearts, hearts_changes = hearts_of(learner), list[HeartsChange]()
        unlocked: list[UUID] = []
        perfect_lessons: int = learner["perfect_lessons"]
        skills_completed: int = learner["skills_completed"]
        lessons_completed: int = state["lessons_completed"]
        if practice:
            if state["practices_today"] < settings.practice_rewards_per_day:
                hearts, hearts_changes = gain_heart(hearts, now, "practice_completed", interval=settings.heart_interval)
            else:
                lesson_xp = 0  # past the day's rewarded practices: no heart, no XP (practice can't be farmed)
        else:
            assert lesson_id is not None
            completed, started = set(state["completed"]), set(state["started"])
            if lesson_id not in completed:
                skills = tree.skills()
                skills_completed += count_skills(skills, completed | {lesson_id}) - count_skills(skills, completed)
                unlocked = newly_unlocked(tree.prerequisites(), completed, started - {lesson_id}, lesson_id)
                lessons_completed += 1
            if score.perfect:
                perfect_lessons += 1

        streak_before = streak_of(learner)
        streak = record_activity(streak_before, now, zone)
        awarded = achievements_earned(
            achievements,
            LearnerStats(
                lessons_completed=lessons_completed,
                longest_streak=streak.longest_streak,
                perfect_lessons=perfect_lessons,
                total_xp=learner["total_xp"] + lesson_xp,
                skills_completed=skills_completed,
            ),
            set(state["earned"]),
        )
        xp_earned = lesson_xp + sum(achievement.xp_reward for achievement in awarded)
        total_xp: int = learner["total_xp"] + xp_earned
        freezes = earn_freezes(streak.freezes, learner["total_xp"], total_xp, settings.streak_freeze_xp_milestone)
        # The week's league: joined with the first XP of the week (a cohort of the learner's tier), added to after.
        week = week_of(now)
        joining_league = xp_earned > 0 and learner["league_week"] != week
        goal_met = daily_goal_met((state["xp_today"] or 0) + xp_earned, learner["daily_xp_goal"])

        result = CompletionRead(
            session_id=session_id,
            score=score.score,
            perfect=score.perfect,
            correct_count=score.correct_count,
            total_count=score.total_count,
            lesson_xp=lesson_xp,
            xp_earned=xp_earned,
            total_xp=total_xp,
            current_streak=streak.current_streak,
            longest_streak=streak.longest_streak,
            streak_freezes=freezes,
            daily_goal_met=goal_met,
            hearts=hearts_at(hearts, now, interval=settings.heart_interval).hearts,
            achievements_unlocked=[
                AchievementRead(id=a.id, name=a.name, description=a.description, xp_reward=a.xp_reward) for a in awarded
            ],
            unlocked_lesson_ids=unlocked,
        )
        published = completion_events(
            request.outbox,
            user_id=user_id,
            course_id=course_id,
            lesson_id=lesson_id,
            practice=practice,
            today=today,
            result=result,
            hearts_changes=hearts_changes,
            streak_before=streak_before,
            streak=streak,
        )
        await driver.execute(
            WRITE,
            session_id,
            user_id,
            course_id,
            lesson_id,
            score.score,
            lesson_xp,
            now,
            today,
            xp_earned,
            goal_met,
            state["time_spent"],
            hearts.hearts,
            hearts.hearts_refill_anchor,
            total_xp,
            streak.current_streak,
            streak.longest_streak,
            streak.last_active_local_date,
            streak.streak_survives_until,
            perfect_lessons,
            not practice,
            skills_completed,
            msgspec.json.encode(hearts_changes).decode(),
            [achievement.id for achievement in awarded],
            msgspec.json.encode(result).decode(),
            Outbox.as_json(published),
            freezes,
            joining_league,
            week,
            learner["league_tier"],
            xp_earned,
            COHORT_SIZE,
        )
    return result


def _score(stored_exercises: object, answered_ids: list[UUID], answered_correct: list[bool]) -> SessionScore:
    """The session's score from its answers in the order given; 409 while one of its exercises has none."""
    entries = json.loads(stored_exercises) if isinstance(stored_exercises, str) else stored_exercises
    assert isinstance(entries, list)
    exercise_ids = [UUID(entry["exercise_id"]) for entry in entries]
    if missing := unanswered(exercise_ids, answered_ids):
        raise Problem(
            409,
            "Session not finished",
            f"{len(missing)} exercise(s) of this session have no answer yet",
            extra={"unanswered_exercise_ids": [str(exercise_id) for exercise_id in missing]},
        )
    return score_session(exercise_ids, list(zip(answered_ids, answered_correct, strict=True)))
