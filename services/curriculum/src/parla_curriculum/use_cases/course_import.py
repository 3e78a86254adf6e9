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
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from parla_curriculum import events
from parla_curriculum.clients.media import (
    AudioFormatError,
    AudioMetadata,
    MediaStorage,
    audio_path,
    read_audio_metadata,
)
from parla_curriculum.domain.document import (
    CourseDocument,
    DocumentError,
    DocumentInvalidError,
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
from parla_curriculum.use_cases.content_changes import ContentChanges, publish_change
from parla_curriculum.use_cases.course_audio import AudioResolver, AudioSource
from parla_curriculum.use_cases.course_upserts import CourseUpserts
from parla_shared.events.outbox import Outbox


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


class CourseImporter(CourseUpserts):
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

        changes = ContentChanges()
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
        course = self._put(Course, course, {"key": document.key}, course_values, changes)
        await session.flush()

        sections = await self._upsert_sections(course, document.sections, changes)
        units = await self._upsert_units(course, document, sections, changes)
        lessons = await self._upsert_lessons(course, document, units, changes)
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
            events.COURSE_IMPORTED,
            events.CourseImported(course.id, course.key, result.created, result.updated, result.deleted),
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
    ) -> dict[tuple[str, str, str], AudioSource]:
        """Each recording's metadata, read from the file; a file the importer cannot reach keeps the
        recording already stored for that exercise, format and quality (an export re-imported elsewhere)."""
        sources: dict[tuple[str, str, str], AudioSource] = {}
        for exercise in document.exercises():
            for audio in exercise.audio:
                slot = (exercise.key, audio.format, audio.quality)
                path = resolve(audio.file)
                if path is None:
                    kept = stored.get(slot)
                    if kept is not None and await self.media.exists(kept.file_path):
                        sources[slot] = AudioSource(
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
                sources[slot] = AudioSource(metadata, path, audio_path(document.key, metadata, audio.format))
        return sources

    async def _delete_left_out(self, changes: ContentChanges) -> None:
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
