"""Request and response bodies of the public read API and the internal grading API."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

import msgspec

AudioFormat = Literal["mp3", "wav", "ogg"]
AudioQuality = Literal["low", "medium", "high"]


class LanguageRead(msgspec.Struct, frozen=True):
    id: UUID
    code: str
    name: str
    native_name: str | None
    flag_url: str | None


class CourseSummary(msgspec.Struct, frozen=True):
    id: UUID
    key: str
    from_language: str
    to_language: str
    name: str
    description: str | None
    difficulty_level: str


class LessonNode(msgspec.Struct, frozen=True):
    id: UUID
    key: str
    name: str
    description: str | None
    sort_order: int
    xp_reward: int
    estimated_minutes: int
    exercise_count: int
    prerequisite_ids: list[UUID]


class UnitNode(msgspec.Struct, frozen=True):
    id: UUID
    key: str
    name: str
    description: str | None
    sort_order: int
    color: str | None
    icon_url: str | None
    lessons: list[LessonNode]


class SectionNode(msgspec.Struct, frozen=True):
    id: UUID
    key: str
    name: str
    description: str | None
    sort_order: int
    cefr_level: str | None
    units: list[UnitNode]


class CourseTree(msgspec.Struct, frozen=True):
    id: UUID
    key: str
    from_language: str
    to_language: str
    name: str
    description: str | None
    difficulty_level: str
    sections: list[SectionNode]


class OptionRead(msgspec.Struct, frozen=True):
    id: UUID
    text: str


class AudioRead(msgspec.Struct, frozen=True):
    url: str
    format: str
    quality: str


class ExerciseRead(msgspec.Struct, frozen=True, omit_defaults=True):
    """What a learner sees before answering: never the answer, the alternatives or which option is correct."""

    id: UUID
    type: str
    prompt: str
    hint: str | None
    difficulty_level: int
    estimated_seconds: int
    image_url: str | None = None
    options: list[OptionRead] | None = None
    audio: list[AudioRead] | None = None


class LessonRead(msgspec.Struct, frozen=True):
    id: UUID
    key: str
    course_id: UUID
    unit_id: UUID
    name: str
    description: str | None
    xp_reward: int
    estimated_minutes: int
    exercises: list[ExerciseRead]


class AnswerCheck(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The learner's answer: the typed text, or the chosen option's id for multiple choice; and whose it is (the
    calling service says so as data, it never forwards the learner's token)."""

    answer: str
    learner_id: UUID | None = None


class CheckResult(msgspec.Struct, frozen=True):
    exercise_id: UUID
    correct: bool
    feedback: Literal["exact", "accent", "typo", "wrong"]
    correct_answer: str
    message: str | None
