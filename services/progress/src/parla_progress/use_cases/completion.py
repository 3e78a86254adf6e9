"""Completing a session: score, XP, hearts (practice), streak and its freezes, achievements, unlocking and the
week's league XP, awarded exactly once.

In SQL on the request's asyncpg connection, like answering (``answers.py``): one read before the curriculum
call, the learner's lock, one read of everything the rules need, then one statement for every write. The rules
themselves are the domain's plain functions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from uuid import UUID

import asyncpg
import msgspec

from parla_progress import events
from parla_progress.api.schemas import AchievementRead, CompletionRead
from parla_progress.clients.curriculum import CurriculumClient
from parla_progress.domain.achievements import LearnerStats, achievements_to_award
from parla_progress.domain.achievements import count_completed_skills as count_skills
from parla_progress.domain.daily_xp import daily_goal_met, local_date_for
from parla_progress.domain.hearts import HeartsChange, HeartsState, gain_heart, hearts_at
from parla_progress.domain.leagues import COHORT_SIZE, week_of
from parla_progress.domain.learners import learner_zone
from parla_progress.domain.scoring import is_perfect, lesson_score
from parla_progress.domain.streaks import StreakState, earn_freezes, record_activity
from parla_progress.domain.unlocking import newly_unlocked
from parla_progress.use_cases.catalogue import Achievement, AchievementCatalogue
from parla_progress.use_cases.context import LearnerRequest
from parla_progress.use_cases.learners import lock_learner_row
from parla_shared.events.envelope import EventEnvelope
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
    RETURNING md5(week::text || '/' || tier::text || '/' || ((joined - 1) / $31)::text)::uuid AS cohort_id
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
"""  # noqa: S608 (only the outbox's SQL is formatted in, no value)


async def complete_session(request: LearnerRequest, session_id: UUID) -> CompletionRead:
    async with request.transaction() as driver:
        return await _complete_session(
            driver,
            user_id=request.user_id,
            session_id=session_id,
            now=request.clock.now(),
            heart_interval=request.settings.heart_interval,
            practice_rewards_per_day=request.settings.practice_rewards_per_day,
            freeze_milestone_xp=request.settings.streak_freeze_xp_milestone,
            curriculum=request.curriculum,
            catalogue=request.achievements,
            outbox=request.outbox,
        )


async def _complete_session(
    driver: asyncpg.Connection,
    *,
    user_id: UUID,
    session_id: UUID,
    now: datetime,
    heart_interval: timedelta,
    practice_rewards_per_day: int,
    freeze_milestone_xp: int,
    curriculum: CurriculumClient,
    catalogue: AchievementCatalogue,
    outbox: Outbox,
) -> CompletionRead:
    found = await driver.fetchrow(READ_SESSION, session_id, user_id)
    if found is None:
        raise Problem(404, "Session not found", f"session {session_id} does not exist")
    if found["result"] is not None:
        return msgspec.convert(found["result"], CompletionRead)
    course_id: UUID = found["course_id"]
    lesson_id: UUID | None = found["lesson_id"]
    practice: bool = found["practice"]
    tree = await curriculum.course_tree(course_id)
    definitions = await catalogue.active(driver)

    learner = await lock_learner_row(driver, user_id)
    zone = learner_zone(learner["timezone"])
    today = local_date_for(now, zone)
    midnight = datetime.combine(today, time.min, tzinfo=zone)
    course_lessons = [lesson.id for lesson in tree.lessons()]
    state = await driver.fetchrow(READ_STATE, session_id, user_id, course_lessons, midnight, today)
    if state["result"] is not None:
        return msgspec.convert(state["result"], CompletionRead)

    first_answer: dict[UUID, bool] = {}
    for exercise_id, correct in zip(state["answered_exercise_ids"], state["answered_correct"], strict=True):
        first_answer.setdefault(exercise_id, correct)
    exercise_ids = [UUID(entry["exercise_id"]) for entry in _exercises(found["exercises"])]
    missing = [ex for ex in exercise_ids if ex not in first_answer]
    if missing:
        raise Problem(
            409,
            "Session not finished",
            f"{len(missing)} exercise(s) of this session have no answer yet",
            extra={"unanswered_exercise_ids": [str(ex) for ex in missing]},
        )
    total = len(exercise_ids)
    correct_count = sum(1 for ex in exercise_ids if first_answer[ex])
    score = lesson_score(correct_count, total)
    perfect = is_perfect(state["answered_correct"])
    lesson_xp: int = found["xp_reward"]

    hearts = HeartsState(hearts=learner["hearts"], hearts_refill_anchor=learner["hearts_refill_anchor"])
    hearts_changes: list[HeartsChange] = []
    unlocked: list[UUID] = []
    perfect_lessons: int = learner["perfect_lessons"]
    skills_completed: int = learner["skills_completed"]
    lessons_completed: int = state["lessons_completed"]
    if practice:
        if state["practices_today"] < practice_rewards_per_day:
            hearts, hearts_changes = gain_heart(hearts, now, "practice_completed", interval=heart_interval)
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
        if perfect:
            perfect_lessons += 1

    streak = record_activity(
        StreakState(
            current_streak=learner["current_streak"],
            longest_streak=learner["longest_streak"],
            last_active_local_date=learner["last_active_local_date"],
            streak_survives_until=learner["streak_survives_until"],
            freezes=learner["streak_freezes"],
        ),
        now,
        zone,
    )
    total_xp: int = learner["total_xp"] + lesson_xp
    by_id = {achievement.id: achievement for achievement in definitions}
    awarded = [
        by_id[definition.id]
        for definition in achievements_to_award(
            [achievement.definition for achievement in definitions],
            LearnerStats(
                lessons_completed=lessons_completed,
                longest_streak=streak.longest_streak,
                perfect_lessons=perfect_lessons,
                total_xp=total_xp,
                skills_completed=skills_completed,
            ),
            set(state["earned"]),
        )
    ]
    achievements_xp = sum(achievement.xp_reward for achievement in awarded)
    total_xp += achievements_xp
    freezes = earn_freezes(streak.freezes, learner["total_xp"], total_xp, freeze_milestone_xp)
    # The week's league: joined with the first XP of the week (a cohort of the learner's tier), added to after.
    week = week_of(now)
    joining_league = lesson_xp + achievements_xp > 0 and learner["league_week"] != week
    xp_today = (state["xp_today"] or 0) + lesson_xp + achievements_xp
    goal_met = daily_goal_met(xp_today, learner["daily_xp_goal"])
    time_spent: int = state["time_spent"]

    result = CompletionRead(
        session_id=session_id,
        score=score,
        perfect=perfect,
        correct_count=correct_count,
        total_count=total,
        lesson_xp=lesson_xp,
        xp_earned=lesson_xp + achievements_xp,
        total_xp=total_xp,
        current_streak=streak.current_streak,
        longest_streak=streak.longest_streak,
        streak_freezes=freezes,
        daily_goal_met=goal_met,
        hearts=hearts_at(hearts, now, interval=heart_interval).hearts,
        achievements_unlocked=[
            AchievementRead(id=a.id, name=a.name, description=a.description, xp_reward=a.xp_reward) for a in awarded
        ],
        unlocked_lesson_ids=unlocked,
    )
    published = _completion_events(
        outbox,
        user_id=user_id,
        hearts_changes=hearts_changes,
        lesson_xp=lesson_xp,
        today=today,
        streak_extended=streak if streak.last_active_local_date != learner["last_active_local_date"] else None,
        freezes_used=learner["streak_freezes"] - streak.freezes,
        freezes_earned=freezes - streak.freezes,
        freezes=freezes,
        awarded=awarded,
        completed=events.LessonCompleted(
            user_id=user_id,
            course_id=course_id,
            lesson_id=lesson_id,
            session_id=session_id,
            score=score,
            correct_count=correct_count,
            total_count=total,
            perfect=perfect,
            xp_earned=lesson_xp,
            practice=practice,
        ),
    )
    await driver.execute(
        WRITE,
        session_id,
        user_id,
        course_id,
        lesson_id,
        score,
        lesson_xp,
        now,
        today,
        lesson_xp + achievements_xp,
        goal_met,
        time_spent,
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
        lesson_xp + achievements_xp,
        COHORT_SIZE,
    )
    return result


def _exercises(stored: object) -> list[dict[str, str]]:
    """The session's exercise list, as the jsonb column stores it."""
    entries = json.loads(stored) if isinstance(stored, str) else stored
    assert isinstance(entries, list)
    return entries


def _completion_events(
    outbox: Outbox,
    *,
    user_id: UUID,
    hearts_changes: Sequence[HeartsChange],
    lesson_xp: int,
    today: date,
    streak_extended: StreakState | None,
    freezes_used: int,
    freezes_earned: int,
    freezes: int,
    awarded: Sequence[Achievement],
    completed: events.LessonCompleted,
) -> list[EventEnvelope]:
    """A completion's events in the order they happen: hearts, the lesson's XP, the freezes missed days took,
    the streak, each achievement with its XP, the freezes earned, then the completion itself."""
    payloads: list[tuple[str, msgspec.Struct]] = [
        (
            events.HEARTS_CHANGED,
            events.HeartsChanged(
                user_id=user_id,
                action=change.action,
                hearts_before=change.hearts_before,
                hearts_after=change.hearts_after,
                reason=change.reason,
            ),
        )
        for change in hearts_changes
    ]
    if lesson_xp > 0:
        payloads.append(
            (events.XP_EARNED, events.XpEarned(user_id=user_id, amount=lesson_xp, source="lesson", local_date=today))
        )
    # Freezes used either kept the streak (it went on past 1) or ran out before it could be kept (it restarted).
    if freezes_used > 0 and streak_extended is not None and streak_extended.last_active_local_date is not None:
        payloads.append(
            (
                events.STREAK_FREEZE_USED,
                events.StreakFreezeUsed(
                    user_id=user_id,
                    freezes_used=freezes_used,
                    freezes_left=streak_extended.freezes,
                    streak_kept=streak_extended.current_streak > 1,
                    current_streak=streak_extended.current_streak,
                    local_date=streak_extended.last_active_local_date,
                ),
            )
        )
    if streak_extended is not None and streak_extended.last_active_local_date is not None:
        payloads.append(
            (
                events.STREAK_EXTENDED,
                events.StreakExtended(
                    user_id=user_id,
                    current_streak=streak_extended.current_streak,
                    longest_streak=streak_extended.longest_streak,
                    local_date=streak_extended.last_active_local_date,
                ),
            )
        )
    for achievement in awarded:
        payloads.append(
            (
                events.ACHIEVEMENT_UNLOCKED,
                events.AchievementUnlocked(
                    user_id=user_id,
                    achievement_id=achievement.id,
                    name=achievement.name,
                    xp_reward=achievement.xp_reward,
                ),
            )
        )
        if achievement.xp_reward:
            payloads.append(
                (
                    events.XP_EARNED,
                    events.XpEarned(
                        user_id=user_id, amount=achievement.xp_reward, source="achievement", local_date=today
                    ),
                )
            )
    if freezes_earned > 0:
        payloads.append(
            (
                events.STREAK_FREEZE_EARNED,
                events.StreakFreezeEarned(
                    user_id=user_id, freezes_earned=freezes_earned, freezes=freezes, reason="xp_milestone"
                ),
            )
        )
    payloads.append((events.LESSON_COMPLETED, completed))
    return [outbox.event(event_type, payload, subject_id=user_id) for event_type, payload in payloads]
