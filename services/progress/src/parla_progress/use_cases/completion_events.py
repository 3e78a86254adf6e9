"""What a completion publishes, in the order it happens: hearts, the lesson's XP, the freezes missed days took,
the streak, each achievement with its XP, the freezes earned, then the completion itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID

import msgspec

from parla_progress import events
from parla_progress.api.schemas import CompletionRead
from parla_progress.domain.hearts import HeartsChange
from parla_progress.domain.streaks import StreakState
from parla_progress.use_cases.learners import hearts_changed_events
from parla_shared.events.envelope import EventEnvelope
from parla_shared.events.outbox import Outbox


def completion_events(
    outbox: Outbox,
    *,
    user_id: UUID,
    course_id: UUID,
    lesson_id: UUID | None,
    practice: bool,
    today: date,
    result: CompletionRead,
    hearts_changes: Sequence[HeartsChange],
    streak_before: StreakState,
    streak: StreakState,
) -> list[EventEnvelope]:
    """The events of the completion answered by ``result``; ``streak`` is the streak after its activity, before
    the freezes its XP earned (``result.streak_freezes``)."""
    published = hearts_changed_events(outbox, user_id, hearts_changes)

    def publish(event_type: str, payload: msgspec.Struct) -> None:
        published.append(outbox.event(event_type, payload, subject_id=user_id))

    if result.lesson_xp > 0:
        publish(
            events.XP_EARNED,
            events.XpEarned(user_id=user_id, amount=result.lesson_xp, source="lesson", local_date=today),
        )
    day = streak.last_active_local_date
    if day is not None and day != streak_before.last_active_local_date:
        freezes_used = streak_before.freezes - streak.freezes
        # Freezes used either kept the streak (it went on past 1) or ran out before it could be kept (it restarted).
        if freezes_used > 0:
            publish(
                events.STREAK_FREEZE_USED,
                events.StreakFreezeUsed(
                    user_id=user_id,
                    freezes_used=freezes_used,
                    freezes_left=streak.freezes,
                    streak_kept=streak.current_streak > 1,
                    current_streak=streak.current_streak,
                    local_date=day,
                ),
            )
        publish(
            events.STREAK_EXTENDED,
            events.StreakExtended(
                user_id=user_id,
                current_streak=streak.current_streak,
                longest_streak=streak.longest_streak,
                local_date=day,
            ),
        )
    for achievement in result.achievements_unlocked:
        publish(
            events.ACHIEVEMENT_UNLOCKED,
            events.AchievementUnlocked(
                user_id=user_id, achievement_id=achievement.id, name=achievement.name, xp_reward=achievement.xp_reward
            ),
        )
        if achievement.xp_reward:
            publish(
                events.XP_EARNED,
                events.XpEarned(user_id=user_id, amount=achievement.xp_reward, source="achievement", local_date=today),
            )
    if (freezes_earned := result.streak_freezes - streak.freezes) > 0:
        publish(
            events.STREAK_FREEZE_EARNED,
            events.StreakFreezeEarned(
                user_id=user_id, freezes_earned=freezes_earned, freezes=result.streak_freezes, reason="xp_milestone"
            ),
        )
    publish(
        events.LESSON_COMPLETED,
        events.LessonCompleted(
            user_id=user_id,
            course_id=course_id,
            lesson_id=lesson_id,
            session_id=result.session_id,
            score=result.score,
            correct_count=result.correct_count,
            total_count=result.total_count,
            perfect=result.perfect,
            xp_earned=result.lesson_xp,
            practice=practice,
        ),
    )
    return published
