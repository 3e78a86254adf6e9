"""A stored course written back as a course document (the YAML an import reads), with its audio files."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from parla_curriculum.domain.document import (
    CourseDocument,
    DocAudio,
    DocExercise,
    DocLesson,
    DocOption,
    DocSection,
    DocUnit,
    DocUse,
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


@dataclass
class ExportedAudio:
    """Where an exported document's audio ``file`` comes from in the media storage."""

    file: str
    file_path: str


async def export_course(
    session: AsyncSession, course_id: uuid.UUID
) -> tuple[CourseDocument, list[ExportedAudio]] | None:
    """The stored course as a document (audio named ``audio/<exercise-key>-<quality>.<ext>``)."""
    source, target = aliased(Language), aliased(Language)
    found = (
        await session.execute(
            select(Course, source.code, target.code)
            .join(source, source.id == Course.from_language_id)
            .join(target, target.id == Course.to_language_id)
            .where(Course.id == course_id)
        )
    ).first()
    if found is None:
        return None
    course, from_code, to_code = found
    sections = list(
        await session.scalars(select(Section).where(Section.course_id == course_id).order_by(Section.sort_order))
    )
    units = list(
        await session.scalars(
            select(Unit)
            .join(Section, Section.id == Unit.section_id)
            .where(Section.course_id == course_id)
            .order_by(Unit.sort_order)
        )
    )
    lessons = list(
        await session.scalars(
            select(Lesson)
            .join(Unit, Unit.id == Lesson.unit_id)
            .join(Section, Section.id == Unit.section_id)
            .where(Section.course_id == course_id)
            .order_by(Lesson.sort_order)
        )
    )
    lesson_keys = {lesson.id: lesson.key for lesson in lessons}
    exercises = {row.id: row for row in await session.scalars(select(Exercise).where(Exercise.course_id == course_id))}
    type_names = {row.id: row.name for row in await session.scalars(select(ExerciseType))}
    options: dict[uuid.UUID, list[ExerciseOption]] = defaultdict(list)
    audio: dict[uuid.UUID, list[AudioFile]] = defaultdict(list)
    placements: dict[uuid.UUID, list[LessonExercise]] = defaultdict(list)
    prerequisites: dict[uuid.UUID, list[str]] = defaultdict(list)
    if exercises:
        for option in await session.scalars(
            select(ExerciseOption)
            .where(ExerciseOption.exercise_id.in_(list(exercises)))
            .order_by(ExerciseOption.sort_order)
        ):
            options[option.exercise_id].append(option)
        for audio_file in await session.scalars(select(AudioFile).where(AudioFile.exercise_id.in_(list(exercises)))):
            audio[audio_file.exercise_id].append(audio_file)
    if lessons:
        for placement in await session.scalars(
            select(LessonExercise)
            .where(LessonExercise.lesson_id.in_(list(lesson_keys)))
            .order_by(LessonExercise.sort_order)
        ):
            placements[placement.lesson_id].append(placement)
        for prerequisite in await session.scalars(
            select(LessonPrerequisite)
            .where(LessonPrerequisite.lesson_id.in_(list(lesson_keys)))
            .order_by(LessonPrerequisite.created_at, LessonPrerequisite.id)
        ):
            prerequisites[prerequisite.lesson_id].append(lesson_keys[prerequisite.prerequisite_lesson_id])

    exported_audio: list[ExportedAudio] = []
    defined: set[uuid.UUID] = set()
    quality_rank = {"low": 0, "medium": 1, "high": 2}

    def exercise_document(exercise: Exercise) -> DocExercise:
        kind = type_names[exercise.exercise_type_id]
        doc = DocExercise(
            key=exercise.key,
            type=kind,
            prompt=exercise.prompt,
            answer=None if kind == "multiple_choice" else exercise.correct_answer,
            alternatives=list(exercise.alternative_answers or []),
            explanation=exercise.explanation,
            hint=exercise.hint,
            difficulty_level=exercise.difficulty_level,
            estimated_seconds=exercise.estimated_seconds,
            metadata=exercise.metadata_,
            options=[DocOption(option.option_text, option.is_correct) for option in options.get(exercise.id, [])],
        )
        for audio_file in sorted(
            audio.get(exercise.id, []), key=lambda item: (quality_rank.get(item.quality_level, 1), item.file_format)
        ):
            file_name = f"audio/{exercise.key}-{audio_file.quality_level}.{audio_file.file_format}"
            doc.audio.append(DocAudio(file_name, audio_file.file_format, audio_file.quality_level))
            exported_audio.append(ExportedAudio(file_name, audio_file.file_path))
        return doc

    def lesson_document(lesson: Lesson) -> DocLesson:
        entries: list[DocExercise | DocUse] = []
        for placement in placements.get(lesson.id, []):
            exercise = exercises[placement.exercise_id]
            if exercise.id in defined:
                entries.append(DocUse(exercise.key))
            else:
                defined.add(exercise.id)
                entries.append(exercise_document(exercise))
        return DocLesson(
            lesson.key,
            lesson.name,
            lesson.description,
            lesson.xp_reward,
            lesson.estimated_minutes,
            prerequisites.get(lesson.id, []),
            entries,
        )

    units_of: dict[uuid.UUID, list[Unit]] = defaultdict(list)
    for unit in units:
        units_of[unit.section_id].append(unit)
    lessons_of: dict[uuid.UUID, list[Lesson]] = defaultdict(list)
    for lesson in lessons:
        lessons_of[lesson.unit_id].append(lesson)
    document = CourseDocument(
        key=course.key,
        from_language=from_code,
        to_language=to_code,
        name=course.name,
        description=course.description,
        difficulty_level=course.difficulty_level,
        sections=[
            DocSection(
                section.key,
                section.name,
                section.description,
                section.cefr_level,
                [
                    DocUnit(
                        unit.key,
                        unit.name,
                        unit.description,
                        unit.color,
                        unit.icon_url,
                        [lesson_document(lesson) for lesson in lessons_of.get(unit.id, [])],
                    )
                    for unit in units_of.get(section.id, [])
                ],
            )
            for section in sections
        ],
    )
    return document, exported_audio
