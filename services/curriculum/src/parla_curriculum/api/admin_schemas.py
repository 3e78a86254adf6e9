"""Bodies of the admin create/update/read endpoints: ``XCreate`` (required columns), ``XUpdate`` (any subset,
``null`` clears a nullable column) and ``XAdminRead`` (every column, answers included: admins only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from parla_shared.schemas import StorableText

Difficulty = Literal["beginner", "intermediate", "advanced"]
Cefr = Literal["A1", "A2", "B1", "B2", "C1", "C2"]
AudioFormat = Literal["mp3", "wav", "ogg"]
Quality = Literal["low", "medium", "high"]


class _Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class _Read(msgspec.Struct, kw_only=True):
    id: UUID
    created_at: datetime


# --- languages ---
class LanguageCreate(_Body):
    code: str
    name: str
    native_name: str | None = None
    flag_url: str | None = None
    is_active: bool = True
    sort_order: int = 0


class LanguageUpdate(_Body):
    code: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    native_name: str | UnsetType | None = UNSET
    flag_url: str | UnsetType | None = UNSET
    is_active: bool | UnsetType = UNSET
    sort_order: int | UnsetType = UNSET


class LanguageAdminRead(_Read):
    code: str
    name: str
    native_name: str | None
    flag_url: str | None
    is_active: bool
    sort_order: int
    updated_at: datetime


# --- courses ---
class CourseCreate(_Body):
    key: str
    from_language_id: UUID
    to_language_id: UUID
    name: str
    description: str | None = None
    difficulty_level: Difficulty = "beginner"
    is_active: bool = True
    sort_order: int = 0


class CourseUpdate(_Body):
    key: str | UnsetType = UNSET
    from_language_id: UUID | UnsetType = UNSET
    to_language_id: UUID | UnsetType = UNSET
    name: str | UnsetType = UNSET
    description: str | UnsetType | None = UNSET
    difficulty_level: Difficulty | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET
    sort_order: int | UnsetType = UNSET


class CourseAdminRead(_Read):
    key: str
    from_language_id: UUID
    to_language_id: UUID
    name: str
    description: str | None
    difficulty_level: str
    is_active: bool
    sort_order: int
    updated_at: datetime


# --- sections ---
class SectionCreate(_Body):
    course_id: UUID
    key: str
    name: str
    sort_order: int
    description: str | None = None
    cefr_level: Cefr | None = None
    is_active: bool = True


class SectionUpdate(_Body):
    course_id: UUID | UnsetType = UNSET
    key: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    sort_order: int | UnsetType = UNSET
    description: str | UnsetType | None = UNSET
    cefr_level: Cefr | UnsetType | None = UNSET
    is_active: bool | UnsetType = UNSET


class SectionAdminRead(_Read):
    course_id: UUID
    key: str
    name: str
    sort_order: int
    description: str | None
    cefr_level: str | None
    is_active: bool
    updated_at: datetime


# --- units ---
class UnitCreate(_Body):
    section_id: UUID
    key: str
    name: str
    sort_order: int
    description: str | None = None
    icon_url: str | None = None
    color: str | None = None
    is_active: bool = True


class UnitUpdate(_Body):
    section_id: UUID | UnsetType = UNSET
    key: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    sort_order: int | UnsetType = UNSET
    description: str | UnsetType | None = UNSET
    icon_url: str | UnsetType | None = UNSET
    color: str | UnsetType | None = UNSET
    is_active: bool | UnsetType = UNSET


class UnitAdminRead(_Read):
    section_id: UUID
    key: str
    name: str
    sort_order: int
    description: str | None
    icon_url: str | None
    color: str | None
    is_active: bool
    updated_at: datetime


# --- lessons ---
class LessonCreate(_Body):
    unit_id: UUID
    key: str
    name: str
    sort_order: int
    description: str | None = None
    estimated_minutes: int = 5
    xp_reward: int = 20
    is_active: bool = True


class LessonUpdate(_Body):
    unit_id: UUID | UnsetType = UNSET
    key: str | UnsetType = UNSET
    name: str | UnsetType = UNSET
    sort_order: int | UnsetType = UNSET
    description: str | UnsetType | None = UNSET
    estimated_minutes: int | UnsetType = UNSET
    xp_reward: int | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET


class LessonAdminRead(_Read):
    unit_id: UUID
    key: str
    name: str
    sort_order: int
    description: str | None
    estimated_minutes: int
    xp_reward: int
    is_active: bool
    updated_at: datetime


# --- lesson prerequisites ---
class LessonPrerequisiteCreate(_Body):
    lesson_id: UUID
    prerequisite_lesson_id: UUID


class LessonPrerequisiteUpdate(_Body):
    lesson_id: UUID | UnsetType = UNSET
    prerequisite_lesson_id: UUID | UnsetType = UNSET


class LessonPrerequisiteAdminRead(_Read):
    lesson_id: UUID
    prerequisite_lesson_id: UUID


# --- exercises ---
class ExerciseCreate(_Body):
    course_id: UUID
    key: str
    exercise_type_id: UUID
    prompt: str
    correct_answer: str
    alternative_answers: list[str] | None = None
    explanation: str | None = None
    hint: str | None = None
    difficulty_level: int = 1
    estimated_seconds: int = 30
    audio_url: str | None = None
    image_url: str | None = None
    metadata: dict[str, Any] | None = None
    is_active: bool = True


class ExerciseUpdate(_Body):
    course_id: UUID | UnsetType = UNSET
    key: str | UnsetType = UNSET
    exercise_type_id: UUID | UnsetType = UNSET
    prompt: str | UnsetType = UNSET
    correct_answer: str | UnsetType = UNSET
    alternative_answers: list[str] | UnsetType | None = UNSET
    explanation: str | UnsetType | None = UNSET
    hint: str | UnsetType | None = UNSET
    difficulty_level: int | UnsetType = UNSET
    estimated_seconds: int | UnsetType = UNSET
    audio_url: str | UnsetType | None = UNSET
    image_url: str | UnsetType | None = UNSET
    metadata: dict[str, Any] | UnsetType | None = UNSET
    is_active: bool | UnsetType = UNSET


class ExerciseAdminRead(_Read):
    course_id: UUID
    key: str
    exercise_type_id: UUID
    prompt: str
    correct_answer: str
    alternative_answers: list[str] | None
    explanation: str | None
    hint: str | None
    difficulty_level: int
    estimated_seconds: int
    audio_url: str | None
    image_url: str | None
    metadata: dict[str, Any] | None
    is_active: bool
    updated_at: datetime


# --- exercise options ---
class ExerciseOptionCreate(_Body):
    exercise_id: UUID
    option_text: str
    sort_order: int
    is_correct: bool = False


class ExerciseOptionUpdate(_Body):
    exercise_id: UUID | UnsetType = UNSET
    option_text: str | UnsetType = UNSET
    sort_order: int | UnsetType = UNSET
    is_correct: bool | UnsetType = UNSET


class ExerciseOptionAdminRead(_Read):
    exercise_id: UUID
    option_text: str
    sort_order: int
    is_correct: bool


# --- lesson exercises ---
class LessonExerciseCreate(_Body):
    lesson_id: UUID
    exercise_id: UUID
    sort_order: int


class LessonExerciseUpdate(_Body):
    lesson_id: UUID | UnsetType = UNSET
    exercise_id: UUID | UnsetType = UNSET
    sort_order: int | UnsetType = UNSET


class LessonExerciseAdminRead(_Read):
    lesson_id: UUID
    exercise_id: UUID
    sort_order: int


# --- audio files ---
class AudioFileCreate(_Body):
    """``file_path`` names a file already in the media storage (relative to ``/media/``); its size, duration,
    sample rate and bit rate are read from the file."""

    exercise_id: UUID
    file_path: StorableText
    file_format: AudioFormat
    quality_level: Quality = "medium"
    is_active: bool = True


class AudioFileUpdate(_Body):
    exercise_id: UUID | UnsetType = UNSET
    file_path: StorableText | UnsetType = UNSET
    file_format: AudioFormat | UnsetType = UNSET
    quality_level: Quality | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET


class AudioFileAdminRead(_Read):
    exercise_id: UUID
    file_path: str
    file_format: str
    quality_level: str
    file_size_bytes: int | None
    duration_seconds: int | None
    sample_rate: int | None
    bit_rate: int | None
    is_active: bool
    updated_at: datetime
