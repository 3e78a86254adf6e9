"""A stored course written back as a course document (the YAML an import reads), with its audio files."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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
    Lesson,
    LessonExercise,
    LessonPrerequisite,
)
from parla_curriculum.use_cases.course_queries import course_outline, course_with_language_codes, grouped, rows_under
from parla_curriculum.use_cases.reads import QUALITY_ORDER


@dataclass
class ExportedAudio:
    """Where an exported document's audio ``file`` comes from in the media storage."""

    file: str
    file_path: str


async def export_course(
    session: AsyncSession, course_id: uuid.UUID
) -> tuple[CourseDocument, list[ExportedAudio]] | None:
    """The stored course as a document (audio named ``audio/<exercise-key>-<quality>.<ext>``)."""
    query, _, _ = course_with_language_codes()
    found = (await session.execute(query.where(Course.id == course_id))).first()
    if found is None:
        return None
    course, from_code, to_code = found
    sections, units, lessons = await course_outline(session, course_id, active_only=False)
    lesson_keys = {lesson.id: lesson.key for lesson in lessons}
    exercises = {row.id: row for row in await session.scalars(select(Exercise).where(Exercise.course_id == course_id))}
    type_names = {row.id: row.name for row in await session.scalars(select(ExerciseType))}
    options = await rows_under(session, ExerciseOption, "exercise_id", exercises, order_by=(ExerciseOption.sort_order,))
    audio = await rows_under(session, AudioFile, "exercise_id", exercises)
    placements = await rows_under(
        session, LessonExercise, "lesson_id", lesson_keys, order_by=(LessonExercise.sort_order,)
    )
    prerequisite_order = (LessonPrerequisite.created_at, LessonPrerequisite.id)
    prerequisites = {
        lesson_id: [lesson_keys[row.prerequisite_lesson_id] for row in rows]
        for lesson_id, rows in (
            await rows_under(session, LessonPrerequisite, "lesson_id", lesson_keys, order_by=prerequisite_order)
        ).items()
    }

    exported_audio: list[ExportedAudio] = []
    defined: set[uuid.UUID] = set()

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
            audio.get(exercise.id, []), key=lambda item: (QUALITY_ORDER.get(item.quality_level, 1), item.file_format)
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

    units_of = grouped(units, lambda unit: unit.section_id)
    lessons_of = grouped(lessons, lambda lesson: lesson.unit_id)
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
