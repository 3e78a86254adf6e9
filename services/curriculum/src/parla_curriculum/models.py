"""The content tables (PRD "Course content structure" and "Audio & media"), as created by migration 0002.

Stable ``key`` columns (courses, sections, units, lessons, exercises) are the identity of content for
course-as-code: a re-imported document is matched to stored rows by key (docs/decisions.md (curriculum)).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.base import AdvancedDeclarativeBase, CommonTableAttributes
from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text, func, inspect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import Mapped, mapped_column
from uuid_utils.compat import uuid7

SCHEMA = "curriculum"
_TABLE_ARGS = {"schema": SCHEMA}
# Server-maintained columns (updated_at) come back with RETURNING instead of expiring: no lazy load
# (impossible under asyncio) when an event reads a row's values after a flush.
_MAPPER_ARGS = {"eager_defaults": True}


class UUIDv7Base(CommonTableAttributes, AdvancedDeclarativeBase, AsyncAttrs):
    """advanced-alchemy's declarative base with a UUIDv7 key, without its ``sa_orm_sentinel`` column.

    (advanced-alchemy 1.12's ``UUIDv7Base`` adds an insert-sentinel column that SQLAlchemy 2.1 selects,
    and our hand-written tables do not have it.)
    """

    __abstract__ = True

    id: Mapped[UUID] = mapped_column(primary_key=True, default=uuid7)


def _created_at() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


def _updated_at() -> Mapped[datetime]:
    # Maintained by the table's trigger; fetched again after an UPDATE.
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now(), server_onupdate=func.now())


class Language(UUIDv7Base):
    __tablename__ = "languages"
    __table_args__ = _TABLE_ARGS
    __mapper_args__ = _MAPPER_ARGS

    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    native_name: Mapped[str | None] = mapped_column(String(100))
    flag_url: Mapped[str | None] = mapped_column(String(500))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class Course(UUIDv7Base):
    __tablename__ = "courses"
    __table_args__ = _TABLE_ARGS
    __mapper_args__ = _MAPPER_ARGS

    key: Mapped[str] = mapped_column(String(100), unique=True)
    from_language_id: Mapped[UUID] = mapped_column(ForeignKey(f"{SCHEMA}.languages.id"))
    to_language_id: Mapped[UUID] = mapped_column(ForeignKey(f"{SCHEMA}.languages.id"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    difficulty_level: Mapped[str] = mapped_column(String(20), default="beginner")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class Section(UUIDv7Base):
    __tablename__ = "sections"
    __table_args__ = _TABLE_ARGS
    __mapper_args__ = _MAPPER_ARGS

    course_id: Mapped[UUID] = mapped_column(ForeignKey(f"{SCHEMA}.courses.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(Integer)
    cefr_level: Mapped[str | None] = mapped_column(String(10))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class Unit(UUIDv7Base):
    __tablename__ = "units"
    __table_args__ = _TABLE_ARGS
    __mapper_args__ = _MAPPER_ARGS

    section_id: Mapped[UUID] = mapped_column(ForeignKey(f"{SCHEMA}.sections.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(Integer)
    icon_url: Mapped[str | None] = mapped_column(String(500))
    color: Mapped[str | None] = mapped_column(String(7))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class Lesson(UUIDv7Base):
    __tablename__ = "lessons"
    __table_args__ = _TABLE_ARGS
    __mapper_args__ = _MAPPER_ARGS

    unit_id: Mapped[UUID] = mapped_column(ForeignKey(f"{SCHEMA}.units.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    sort_order: Mapped[int] = mapped_column(Integer)
    estimated_minutes: Mapped[int] = mapped_column(Integer, default=5)
    xp_reward: Mapped[int] = mapped_column(Integer, default=20)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class LessonPrerequisite(UUIDv7Base):
    __tablename__ = "lesson_prerequisites"
    __table_args__ = _TABLE_ARGS
    __mapper_args__ = _MAPPER_ARGS

    lesson_id: Mapped[UUID] = mapped_column(ForeignKey(f"{SCHEMA}.lessons.id", ondelete="CASCADE"))
    prerequisite_lesson_id: Mapped[UUID] = mapped_column(ForeignKey(f"{SCHEMA}.lessons.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = _created_at()


class ExerciseType(UUIDv7Base):
    __tablename__ = "exercise_types"
    __table_args__ = _TABLE_ARGS
    __mapper_args__ = _MAPPER_ARGS

    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _created_at()


class Exercise(UUIDv7Base):
    __tablename__ = "exercises"
    __table_args__ = _TABLE_ARGS
    __mapper_args__ = _MAPPER_ARGS

    course_id: Mapped[UUID] = mapped_column(ForeignKey(f"{SCHEMA}.courses.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    exercise_type_id: Mapped[UUID] = mapped_column(ForeignKey(f"{SCHEMA}.exercise_types.id"))
    prompt: Mapped[str] = mapped_column(Text)
    correct_answer: Mapped[str] = mapped_column(Text)
    alternative_answers: Mapped[list[str] | None] = mapped_column(JSONB(none_as_null=True))
    explanation: Mapped[str | None] = mapped_column(Text)
    hint: Mapped[str | None] = mapped_column(Text)
    difficulty_level: Mapped[int] = mapped_column(Integer, default=1)
    estimated_seconds: Mapped[int] = mapped_column(Integer, default=30)
    audio_url: Mapped[str | None] = mapped_column(String(500))
    image_url: Mapped[str | None] = mapped_column(String(500))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB(none_as_null=True))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class ExerciseOption(UUIDv7Base):
    __tablename__ = "exercise_options"
    __table_args__ = _TABLE_ARGS
    __mapper_args__ = _MAPPER_ARGS

    exercise_id: Mapped[UUID] = mapped_column(ForeignKey(f"{SCHEMA}.exercises.id", ondelete="CASCADE"))
    option_text: Mapped[str] = mapped_column(Text)
    is_correct: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created_at()


class LessonExercise(UUIDv7Base):
    __tablename__ = "lesson_exercises"
    __table_args__ = _TABLE_ARGS
    __mapper_args__ = _MAPPER_ARGS

    lesson_id: Mapped[UUID] = mapped_column(ForeignKey(f"{SCHEMA}.lessons.id", ondelete="CASCADE"))
    exercise_id: Mapped[UUID] = mapped_column(ForeignKey(f"{SCHEMA}.exercises.id", ondelete="CASCADE"))
    sort_order: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = _created_at()


class AudioFile(UUIDv7Base):
    __tablename__ = "audio_files"
    __table_args__ = _TABLE_ARGS
    __mapper_args__ = _MAPPER_ARGS

    exercise_id: Mapped[UUID] = mapped_column(ForeignKey(f"{SCHEMA}.exercises.id", ondelete="CASCADE"))
    file_path: Mapped[str] = mapped_column(String(500))
    file_format: Mapped[str] = mapped_column(String(10))
    quality_level: Mapped[str] = mapped_column(String(20), default="medium")
    file_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    sample_rate: Mapped[int | None] = mapped_column(Integer)
    bit_rate: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


# Entity name (as in event types) → model.
ENTITIES: dict[str, type[UUIDv7Base]] = {
    "language": Language,
    "course": Course,
    "section": Section,
    "unit": Unit,
    "lesson": Lesson,
    "lesson_prerequisite": LessonPrerequisite,
    "exercise": Exercise,
    "exercise_option": ExerciseOption,
    "lesson_exercise": LessonExercise,
    "audio_file": AudioFile,
}


def column_values(row: UUIDv7Base) -> dict[str, Any]:
    """A row's column values by column name (``metadata``, not ``metadata_``), for events and diffs."""
    state = inspect(row)
    return {
        # str(): an explicitly named column's name is a ``quoted_name``, which msgspec refuses as a key.
        str(column.name): getattr(row, attribute.key)
        for attribute in row.__mapper__.column_attrs
        for column in attribute.columns
        if attribute.key not in state.unloaded
    }
