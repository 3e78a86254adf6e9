"""The per-entity upserts of a course import: rows matched by key (options by position, audio by format and
quality, placements by lesson and exercise), only changed columns written, rows left out remembered."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from parla_curriculum.clients.media import (
    MediaStorage,
)
from parla_curriculum.domain.document import (
    CourseDocument,
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
    Lesson,
    LessonExercise,
    LessonPrerequisite,
    Section,
    Unit,
    UUIDv7Base,
)
from parla_curriculum.use_cases.content_changes import ContentChanges
from parla_curriculum.use_cases.course_audio import AudioSource
from parla_curriculum.use_cases.course_queries import in_course, rows_under

RowT = TypeVar("RowT", bound=UUIDv7Base)


class CourseUpserts:
    """What ``CourseImporter`` does per entity, over its session and media storage."""

    session: AsyncSession
    media: MediaStorage
    _lesson_ids: list[uuid.UUID]

    def _put(
        self,
        model: type[RowT],
        row: RowT | None,
        identity: dict[str, Any],
        values: dict[str, Any],
        changes: ContentChanges,
        *,
        new_id: Callable[[], uuid.UUID] = uuid7,
    ) -> RowT:
        """``row`` with ``values`` set where they differ, or (when there is no row yet) a new one with ``identity``
        and ``values``; either remembered in ``changes``."""
        if row is None:
            row = model(id=new_id(), **identity, **values)
            self.session.add(row)
            changes.created.append(row)
        else:
            changes.apply(row, values)
        return row

    # --- hierarchy ---------------------------------------------------------------------------------

    async def _upsert_sections(
        self, course: Course, documents: list[DocSection], changes: ContentChanges
    ) -> dict[str, Section]:
        existing = {
            row.key: row for row in await self.session.scalars(select(Section).where(Section.course_id == course.id))
        }
        result: dict[str, Section] = {}
        for index, doc in enumerate(documents):
            values = {
                "name": doc.name,
                "description": doc.description,
                "cefr_level": doc.cefr_level,
                "sort_order": index,
            }
            identity = {"course_id": course.id, "key": doc.key}
            result[doc.key] = self._put(Section, existing.pop(doc.key, None), identity, values, changes)
        for row in existing.values():
            changes.remove(row)
        await self.session.flush()
        return result

    async def _upsert_units(
        self, course: Course, document: CourseDocument, sections: dict[str, Section], changes: ContentChanges
    ) -> dict[str, Unit]:
        existing = {row.key: row for row in await self.session.scalars(in_course(select(Unit), Unit, course.id))}
        result: dict[str, Unit] = {}
        for section in document.sections:
            for index, doc in enumerate(section.units):
                result[doc.key] = self._upsert_unit(existing, sections[section.key], index, doc, changes)
        for row in existing.values():
            changes.remove(row)
        await self.session.flush()
        return result

    def _upsert_unit(
        self, existing: dict[str, Unit], section: Section, index: int, doc: DocUnit, changes: ContentChanges
    ) -> Unit:
        values = {
            "section_id": section.id,
            "name": doc.name,
            "description": doc.description,
            "color": doc.color,
            "icon_url": doc.icon_url,
            "sort_order": index,
        }
        return self._put(Unit, existing.pop(doc.key, None), {"key": doc.key}, values, changes)

    async def _upsert_lessons(
        self, course: Course, document: CourseDocument, units: dict[str, Unit], changes: ContentChanges
    ) -> dict[str, Lesson]:
        course_lessons = list(await self.session.scalars(in_course(select(Lesson), Lesson, course.id)))
        existing = {row.key: row for row in course_lessons}
        # Placements and prerequisites of every lesson, removed ones included, are diffed (and announced).
        self._lesson_ids = [row.id for row in course_lessons]
        result: dict[str, Lesson] = {}
        for unit_doc in document.units():
            for index, doc in enumerate(unit_doc.lessons):
                result[doc.key] = self._upsert_lesson(existing, units[unit_doc.key], index, doc, changes)
        for row in existing.values():
            changes.remove(row)
        self._lesson_ids += [row.id for row in result.values() if row.id not in set(self._lesson_ids)]
        await self.session.flush()
        return result

    def _upsert_lesson(
        self, existing: dict[str, Lesson], unit: Unit, index: int, doc: DocLesson, changes: ContentChanges
    ) -> Lesson:
        values = {
            "unit_id": unit.id,
            "name": doc.name,
            "description": doc.description,
            "xp_reward": doc.xp_reward,
            "estimated_minutes": doc.estimated_minutes,
            "sort_order": index,
        }
        return self._put(Lesson, existing.pop(doc.key, None), {"key": doc.key}, values, changes)

    # --- exercises ---------------------------------------------------------------------------------

    async def _upsert_exercises(
        self,
        course: Course,
        document: CourseDocument,
        types: dict[str, uuid.UUID],
        audio_sources: dict[tuple[str, str, str], AudioSource],
        changes: ContentChanges,
    ) -> dict[str, Exercise]:
        session = self.session
        existing = {
            row.key: row for row in await session.scalars(select(Exercise).where(Exercise.course_id == course.id))
        }
        exercise_ids = [row.id for row in existing.values()]
        options = await rows_under(
            session, ExerciseOption, "exercise_id", exercise_ids, order_by=(ExerciseOption.sort_order,)
        )
        audio: dict[uuid.UUID, dict[tuple[str, str], AudioFile]] = defaultdict(dict)
        if exercise_ids:
            for audio_file in await session.scalars(select(AudioFile).where(AudioFile.exercise_id.in_(exercise_ids))):
                audio[audio_file.exercise_id][(audio_file.file_format, audio_file.quality_level)] = audio_file

        result: dict[str, Exercise] = {}
        for doc in document.exercises():
            correct_answer = (
                doc.answer
                if doc.answer is not None
                else next((option.text for option in doc.options if option.correct), "")
            )
            values = {
                "exercise_type_id": types[doc.type],
                "prompt": doc.prompt,
                "correct_answer": correct_answer,
                "alternative_answers": list(doc.alternatives) or None,
                "explanation": doc.explanation,
                "hint": doc.hint,
                "difficulty_level": doc.difficulty_level,
                "estimated_seconds": doc.estimated_seconds,
                "metadata_": doc.metadata,
            }
            identity = {"course_id": course.id, "key": doc.key}
            result[doc.key] = self._put(Exercise, existing.pop(doc.key, None), identity, values, changes)
        await session.flush()
        for doc in document.exercises():
            row = result[doc.key]
            self._upsert_options(row, doc.options, options.pop(row.id, []), changes)
            await self._upsert_audio(row, doc, audio.pop(row.id, {}), audio_sources, changes)
        for row in existing.values():
            for option in options.pop(row.id, []):
                changes.remove(option)
            for audio_file in audio.pop(row.id, {}).values():
                changes.remove(audio_file)
            changes.remove(row)
        await session.flush()
        return result

    def _upsert_options(
        self, exercise: Exercise, documents: list[DocOption], existing: list[ExerciseOption], changes: ContentChanges
    ) -> None:
        for index, doc in enumerate(documents):
            values = {"option_text": doc.text, "is_correct": doc.correct, "sort_order": index}
            row = existing[index] if index < len(existing) else None
            # Random (v4) ids: time-ordered ones would give away the authored order of the options.
            self._put(ExerciseOption, row, {"exercise_id": exercise.id}, values, changes, new_id=uuid.uuid4)
        for row in existing[len(documents) :]:
            changes.remove(row)

    async def _upsert_audio(
        self,
        exercise: Exercise,
        doc: DocExercise,
        existing: dict[tuple[str, str], AudioFile],
        sources: dict[tuple[str, str, str], AudioSource],
        changes: ContentChanges,
    ) -> None:
        for audio in doc.audio:
            source = sources[(doc.key, audio.format, audio.quality)]
            if source.source is not None:
                await self.media.put(source.source, source.file_path)
            values: dict[str, Any] = {"file_path": source.file_path, "is_active": True}
            if source.source is not None:
                values |= {
                    "file_size_bytes": source.metadata.file_size_bytes,
                    "duration_seconds": source.metadata.duration_seconds,
                    "sample_rate": source.metadata.sample_rate,
                    "bit_rate": source.metadata.bit_rate,
                }
            identity = {"exercise_id": exercise.id, "file_format": audio.format, "quality_level": audio.quality}
            self._put(AudioFile, existing.pop((audio.format, audio.quality), None), identity, values, changes)
        for row in existing.values():
            changes.remove(row)

    async def _upsert_placements(
        self,
        document: CourseDocument,
        lessons: dict[str, Lesson],
        exercises: dict[str, Exercise],
        changes: ContentChanges,
    ) -> None:
        existing = await self._rows_of_lessons(LessonExercise, "exercise_id")
        for lesson_doc in document.lessons():
            lesson = lessons[lesson_doc.key]
            for index, entry in enumerate(lesson_doc.entries):
                key = entry.use if isinstance(entry, DocUse) else entry.key
                exercise = exercises[key]
                row = existing.pop((lesson.id, exercise.id), None)
                identity = {"lesson_id": lesson.id, "exercise_id": exercise.id}
                self._put(LessonExercise, row, identity, {"sort_order": index}, changes)
        for row in existing.values():
            changes.remove(row)

    async def _upsert_prerequisites(
        self, document: CourseDocument, lessons: dict[str, Lesson], changes: ContentChanges
    ) -> None:
        existing = await self._rows_of_lessons(LessonPrerequisite, "prerequisite_lesson_id")
        for lesson_doc in document.lessons():
            lesson = lessons[lesson_doc.key]
            for prerequisite_key in dict.fromkeys(lesson_doc.prerequisites):
                prerequisite = lessons[prerequisite_key]
                row = existing.pop((lesson.id, prerequisite.id), None)
                identity = {"lesson_id": lesson.id, "prerequisite_lesson_id": prerequisite.id}
                self._put(LessonPrerequisite, row, identity, {}, changes)
        for row in existing.values():
            changes.remove(row)

    async def _rows_of_lessons(self, model: type[RowT], other: str) -> dict[tuple[uuid.UUID, uuid.UUID], RowT]:
        """The ``model`` rows (placements, prerequisites) of every lesson the import diffs, by their lesson's id and
        their ``other`` id."""
        by_lesson = await rows_under(self.session, model, "lesson_id", self._lesson_ids)
        return {(lesson_id, getattr(row, other)): row for lesson_id, rows in by_lesson.items() for row in rows}
