"""The progress schema as SQLAlchemy models (the DDL itself is in ``migrations/progress``).

Ids of other contexts (``user_id``, ``course_id``, ``lesson_id``, ``exercise_id``) are plain UUIDs:
no foreign key crosses a schema.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.base import DefaultBase
from sqlalchemy import TIMESTAMP, Boolean, Date, Double, ForeignKey, Integer, SmallInteger, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import Mapped, mapped_column
from uuid_utils.compat import uuid7

SCHEMA = "progress"
_TS = TIMESTAMP(timezone=True)


def _new_id() -> UUID:
    return uuid7()


class _ProgressBase(DefaultBase):
    __abstract__ = True
    __table_args__: Any = {"schema": SCHEMA}


class Learner(_ProgressBase):
    """The learner projection: identity's timezone and goal, and the hearts and streak of the learner."""

    __tablename__ = "learners"

    user_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(50), server_default="UTC")
    daily_xp_goal: Mapped[int] = mapped_column(Integer, server_default="20")
    hearts: Mapped[int] = mapped_column(Integer, server_default="5")
    hearts_refill_anchor: Mapped[datetime | None] = mapped_column(_TS)
    total_xp: Mapped[int] = mapped_column(Integer, server_default="0")
    current_streak: Mapped[int] = mapped_column(Integer, server_default="0")
    longest_streak: Mapped[int] = mapped_column(Integer, server_default="0")
    last_active_local_date: Mapped[date | None] = mapped_column(Date)
    streak_survives_until: Mapped[datetime | None] = mapped_column(_TS)
    perfect_lessons: Mapped[int] = mapped_column(Integer, server_default="0")
    skills_completed: Mapped[int] = mapped_column(Integer, server_default="0")
    streak_freezes: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    league_tier: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    league_week: Mapped[date | None] = mapped_column(Date)
    league_cohort_id: Mapped[UUID | None] = mapped_column(PG_UUID(as_uuid=True))
    last_active_at: Mapped[datetime | None] = mapped_column(_TS)
    created_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))


class UserCourse(_ProgressBase):
    __tablename__ = "user_courses"

    id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True, default=_new_id)
    user_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    course_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    enrolled_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))
    last_active_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))
    total_xp: Mapped[int] = mapped_column(Integer, server_default="0")
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))


class UserLessonProgress(_ProgressBase):
    __tablename__ = "user_lesson_progress"

    id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True, default=_new_id)
    user_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    course_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    lesson_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(String(20), server_default="locked")
    completion_count: Mapped[int] = mapped_column(Integer, server_default="0")
    best_score: Mapped[int] = mapped_column(Integer, server_default="0")
    total_attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    total_time_seconds: Mapped[int] = mapped_column(Integer, server_default="0")
    xp_earned: Mapped[int] = mapped_column(Integer, server_default="0")
    hearts_lost: Mapped[int] = mapped_column(Integer, server_default="0")
    first_completed_at: Mapped[datetime | None] = mapped_column(_TS)
    last_completed_at: Mapped[datetime | None] = mapped_column(_TS)
    created_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))


class LessonSession(_ProgressBase):
    """One run through a lesson (or a practice of weak exercises) by a learner."""

    __tablename__ = "lesson_sessions"

    id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True, default=_new_id)
    user_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    course_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    lesson_id: Mapped[UUID | None] = mapped_column(PG_UUID(as_uuid=True))
    practice: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    exercises: Mapped[list[dict[str, str]]] = mapped_column(JSONB)
    xp_reward: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), server_default="active")
    started_at: Mapped[datetime] = mapped_column(_TS)
    completed_at: Mapped[datetime | None] = mapped_column(_TS)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))

    def lesson_of(self, exercise_id: UUID) -> UUID | None:
        for entry in self.exercises:
            if entry["exercise_id"] == str(exercise_id):
                return UUID(entry["lesson_id"])
        return None

    @property
    def exercise_ids(self) -> list[UUID]:
        return [UUID(entry["exercise_id"]) for entry in self.exercises]


class UserExerciseInteraction(_ProgressBase):
    __tablename__ = "user_exercise_interactions"

    id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True, default=_new_id)
    user_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    exercise_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    lesson_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    session_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.lesson_sessions.id"))
    user_answer: Mapped[str | None] = mapped_column(Text)
    is_correct: Mapped[bool] = mapped_column(Boolean)
    attempt_number: Mapped[int] = mapped_column(Integer, server_default="1")
    time_spent_seconds: Mapped[int] = mapped_column(Integer, server_default="0")
    hints_used: Mapped[int] = mapped_column(Integer, server_default="0")
    hearts_lost: Mapped[int] = mapped_column(Integer, server_default="0")
    xp_earned: Mapped[int] = mapped_column(Integer, server_default="0")
    interaction_at: Mapped[datetime] = mapped_column(_TS)
    created_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))


class LessonSessionAnswer(_ProgressBase):
    """The answer a learner got for one request, kept for ``Idempotency-Key`` retries."""

    __tablename__ = "lesson_session_answers"

    id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True, default=_new_id)
    session_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.lesson_sessions.id"))
    user_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    interaction_id: Mapped[UUID] = mapped_column(
        PG_UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.user_exercise_interactions.id")
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    response: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))


class UserDailyXp(_ProgressBase):
    __tablename__ = "user_daily_xp"

    id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True, default=_new_id)
    user_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    date: Mapped[date] = mapped_column(Date)
    xp_earned: Mapped[int] = mapped_column(Integer, server_default="0")
    goal_met: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    activities_completed: Mapped[int] = mapped_column(Integer, server_default="0")
    time_spent_seconds: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))


class UserHeartsLog(_ProgressBase):
    __tablename__ = "user_hearts_log"

    id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True, default=_new_id)
    user_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    action: Mapped[str] = mapped_column(String(20))
    hearts_before: Mapped[int] = mapped_column(Integer)
    hearts_after: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))


class Achievement(_ProgressBase):
    __tablename__ = "achievements"

    id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True, default=_new_id)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    icon_url: Mapped[str | None] = mapped_column(String(500))
    condition_type: Mapped[str] = mapped_column(String(50))
    condition_value: Mapped[int] = mapped_column(Integer)
    xp_reward: Mapped[int] = mapped_column(Integer, server_default="0")
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))


class UserAchievement(_ProgressBase):
    __tablename__ = "user_achievements"

    id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True, default=_new_id)
    user_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    achievement_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.achievements.id"))
    earned_at: Mapped[datetime] = mapped_column(_TS)
    created_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))


class ExerciseMemory(_ProgressBase):
    """An exercise's FSRS memory state for one learner (``domain/memory.py``), updated by every answer."""

    __tablename__ = "exercise_memory"

    user_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True)
    exercise_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True)
    lesson_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    state: Mapped[int] = mapped_column(SmallInteger)
    step: Mapped[int | None] = mapped_column(SmallInteger)
    stability: Mapped[float | None] = mapped_column(Double)
    difficulty: Mapped[float | None] = mapped_column(Double)
    due: Mapped[datetime] = mapped_column(_TS)
    last_review: Mapped[datetime | None] = mapped_column(_TS)
    reviews: Mapped[int] = mapped_column(Integer, server_default="0")


class LeagueMembership(_ProgressBase):
    """A learner's XP of one league week in their cohort (``domain/leagues.py``)."""

    __tablename__ = "league_memberships"

    week: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True)
    tier: Mapped[int] = mapped_column(SmallInteger)
    cohort_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    xp: Mapped[int] = mapped_column(Integer)
    xp_reached_at: Mapped[datetime] = mapped_column(_TS)


class LeagueResult(_ProgressBase):
    """A learner's rank and outcome at a league week's end."""

    __tablename__ = "league_results"

    week: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True)
    cohort_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True))
    tier: Mapped[int] = mapped_column(SmallInteger)
    rank: Mapped[int] = mapped_column(Integer)
    xp: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(10))
    new_tier: Mapped[int] = mapped_column(SmallInteger)


class ErasedUser(_ProgressBase):
    """A user identity has deleted: their progress is gone and must not come back (FR-5)."""

    __tablename__ = "erased_users"

    user_id: Mapped[UUID] = mapped_column(PG_UUID(as_uuid=True), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(_TS, server_default=text("now()"))


# Every table holding a learner's own rows, children before parents (erasure order, FR-5).
USER_TABLES: tuple[type[_ProgressBase], ...] = (
    LessonSessionAnswer,
    UserExerciseInteraction,
    ExerciseMemory,
    LeagueMembership,
    LeagueResult,
    LessonSession,
    UserAchievement,
    UserHeartsLog,
    UserDailyXp,
    UserLessonProgress,
    UserCourse,
    Learner,
)
