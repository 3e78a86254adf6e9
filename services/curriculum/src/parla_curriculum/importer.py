"""Course-as-code: import a course document into the database (idempotent, by stable keys) and export it back.

An import runs in the caller's transaction. Rows are matched by key (course, sections, units, lessons,
exercises), options by position, audio by (format, quality), placements by (lesson, exercise). Only changed
columns are written; rows that left the document are deleted. Each created, updated or deleted row
publishes ``parla.curriculum.<entity>.created|updated|deleted`` (old and new column values) through the
outbox, and the import itself ``parla.curriculum.course.imported``. Importing the same document twice
changes nothing and publishes no row events.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from uuid_utils.compat import uuid7

from parla_curriculum.document import (
    CourseDocument,
    DocAudio,
    DocExercise,
    DocLesson,
    DocOption,
    DocSection,
    DocumentError,
    DocumentInvalidError,
    DocUnit,
    DocUse,
)
from parla_curriculum.media import AudioFormatError, AudioMetadata, MediaStorage, audio_path, read_audio_metadata
from parla_curriculum.models import (
    ENTITIES,
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
    UUIDv7Base,
    column_values,
)
from parla_shared.events.outbox import Outbox

_ENTITY_OF = {model: entity for entity, model in ENTITIES.items()}
# Never in an event's old/new: maintained by the database, not content.
_UNTRACKED = {"created_at", "updated_at"}


@dataclass
class ImportResult:
    course_id: uuid.UUID
    key: str
    created: int = 0
    updated: int = 0
    deleted: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


@dataclass
class _Changes:
    """The rows an import touched, turned into events once the database has filled every column."""

    created: list[UUIDv7Base] = field(default_factory=list)
    updated: list[tuple[UUIDv7Base, dict[str, Any]]] = field(default_factory=list)
    deleted: list[tuple[UUIDv7Base, dict[str, Any]]] = field(default_factory=list)

    def apply(self, row: UUIDv7Base, values: dict[str, Any]) -> None:
        """Set the values that differ; remember the old values when anything changed."""
        before = column_values(row)
        changed = {name: value for name, value in values.items() if getattr(row, name) != value}
        if not changed:
            return
        for name, value in changed.items():
            setattr(row, name, value)
        self.updated.append((row, before))

    def remove(self, row: UUIDv7Base) -> None:
        self.deleted.append((row, column_values(row)))


def _event_values(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if name not in _UNTRACKED}


async def publish_change(
    session: AsyncSession, outbox: Outbox, row: UUIDv7Base, action: str, old: dict[str, Any] | None
) -> None:
    """``parla.curriculum.<entity>.<action>`` with the row's old and new column values."""
    entity = _ENTITY_OF[type(row)]
    new = None if action == "deleted" else _event_values(column_values(row))
    await outbox.add(
        session,
        f"parla.curriculum.{entity}.{action}",
        {"entity": entity, "id": row.id, "old": None if old is None else _event_values(old), "new": new},
        subject_id=row.id,
    )


# Resolves a document's audio ``file`` (relative to the document) to a local file, or None.
AudioResolver = Callable[[str], Path | None]


def directory_resolver(base: Path) -> AudioResolver:
    def resolve(file_name: str) -> Path | None:
        path = (base / file_name).resolve()
        return path if path.is_relative_to(base.resolve()) and path.is_file() else None

    return resolve


@dataclass
class _AudioSource:
    metadata: AudioMetadata
    source: Path | None
    file_path: str


class CourseImporter:
    def __init__(self, session: AsyncSession, outbox: Outbox, media: MediaStorage) -> None:
        self.session = session
        self.outbox = outbox
        self.media = media
        self._lesson_ids: list[uuid.UUID] = []

    async def import_document(self, document: CourseDocument, resolve_audio: AudioResolver) -> ImportResult:
        session = self.session
        errors: list[DocumentError] = []
        languages = {row.code: row.id for row in await session.scalars(select(Language))}
        for name in ("from_language", "to_language"):
            code = getattr(document, name)
            if code not in languages:
                errors.append(DocumentError(name, f"unknown language {code!r}"))
        types = {row.name: row.id for row in await session.scalars(select(ExerciseType))}
        course = await session.scalar(select(Course).where(Course.key == document.key))
        stored_audio = await self._stored_audio(course)
        audio_sources = await self._resolve_audio(document, resolve_audio, stored_audio, errors)
        if errors:
            raise DocumentInvalidError(errors)

        changes = _Changes()
        course_values = {
            "from_language_id": languages[document.from_language],
            "to_language_id": languages[document.to_language],
            "name": document.name,
            "description": document.description,
            "difficulty_level": document.difficulty_level,
        }
        # One course per language pair (a UNIQUE of the table): a new course, or one that changes its pair,
        # must not take the pair of another.
        pair = await session.scalar(
            select(Course).where(
                Course.from_language_id == course_values["from_language_id"],
                Course.to_language_id == course_values["to_language_id"],
                Course.key != document.key,
            )
        )
        if pair is not None:
            teaches = f"course {pair.key!r} already teaches {document.to_language} from {document.from_language}"
            raise DocumentInvalidError(
                [
                    DocumentError("key", f"{teaches}; keep its key to update it")
                    if course is None
                    else DocumentError("to_language", teaches)
                ]
            )
        if course is None:
            course = Course(id=uuid7(), key=document.key, **course_values)
            session.add(course)
            changes.created.append(course)
        else:
            changes.apply(course, course_values)
        await session.flush()

        sections = await self._upsert_sections(course, document.sections, changes)
        units = await self._upsert_units(course, document, sections, changes)
        lessons = await self._upsert_lessons(document, units, changes)
        exercises = await self._upsert_exercises(course, document, types, audio_sources, changes)
        await self._upsert_placements(document, lessons, exercises, changes)
        await self._upsert_prerequisites(document, lessons, changes)
        await self._delete_left_out(changes)
        await session.flush()

        for row in changes.created:
            await publish_change(session, self.outbox, row, "created", None)
        for row, old in changes.updated:
            await publish_change(session, self.outbox, row, "updated", old)
        for row, old in changes.deleted:
            await publish_change(session, self.outbox, row, "deleted", old)
        result = ImportResult(course.id, course.key, len(changes.created), len(changes.updated), len(changes.deleted))
        await self.outbox.add(
            session,
            "parla.curriculum.course.imported",
            {
                "course_id": course.id,
                "key": course.key,
                "created": result.created,
                "updated": result.updated,
                "deleted": result.deleted,
            },
            subject_id=course.id,
        )
        return result

    # --- audio -------------------------------------------------------------------------------------

    async def _stored_audio(self, course: Course | None) -> dict[tuple[str, str, str], AudioFile]:
        if course is None:
            return {}
        rows = await self.session.execute(
            select(Exercise.key, AudioFile)
            .join(AudioFile, AudioFile.exercise_id == Exercise.id)
            .where(Exercise.course_id == course.id)
        )
        return {(key, audio.file_format, audio.quality_level): audio for key, audio in rows}

    async def _resolve_audio(
        self,
        document: CourseDocument,
        resolve: AudioResolver,
        stored: dict[tuple[str, str, str], AudioFile],
        errors: list[DocumentError],
    ) -> dict[tuple[str, str, str], _AudioSource]:
        """Each recording's metadata, read from the file; a file the importer cannot reach keeps the
        recording already stored for that exercise, format and quality (an export re-imported elsewhere)."""
        sources: dict[tuple[str, str, str], _AudioSource] = {}
        for exercise in document.exercises():
            for audio in exercise.audio:
                slot = (exercise.key, audio.format, audio.quality)
                path = resolve(audio.file)
                if path is None:
                    kept = stored.get(slot)
                    if kept is not None and await self.media.exists(kept.file_path):
                        sources[slot] = _AudioSource(
                            AudioMetadata(
                                kept.file_size_bytes or 0,
                                kept.duration_seconds or 0,
                                kept.sample_rate,
                                kept.bit_rate,
                                "",
                            ),
                            None,
                            kept.file_path,
                        )
                    else:
                        errors.append(DocumentError(f"{audio.path}.file", f"file {audio.file!r} not found"))
                    continue
                try:
                    metadata = read_audio_metadata(path, audio.format)
                except AudioFormatError as exc:
                    errors.append(DocumentError(f"{audio.path}.file", f"{audio.file!r} {exc}"))
                    continue
                sources[slot] = _AudioSource(metadata, path, audio_path(document.key, metadata, audio.format))
        return sources

    # --- hierarchy ---------------------------------------------------------------------------------

    async def _upsert_sections(
        self, course: Course, documents: list[DocSection], changes: _Changes
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
            row = existing.pop(doc.key, None)
            if row is None:
                row = Section(id=uuid7(), course_id=course.id, key=doc.key, **values)
                self.session.add(row)
                changes.created.append(row)
            else:
                changes.apply(row, values)
            result[doc.key] = row
        for row in existing.values():
            changes.remove(row)
        await self.session.flush()
        return result

    async def _upsert_units(
        self, course: Course, document: CourseDocument, sections: dict[str, Section], changes: _Changes
    ) -> dict[str, Unit]:
        existing = {
            row.key: row
            for row in await self.session.scalars(
                select(Unit).join(Section, Section.id == Unit.section_id).where(Section.course_id == course.id)
            )
        }
        result: dict[str, Unit] = {}
        for section in document.sections:
            for index, doc in enumerate(section.units):
                result[doc.key] = self._upsert_unit(existing, sections[section.key], index, doc, changes)
        for row in existing.values():
            changes.remove(row)
        await self.session.flush()
        return result

    def _upsert_unit(
        self, existing: dict[str, Unit], section: Section, index: int, doc: DocUnit, changes: _Changes
    ) -> Unit:
        values = {
            "section_id": section.id,
            "name": doc.name,
            "description": doc.description,
            "color": doc.color,
            "icon_url": doc.icon_url,
            "sort_order": index,
        }
        row = existing.pop(doc.key, None)
        if row is None:
            row = Unit(id=uuid7(), key=doc.key, **values)
            self.session.add(row)
            changes.created.append(row)
        else:
            changes.apply(row, values)
        return row

    async def _upsert_lessons(
        self, document: CourseDocument, units: dict[str, Unit], changes: _Changes
    ) -> dict[str, Lesson]:
        course_lessons = await self._course_lessons(document.key)
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

    async def _course_lessons(self, course_key: str) -> list[Lesson]:
        return list(
            await self.session.scalars(
                select(Lesson)
                .join(Unit, Unit.id == Lesson.unit_id)
                .join(Section, Section.id == Unit.section_id)
                .join(Course, Course.id == Section.course_id)
                .where(Course.key == course_key)
            )
        )

    def _upsert_lesson(
        self, existing: dict[str, Lesson], unit: Unit, index: int, doc: DocLesson, changes: _Changes
    ) -> Lesson:
        values = {
            "unit_id": unit.id,
            "name": doc.name,
            "description": doc.description,
            "xp_reward": doc.xp_reward,
            "estimated_minutes": doc.estimated_minutes,
            "sort_order": index,
        }
        row = existing.pop(doc.key, None)
        if row is None:
            row = Lesson(id=uuid7(), key=doc.key, **values)
            self.session.add(row)
            changes.created.append(row)
        else:
            changes.apply(row, values)
        return row

    # --- exercises ---------------------------------------------------------------------------------

    async def _upsert_exercises(
        self,
        course: Course,
        document: CourseDocument,
        types: dict[str, uuid.UUID],
        audio_sources: dict[tuple[str, str, str], _AudioSource],
        changes: _Changes,
    ) -> dict[str, Exercise]:
        session = self.session
        existing = {
            row.key: row for row in await session.scalars(select(Exercise).where(Exercise.course_id == course.id))
        }
        exercise_ids = [row.id for row in existing.values()]
        options: dict[uuid.UUID, list[ExerciseOption]] = defaultdict(list)
        audio: dict[uuid.UUID, dict[tuple[str, str], AudioFile]] = defaultdict(dict)
        if exercise_ids:
            for option in await session.scalars(
                select(ExerciseOption)
                .where(ExerciseOption.exercise_id.in_(exercise_ids))
                .order_by(ExerciseOption.sort_order)
            ):
                options[option.exercise_id].append(option)
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
            row = existing.pop(doc.key, None)
            if row is None:
                row = Exercise(id=uuid7(), course_id=course.id, key=doc.key, **values)
                session.add(row)
                changes.created.append(row)
            else:
                changes.apply(row, values)
            result[doc.key] = row
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
        self, exercise: Exercise, documents: list[DocOption], existing: list[ExerciseOption], changes: _Changes
    ) -> None:
        for index, doc in enumerate(documents):
            values = {"option_text": doc.text, "is_correct": doc.correct, "sort_order": index}
            if index < len(existing):
                changes.apply(existing[index], values)
            else:
                # Random (v4) ids: time-ordered ones would give away the authored order of the options.
                row = ExerciseOption(id=uuid.uuid4(), exercise_id=exercise.id, **values)
                self.session.add(row)
                changes.created.append(row)
        for row in existing[len(documents) :]:
            changes.remove(row)

    async def _upsert_audio(
        self,
        exercise: Exercise,
        doc: DocExercise,
        existing: dict[tuple[str, str], AudioFile],
        sources: dict[tuple[str, str, str], _AudioSource],
        changes: _Changes,
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
            row = existing.pop((audio.format, audio.quality), None)
            if row is None:
                row = AudioFile(
                    id=uuid7(), exercise_id=exercise.id, file_format=audio.format, quality_level=audio.quality, **values
                )
                self.session.add(row)
                changes.created.append(row)
            else:
                changes.apply(row, values)
        for row in existing.values():
            changes.remove(row)

    async def _upsert_placements(
        self,
        document: CourseDocument,
        lessons: dict[str, Lesson],
        exercises: dict[str, Exercise],
        changes: _Changes,
    ) -> None:
        lesson_ids = self._lesson_ids
        existing: dict[tuple[uuid.UUID, uuid.UUID], LessonExercise] = {}
        if lesson_ids:
            existing = {
                (row.lesson_id, row.exercise_id): row
                for row in await self.session.scalars(
                    select(LessonExercise).where(LessonExercise.lesson_id.in_(lesson_ids))
                )
            }
        for lesson_doc in document.lessons():
            lesson = lessons[lesson_doc.key]
            for index, entry in enumerate(lesson_doc.entries):
                key = entry.use if isinstance(entry, DocUse) else entry.key
                exercise = exercises[key]
                row = existing.pop((lesson.id, exercise.id), None)
                if row is None:
                    row = LessonExercise(id=uuid7(), lesson_id=lesson.id, exercise_id=exercise.id, sort_order=index)
                    self.session.add(row)
                    changes.created.append(row)
                else:
                    changes.apply(row, {"sort_order": index})
        for row in existing.values():
            changes.remove(row)

    async def _upsert_prerequisites(
        self, document: CourseDocument, lessons: dict[str, Lesson], changes: _Changes
    ) -> None:
        lesson_ids = self._lesson_ids
        existing: dict[tuple[uuid.UUID, uuid.UUID], LessonPrerequisite] = {}
        if lesson_ids:
            existing = {
                (row.lesson_id, row.prerequisite_lesson_id): row
                for row in await self.session.scalars(
                    select(LessonPrerequisite).where(LessonPrerequisite.lesson_id.in_(lesson_ids))
                )
            }
        for lesson_doc in document.lessons():
            lesson = lessons[lesson_doc.key]
            for prerequisite_key in dict.fromkeys(lesson_doc.prerequisites):
                prerequisite = lessons[prerequisite_key]
                if existing.pop((lesson.id, prerequisite.id), None) is None:
                    row = LessonPrerequisite(id=uuid7(), lesson_id=lesson.id, prerequisite_lesson_id=prerequisite.id)
                    self.session.add(row)
                    changes.created.append(row)
        for row in existing.values():
            changes.remove(row)

    async def _delete_left_out(self, changes: _Changes) -> None:
        """Children before parents, so every deleted row is deleted (and announced) by the import itself."""
        order = [LessonExercise, LessonPrerequisite, ExerciseOption, AudioFile, Exercise, Lesson, Unit, Section]
        await self.session.flush()
        for model in order:
            ids = [row.id for row, _ in changes.deleted if type(row) is model]
            if ids:
                await self.session.execute(
                    delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False)
                )
        for row, _ in changes.deleted:
            self.session.expunge(row)


# --- export ----------------------------------------------------------------------------------------------


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
