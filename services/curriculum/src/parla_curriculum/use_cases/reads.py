"""Builders of the public read payloads (languages, courses, the course tree, a lesson).

Only active content is public. A lesson's payload carries what a learner sees before answering and
nothing that gives the answer away: no correct answer, alternatives, explanation or ``is_correct``; options
in an order derived from their random ids (not the authored order, where the right one is often first).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from parla_curriculum.api.schemas import (
    AudioRead,
    CourseSummary,
    CourseTree,
    ExerciseRead,
    LanguageRead,
    LessonNode,
    LessonRead,
    OptionRead,
    SectionNode,
    UnitNode,
)
from parla_curriculum.models import (
    AudioFile,
    Course,
    Exercise,
    ExerciseOption,
    ExerciseType,
    Language,
    Lesson,
    LessonExercise,
    LessonPrerequisite,
    Section,
    Unit,
)
from parla_curriculum.use_cases.course_queries import course_outline, course_with_language_codes, grouped, rows_under

QUALITY_ORDER = {"low": 0, "medium": 1, "high": 2}
FORMAT_PREFERENCE = {"mp3": 0, "ogg": 1, "wav": 2}


async def languages(session: AsyncSession) -> list[LanguageRead]:
    rows = await session.scalars(
        select(Language).where(Language.is_active.is_(True)).order_by(Language.sort_order, Language.code)
    )
    return [LanguageRead(row.id, row.code, row.name, row.native_name, row.flag_url) for row in rows]


async def courses(session: AsyncSession, from_code: str | None, to_code: str | None) -> list[CourseSummary]:
    query, source, target = course_with_language_codes()
    query = query.where(Course.is_active.is_(True))
    if from_code:
        query = query.where(source.code == from_code)
    if to_code:
        query = query.where(target.code == to_code)
    rows = await session.execute(query.order_by(Course.sort_order, Course.name))
    return [
        CourseSummary(
            course.id, course.key, source_code, target_code, course.name, course.description, course.difficulty_level
        )
        for course, source_code, target_code in rows
    ]


async def course_tree(session: AsyncSession, course_id: UUID) -> CourseTree | None:
    query, _, _ = course_with_language_codes()
    found = (await session.execute(query.where(Course.id == course_id, Course.is_active.is_(True)))).first()
    if found is None:
        return None
    course, source_code, target_code = found
    sections, units, lessons = await course_outline(session, course_id, active_only=True)
    lesson_ids = [lesson.id for lesson in lessons]
    prerequisites: dict[UUID, list[UUID]] = defaultdict(list)
    counts: dict[UUID, int] = {}
    if lesson_ids:
        for lesson_id, prerequisite_id in await session.execute(
            select(LessonPrerequisite.lesson_id, LessonPrerequisite.prerequisite_lesson_id)
            .where(LessonPrerequisite.lesson_id.in_(lesson_ids))
            .order_by(LessonPrerequisite.created_at, LessonPrerequisite.id)
        ):
            prerequisites[lesson_id].append(prerequisite_id)
        counts = {
            lesson_id: count
            for lesson_id, count in await session.execute(
                select(LessonExercise.lesson_id, func.count())
                .join(Exercise, Exercise.id == LessonExercise.exercise_id)
                .where(LessonExercise.lesson_id.in_(lesson_ids), Exercise.is_active.is_(True))
                .group_by(LessonExercise.lesson_id)
            )
        }
    units_of = grouped(units, lambda unit: unit.section_id)
    lessons_of = grouped(lessons, lambda lesson: lesson.unit_id)

    def lesson_node(lesson: Lesson) -> LessonNode:
        return LessonNode(
            id=lesson.id,
            key=lesson.key,
            name=lesson.name,
            description=lesson.description,
            sort_order=lesson.sort_order,
            xp_reward=lesson.xp_reward,
            estimated_minutes=lesson.estimated_minutes,
            exercise_count=counts.get(lesson.id, 0),
            prerequisite_ids=prerequisites.get(lesson.id, []),
        )

    def unit_node(unit: Unit) -> UnitNode:
        return UnitNode(
            id=unit.id,
            key=unit.key,
            name=unit.name,
            description=unit.description,
            sort_order=unit.sort_order,
            color=unit.color,
            icon_url=unit.icon_url,
            lessons=[lesson_node(lesson) for lesson in lessons_of.get(unit.id, [])],
        )

    return CourseTree(
        id=course.id,
        key=course.key,
        from_language=source_code,
        to_language=target_code,
        name=course.name,
        description=course.description,
        difficulty_level=course.difficulty_level,
        sections=[
            SectionNode(
                id=section.id,
                key=section.key,
                name=section.name,
                description=section.description,
                sort_order=section.sort_order,
                cefr_level=section.cefr_level,
                units=[unit_node(unit) for unit in units_of.get(section.id, [])],
            )
            for section in sections
        ],
    )


def shuffled_order(option_id: UUID) -> bytes:
    """A stable order that owes nothing to the authored order (the ids are random UUIDv4s)."""
    return hashlib.blake2b(option_id.bytes, digest_size=8).digest()


def audio_sort_key(audio: AudioFile) -> tuple[int, int]:
    return QUALITY_ORDER.get(audio.quality_level, 1), FORMAT_PREFERENCE.get(audio.file_format, 9)


async def lesson(session: AsyncSession, lesson_id: UUID, url_for: Callable[[str], str]) -> LessonRead | None:
    """``url_for`` turns a stored file's path into its public URL (the media storage's)."""
    found = (
        await session.execute(
            select(Lesson, Section.course_id)
            .join(Unit, Unit.id == Lesson.unit_id)
            .join(Section, Section.id == Unit.section_id)
            .join(Course, Course.id == Section.course_id)
            .where(
                Lesson.id == lesson_id,
                Lesson.is_active.is_(True),
                Unit.is_active.is_(True),
                Section.is_active.is_(True),
                Course.is_active.is_(True),
            )
        )
    ).first()
    if found is None:
        return None
    lesson_row, course_id = found
    rows = (
        await session.execute(
            select(Exercise, ExerciseType.name)
            .join(LessonExercise, LessonExercise.exercise_id == Exercise.id)
            .join(ExerciseType, ExerciseType.id == Exercise.exercise_type_id)
            .where(LessonExercise.lesson_id == lesson_id, Exercise.is_active.is_(True))
            .order_by(LessonExercise.sort_order)
        )
    ).all()
    exercise_ids = [exercise.id for exercise, _ in rows]
    options = await rows_under(session, ExerciseOption, "exercise_id", exercise_ids)
    audio = await rows_under(session, AudioFile, "exercise_id", exercise_ids, AudioFile.is_active.is_(True))
    exercises = []
    for exercise, type_name in rows:
        exercise_options = sorted(options.get(exercise.id, []), key=lambda option: shuffled_order(option.id))
        exercise_audio = sorted(audio.get(exercise.id, []), key=audio_sort_key)
        exercises.append(
            ExerciseRead(
                id=exercise.id,
                type=type_name,
                prompt=exercise.prompt,
                hint=exercise.hint,
                difficulty_level=exercise.difficulty_level,
                estimated_seconds=exercise.estimated_seconds,
                image_url=exercise.image_url,
                options=[OptionRead(option.id, option.option_text) for option in exercise_options] or None,
                audio=[
                    AudioRead(url_for(item.file_path), item.file_format, item.quality_level) for item in exercise_audio
                ]
                or None,
            )
        )
    return LessonRead(
        id=lesson_row.id,
        key=lesson_row.key,
        course_id=course_id,
        unit_id=lesson_row.unit_id,
        name=lesson_row.name,
        description=lesson_row.description,
        xp_reward=lesson_row.xp_reward,
        estimated_minutes=lesson_row.estimated_minutes,
        exercises=exercises,
    )


def pick_audio(candidates: list[AudioFile], file_format: str | None, quality: str | None) -> AudioFile | None:
    """FR-18: the exact match; else the asked format at the nearest quality (higher on a tie); else the asked
    quality in another format; else the nearest quality. Without a quality, ``medium``; without a format, mp3
    first (plays everywhere)."""
    if not candidates:
        return None
    wanted_quality = QUALITY_ORDER[quality or "medium"]

    def rank(audio: AudioFile) -> tuple[int, int, int, int]:
        level = QUALITY_ORDER.get(audio.quality_level, 1)
        return (
            0 if file_format is None or audio.file_format == file_format else 1,
            abs(level - wanted_quality),
            -level,
            FORMAT_PREFERENCE.get(audio.file_format, 9),
        )

    return min(candidates, key=rank)
