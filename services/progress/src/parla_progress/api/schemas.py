"""Request and response bodies of the progress API (``docs/api.md``, progress)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from parla_shared.schemas import StorableText

LessonStatusName = Literal["locked", "available", "in_progress", "completed"]


class EnrollmentCreate(msgspec.Struct, forbid_unknown_fields=True):
    course_id: UUID


class EnrollmentRead(msgspec.Struct):
    id: UUID
    course_id: UUID
    enrolled_at: datetime
    total_xp: int
    is_active: bool


class TodayRead(msgspec.Struct):
    date: date
    xp: int
    goal_met: bool


class MeRead(msgspec.Struct):
    total_xp: int
    hearts: int
    max_hearts: int
    next_heart_at: datetime | None
    current_streak: int
    longest_streak: int
    streak_freezes: int
    daily_xp_goal: int
    timezone: str
    today: TodayRead


class LessonProgressRead(msgspec.Struct):
    lesson_id: UUID
    status: LessonStatusName
    best_score: int
    completion_count: int


class CourseProgressRead(msgspec.Struct):
    course_id: UUID
    enrolled: bool
    lessons: list[LessonProgressRead]


class PracticeCreate(msgspec.Struct, forbid_unknown_fields=True):
    course_id: UUID


class SessionRead(msgspec.Struct):
    session_id: UUID
    exercise_ids: list[UUID]
    lesson_id: UUID | None
    course_id: UUID
    practice: bool
    hearts: int


class AnswerCreate(msgspec.Struct, forbid_unknown_fields=True):
    exercise_id: UUID
    answer: Annotated[StorableText, msgspec.Meta(max_length=1000)]
    time_spent_seconds: Annotated[int, msgspec.Meta(ge=0, le=86_400)] = 0
    hints_used: Annotated[int, msgspec.Meta(ge=0, le=100)] = 0


class AnswerRead(msgspec.Struct):
    exercise_id: UUID
    correct: bool
    correct_answer: str | None
    feedback: str
    message: str | None
    hearts: int
    xp_earned: int
    attempt_number: int
    hearts_lost: int


class AchievementRead(msgspec.Struct):
    id: UUID
    name: str
    description: str
    xp_reward: int


class CompletionRead(msgspec.Struct):
    session_id: UUID
    score: int
    perfect: bool
    correct_count: int
    total_count: int
    lesson_xp: int
    xp_earned: int
    total_xp: int
    current_streak: int
    longest_streak: int
    streak_freezes: int
    daily_goal_met: bool
    hearts: int
    achievements_unlocked: list[AchievementRead]
    unlocked_lesson_ids: list[UUID]


class EarnedAchievementRead(msgspec.Struct):
    id: UUID
    name: str
    description: str
    xp_reward: int
    earned_at: datetime


class DailyXpRead(msgspec.Struct):
    date: date
    xp_earned: int
    goal_met: bool


class ReviewDayRead(msgspec.Struct):
    date: date
    due: int


class ReviewForecastRead(msgspec.Struct):
    """How many answered exercises fall due on each of the next 14 local days (overdue ones on today)."""

    timezone: str
    days: list[ReviewDayRead]


class LeagueMemberRead(msgspec.Struct):
    rank: int
    user_id: UUID
    xp: int
    me: bool
    # Where the member would go if the week ended now.
    outcome: Literal["promoted", "stayed", "demoted"]


class LeagueRead(msgspec.Struct):
    """The learner's league this week: their tier and, once they earned XP this week, their cohort's leaderboard."""

    week: date
    ends_at: datetime
    tier: str
    joined: bool
    promoted: int
    demoted: int
    members: list[LeagueMemberRead]
