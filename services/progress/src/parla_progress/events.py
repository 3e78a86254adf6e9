"""The events progress publishes (docs/events.md, stream ``PARLA_PROGRESS``) and consumes."""

from __future__ import annotations

from datetime import date
from typing import Final
from uuid import UUID

import msgspec

ENROLLMENT_CREATED: Final = "parla.progress.enrollment.created"
LESSON_STARTED: Final = "parla.progress.lesson.started"
EXERCISE_ANSWERED: Final = "parla.progress.exercise.answered"
LESSON_COMPLETED: Final = "parla.progress.lesson.completed"
XP_EARNED: Final = "parla.progress.xp.earned"
HEARTS_CHANGED: Final = "parla.progress.hearts.changed"
STREAK_EXTENDED: Final = "parla.progress.streak.extended"
ACHIEVEMENT_UNLOCKED: Final = "parla.progress.achievement.unlocked"
STREAK_FREEZE_USED: Final = "parla.progress.streak.freeze_used"
STREAK_FREEZE_EARNED: Final = "parla.progress.streak.freeze_earned"

USER_REGISTERED: Final = "parla.identity.user.registered"
USER_UPDATED: Final = "parla.identity.user.updated"
USER_DELETED: Final = "parla.identity.user.deleted"


class EnrollmentCreated(msgspec.Struct, frozen=True):
    user_id: UUID
    course_id: UUID


class LessonStarted(msgspec.Struct, frozen=True):
    user_id: UUID
    course_id: UUID
    lesson_id: UUID | None
    session_id: UUID
    practice: bool


class ExerciseAnswered(msgspec.Struct, frozen=True):
    user_id: UUID
    course_id: UUID
    lesson_id: UUID
    session_id: UUID
    exercise_id: UUID
    correct: bool
    attempt_number: int
    time_spent_seconds: int
    hints_used: int
    hearts_lost: int
    xp_earned: int


class LessonCompleted(msgspec.Struct, frozen=True):
    user_id: UUID
    course_id: UUID
    lesson_id: UUID | None
    session_id: UUID
    score: int
    correct_count: int
    total_count: int
    perfect: bool
    xp_earned: int
    practice: bool


class XpEarned(msgspec.Struct, frozen=True):
    user_id: UUID
    amount: int
    source: str
    local_date: date


class HeartsChanged(msgspec.Struct, frozen=True):
    user_id: UUID
    action: str
    hearts_before: int
    hearts_after: int
    reason: str


class StreakExtended(msgspec.Struct, frozen=True):
    user_id: UUID
    current_streak: int
    longest_streak: int
    local_date: date


class AchievementUnlocked(msgspec.Struct, frozen=True):
    user_id: UUID
    achievement_id: UUID
    name: str
    xp_reward: int


class StreakFreezeUsed(msgspec.Struct, frozen=True):
    """Missed local days took freezes (seen at the learner's next activity, dated by it)."""

    user_id: UUID
    freezes_used: int
    freezes_left: int
    streak_kept: bool
    current_streak: int
    local_date: date


class StreakFreezeEarned(msgspec.Struct, frozen=True):
    user_id: UUID
    freezes_earned: int
    freezes: int
    reason: str
