"""Admin create/read/update/delete of every content entity, each change announced with old and new values.

One generic controller per entity (``/admin/<entities>``). The database enforces the PRD's constraints:
a unique violation answers 409, a check or foreign-key violation, or a value its column cannot hold, 422.
Rules the database cannot see are checked here: unit and lesson keys unique in their course, prerequisites
without cycles, audio metadata read from the stored file. Deleting a row deletes its children by cascade;
the event names the row deleted.
"""

# No ``from __future__ import annotations``: the generic handlers' annotations must be real types for Litestar.

import asyncio
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from parla_curriculum import admin_schemas as schemas
from parla_curriculum.cache import ContentCache
from parla_curriculum.document import find_cycles
from parla_curriculum.importer import publish_change
from parla_curriculum.media import AudioFormatError, AudioMetadata, MediaStorage, read_audio_metadata
from parla_curriculum.models import (
    AudioFile,
    Course,
    Exercise,
    ExerciseOption,
    Language,
    Lesson,
    LessonExercise,
    LessonPrerequisite,
    Section,
    Unit,
    UUIDv7Base,
    column_values,
)
from parla_shared.auth import requires_admin
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem, problem_responses

# Checks an entity's new values (``row`` is None on create) and may complete them.
Validator = Callable[[AsyncSession, MediaStorage, dict[str, Any], UUIDv7Base | None], Awaitable[None]]
_SQLSTATE_PROBLEMS = {
    "23505": (409, "Conflict", "another row already has these unique values"),
    "23503": (422, "Unknown reference", "a referenced row does not exist (or other rows still refer to this one)"),
    "23514": (422, "Constraint violated", "a value breaks a rule of the table"),
    "23502": (422, "Missing value", "a required value is missing"),
}


def _attribute(name: str) -> str:
    return "metadata_" if name == "metadata" else name


def _problem_for(exc: IntegrityError) -> Problem:
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    status, title, explanation = _SQLSTATE_PROBLEMS.get(str(sqlstate), (422, "Rejected", "the change is invalid"))
    constraint = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None)
    return Problem(status, title, f"{explanation}" + (f" ({constraint})" if constraint else "") + ".")


async def _flush(session: AsyncSession) -> None:
    try:
        # Deferred uniques (sort orders) are checked now, so a clash is a 409 rather than a failed commit.
        await session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
        await session.flush()
    except IntegrityError as exc:
        raise _problem_for(exc) from None
    except DBAPIError as exc:
        # SQLSTATE class 22 (data exception): a value its column cannot hold (too long, out of range); asyncpg
        # raises one too for a parameter it cannot send (an integer beyond int32).
        if not str(getattr(exc.orig, "sqlstate", None)).startswith("22"):
            raise
        raise Problem(422, "Invalid value", f"A value does not fit its column: {exc.orig}.") from None


def _merged(row: UUIDv7Base | None, values: dict[str, Any], name: str) -> Any:
    if name in values:
        return values[name]
    return getattr(row, _attribute(name)) if row is not None else None


async def _course_of_section(session: AsyncSession, section_id: Any) -> Any:
    return await session.scalar(select(Section.course_id).where(Section.id == section_id))


async def _course_of_unit(session: AsyncSession, unit_id: Any) -> Any:
    return await session.scalar(
        select(Section.course_id).join(Unit, Unit.section_id == Section.id).where(Unit.id == unit_id)
    )


async def _check_unit(session: AsyncSession, _media: MediaStorage, values: dict[str, Any], row: Any) -> None:
    key, section_id = _merged(row, values, "key"), _merged(row, values, "section_id")
    course_id = await _course_of_section(session, section_id)
    clash = await session.scalar(
        select(Unit.id)
        .join(Section, Section.id == Unit.section_id)
        .where(Section.course_id == course_id, Unit.key == key, Unit.id != (row.id if row else None))
    )
    if clash is not None:
        raise Problem(409, "Key taken", f"Another unit of the course already has the key {key!r}.")


async def _check_lesson(session: AsyncSession, _media: MediaStorage, values: dict[str, Any], row: Any) -> None:
    key, unit_id = _merged(row, values, "key"), _merged(row, values, "unit_id")
    course_id = await _course_of_unit(session, unit_id)
    clash = await session.scalar(
        select(Lesson.id)
        .join(Unit, Unit.id == Lesson.unit_id)
        .join(Section, Section.id == Unit.section_id)
        .where(Section.course_id == course_id, Lesson.key == key, Lesson.id != (row.id if row else None))
    )
    if clash is not None:
        raise Problem(409, "Key taken", f"Another lesson of the course already has the key {key!r}.")


async def _check_prerequisite(session: AsyncSession, _media: MediaStorage, values: dict[str, Any], row: Any) -> None:
    lesson_id, prerequisite_id = _merged(row, values, "lesson_id"), _merged(row, values, "prerequisite_lesson_id")
    course_ids = {await _course_of_lesson(session, lesson_id), await _course_of_lesson(session, prerequisite_id)}
    if None in course_ids:
        raise Problem(422, "Unknown reference", "Both lessons must exist.")
    if len(course_ids) != 1:
        raise Problem(422, "Different courses", "A prerequisite must be a lesson of the same course.")
    course_id = course_ids.pop()
    keys = {
        lesson.id: lesson.key
        for lesson in await session.scalars(
            select(Lesson)
            .join(Unit, Unit.id == Lesson.unit_id)
            .join(Section, Section.id == Unit.section_id)
            .where(Section.course_id == course_id)
        )
    }
    graph: dict[str, list[str]] = {key: [] for key in keys.values()}
    for edge in await session.scalars(select(LessonPrerequisite).where(LessonPrerequisite.lesson_id.in_(list(keys)))):
        if row is None or edge.id != row.id:
            graph[keys[edge.lesson_id]].append(keys[edge.prerequisite_lesson_id])
    graph[keys[lesson_id]].append(keys[prerequisite_id])
    cycles = find_cycles(graph)
    if cycles:
        named = " → ".join([*cycles[0], cycles[0][0]])
        raise Problem(422, "Prerequisite cycle", f"prerequisite cycle between lessons: {named}")


async def _course_of_lesson(session: AsyncSession, lesson_id: Any) -> Any:
    return await session.scalar(
        select(Section.course_id)
        .join(Unit, Unit.section_id == Section.id)
        .join(Lesson, Lesson.unit_id == Unit.id)
        .where(Lesson.id == lesson_id)
    )


async def _read_audio(session: AsyncSession, media: MediaStorage, values: dict[str, Any], row: Any) -> None:
    del session
    if "file_path" not in values and "file_format" not in values:
        return
    file_path, file_format = _merged(row, values, "file_path"), _merged(row, values, "file_format")
    if ".." in file_path.split("/") or file_path.startswith("/"):
        raise Problem(422, "Bad file path", "file_path must stay inside the media storage.")
    if not await media.exists(file_path):
        raise Problem(422, "No such file", f"{file_path!r} is not in the media storage.")
    try:
        metadata = await _metadata_of_stored(media, file_path, file_format)
    except AudioFormatError as exc:
        raise Problem(422, "Not audio of that format", f"{file_path!r} {exc}.") from None
    values.update(
        file_size_bytes=metadata.file_size_bytes,
        duration_seconds=metadata.duration_seconds,
        sample_rate=metadata.sample_rate,
        bit_rate=metadata.bit_rate,
    )


async def _metadata_of_stored(media: MediaStorage, file_path: str, file_format: str) -> AudioMetadata:
    """Read from the file itself: in place when local, from a temporary copy otherwise."""
    local = media.local_file(file_path)
    if local is not None:
        return await asyncio.to_thread(read_audio_metadata, local, file_format)
    with tempfile.TemporaryDirectory(prefix="parla-audio-") as scratch:
        copy = Path(scratch) / Path(file_path).name
        await media.fetch(file_path, copy)
        return await asyncio.to_thread(read_audio_metadata, copy, file_format)


def _values(data: msgspec.Struct) -> dict[str, Any]:
    return {field: value for field in data.__struct_fields__ if (value := getattr(data, field)) is not msgspec.UNSET}


def crud_controller(  # noqa: PLR0917 - one call per entity, read as a table below
    entity: str,
    path: str,
    model: type[UUIDv7Base],
    create_type: type[msgspec.Struct],
    update_type: type[msgspec.Struct],
    read_type: type[msgspec.Struct],
    validate: Validator | None = None,
    new_id: Callable[[], uuid.UUID] = uuid7,
) -> type[Controller]:
    """``POST /admin/<path>``, ``GET|PATCH|DELETE /admin/<path>/{id}`` for one entity."""

    def read(row: UUIDv7Base) -> msgspec.Struct:
        return msgspec.convert(column_values(row), read_type)

    async def load(session: AsyncSession, row_id: uuid.UUID) -> UUIDv7Base:
        row = await session.get(model, row_id)
        if row is None:
            raise Problem(404, "Not found", f"No {entity.replace('_', ' ')} has the id {row_id}.")
        return row

    class EntityController(Controller):
        tags = [f"admin: {entity.replace('_', ' ')}s"]
        guards = [requires_admin]
        security = [{"BearerToken": []}]

        @post(
            "/",
            operation_id=f"create{model.__name__}",
            summary=f"Create a {entity}",
            responses=problem_responses(400, 401, 403, 409, 422),
        )
        async def create(
            self,
            *,
            db_session: NamedDependency[AsyncSession],
            outbox: NamedDependency[Outbox],
            media: NamedDependency[MediaStorage],
            content_cache: NamedDependency[ContentCache],
            data: JSONBody[create_type],  # type: ignore[valid-type]
        ) -> read_type:  # type: ignore[valid-type]
            values = _values(data)
            if validate is not None:
                await validate(db_session, media, values, None)
            row = model(id=new_id(), **{_attribute(name): value for name, value in values.items()})
            db_session.add(row)
            await _flush(db_session)
            await publish_change(db_session, outbox, row, "created", None)
            content_cache.invalidate()
            return read(row)

        @get(
            "/{row_id:uuid}",
            operation_id=f"read{model.__name__}",
            summary=f"Read a {entity} (every column)",
            responses=problem_responses(401, 403, 404),
        )
        async def read_one(
            self,
            db_session: NamedDependency[AsyncSession],
            row_id: FromPath[uuid.UUID],
        ) -> read_type:  # type: ignore[valid-type]
            return read(await load(db_session, row_id))

        @patch(
            "/{row_id:uuid}",
            operation_id=f"update{model.__name__}",
            summary=f"Update a {entity}",
            responses=problem_responses(400, 401, 403, 404, 409, 422),
        )
        async def update(
            self,
            *,
            db_session: NamedDependency[AsyncSession],
            outbox: NamedDependency[Outbox],
            media: NamedDependency[MediaStorage],
            content_cache: NamedDependency[ContentCache],
            row_id: FromPath[uuid.UUID],
            data: JSONBody[update_type],  # type: ignore[valid-type]
        ) -> read_type:  # type: ignore[valid-type]
            row = await load(db_session, row_id)
            values = _values(data)
            if validate is not None:
                await validate(db_session, media, values, row)
            old = column_values(row)
            changed = {name: value for name, value in values.items() if getattr(row, _attribute(name)) != value}
            if changed:
                for name, value in changed.items():
                    setattr(row, _attribute(name), value)
                await _flush(db_session)
                if "updated_at" in old:
                    await db_session.refresh(row, ["updated_at"])
                await publish_change(db_session, outbox, row, "updated", old)
                content_cache.invalidate()
            return read(row)

        @delete(
            "/{row_id:uuid}",
            operation_id=f"delete{model.__name__}",
            summary=f"Delete a {entity} (and, by cascade, what it contains)",
            responses=problem_responses(401, 403, 404, 422),
        )
        async def remove(
            self,
            db_session: NamedDependency[AsyncSession],
            outbox: NamedDependency[Outbox],
            content_cache: NamedDependency[ContentCache],
            row_id: FromPath[uuid.UUID],
        ) -> None:
            row = await load(db_session, row_id)
            old = column_values(row)
            await db_session.delete(row)
            await _flush(db_session)
            await publish_change(db_session, outbox, row, "deleted", old)
            content_cache.invalidate()

    EntityController.path = f"/admin/{path}"
    EntityController.__name__ = EntityController.__qualname__ = f"{model.__name__}AdminController"
    return EntityController


CRUD_CONTROLLERS: list[type[Controller]] = [
    crud_controller(
        "language", "languages", Language, schemas.LanguageCreate, schemas.LanguageUpdate, schemas.LanguageAdminRead
    ),
    crud_controller("course", "courses", Course, schemas.CourseCreate, schemas.CourseUpdate, schemas.CourseAdminRead),
    crud_controller(
        "section", "sections", Section, schemas.SectionCreate, schemas.SectionUpdate, schemas.SectionAdminRead
    ),
    crud_controller("unit", "units", Unit, schemas.UnitCreate, schemas.UnitUpdate, schemas.UnitAdminRead, _check_unit),
    crud_controller(
        "lesson", "lessons", Lesson, schemas.LessonCreate, schemas.LessonUpdate, schemas.LessonAdminRead, _check_lesson
    ),
    crud_controller(
        "lesson_prerequisite",
        "lesson-prerequisites",
        LessonPrerequisite,
        schemas.LessonPrerequisiteCreate,
        schemas.LessonPrerequisiteUpdate,
        schemas.LessonPrerequisiteAdminRead,
        _check_prerequisite,
    ),
    crud_controller(
        "exercise", "exercises", Exercise, schemas.ExerciseCreate, schemas.ExerciseUpdate, schemas.ExerciseAdminRead
    ),
    # Random ids: time-ordered ones would give away the authored order of the options.
    crud_controller(
        "exercise_option",
        "exercise-options",
        ExerciseOption,
        schemas.ExerciseOptionCreate,
        schemas.ExerciseOptionUpdate,
        schemas.ExerciseOptionAdminRead,
        new_id=uuid.uuid4,
    ),
    crud_controller(
        "lesson_exercise",
        "lesson-exercises",
        LessonExercise,
        schemas.LessonExerciseCreate,
        schemas.LessonExerciseUpdate,
        schemas.LessonExerciseAdminRead,
    ),
    crud_controller(
        "audio_file",
        "audio-files",
        AudioFile,
        schemas.AudioFileCreate,
        schemas.AudioFileUpdate,
        schemas.AudioFileAdminRead,
        _read_audio,
    ),
]
