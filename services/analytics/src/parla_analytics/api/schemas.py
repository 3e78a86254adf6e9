"""Response bodies of the analytics API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import msgspec


class ActivityRead(msgspec.Struct, kw_only=True, frozen=True):
    id: UUID
    user_id: UUID
    activity_type: str
    activity_data: dict[str, Any] | None
    ip_address: str | None
    user_agent: str | None
    created_at: datetime


class ActivityPage(msgspec.Struct, kw_only=True, frozen=True):
    """Newest first; pass ``next_cursor`` as ``cursor`` for the next page (null on the last page)."""

    items: list[ActivityRead]
    next_cursor: str | None


class AuditEntryRead(msgspec.Struct, kw_only=True, frozen=True):
    id: UUID
    seq: int
    admin_user_id: UUID | None
    action: str
    table_name: str | None
    record_id: UUID | None
    old_values: Any
    new_values: Any
    ip_address: str | None
    created_at: datetime
    prev_hash: str
    hash: str


class AuditPage(msgspec.Struct, kw_only=True, frozen=True):
    items: list[AuditEntryRead]
    next_cursor: str | None


class AuditVerificationRead(msgspec.Struct, kw_only=True, frozen=True):
    ok: bool
    checked: int
    first_broken_id: UUID | None
    reason: str | None
    # The newest signed checkpoint (kept outside the database) the log agrees with; null before the first one.
    checkpoint_seq: int | None


class LessonCompletionRate(msgspec.Struct, kw_only=True, frozen=True):
    lesson_id: UUID
    starts: int
    completions: int
    completion_rate: float | None
    average_score: float | None


class CourseCompletionRates(msgspec.Struct, kw_only=True, frozen=True):
    course_id: UUID
    lessons: list[LessonCompletionRate]


class ExerciseAccuracy(msgspec.Struct, kw_only=True, frozen=True):
    exercise_id: UUID
    attempts: int
    correct: int
    accuracy: float | None
    average_time_seconds: float | None


class LessonExerciseAccuracy(msgspec.Struct, kw_only=True, frozen=True):
    lesson_id: UUID
    exercises: list[ExerciseAccuracy]


class DailyActive(msgspec.Struct, kw_only=True, frozen=True):
    date: date
    learners: int


class DailyActiveRange(msgspec.Struct, kw_only=True, frozen=True):
    from_: date = msgspec.field(name="from")
    to: date
    days: list[DailyActive]


class RetentionWeek(msgspec.Struct, kw_only=True, frozen=True):
    week_number: int
    learners: int
    rate: float | None


class RetentionCohort(msgspec.Struct, kw_only=True, frozen=True):
    cohort_week: date
    signups: int
    weeks: list[RetentionWeek]


class RetentionCohorts(msgspec.Struct, kw_only=True, frozen=True):
    from_: date = msgspec.field(name="from")
    to: date
    cohorts: list[RetentionCohort]
