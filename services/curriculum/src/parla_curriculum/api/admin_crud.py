"""Admin create/read/update/delete and listing of every content entity (``/admin/<entities>``), one generic
controller per entity over its ``EntityAdmin`` use cases (``use_cases/admin_content.py``).

A list (``GET /admin/<entities>``) is a page, oldest first, of at most ``limit`` (1 to 200) rows from ``offset``,
with the total; each entity filters by the ids of what it belongs to (``?course_id=…`` for sections).
"""

# No ``from __future__ import annotations``: the generic handlers' annotations must be real types for Litestar.

import inspect
import uuid
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from parla_curriculum.api import admin_schemas as schemas
from parla_curriculum.cache import ContentCache
from parla_curriculum.clients.media import MediaStorage
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
from parla_curriculum.use_cases.admin_content import EntityAdmin
from parla_curriculum.use_cases.content_checks import (
    Validator,
    check_lesson,
    check_prerequisite,
    check_unit,
    read_audio,
)
from parla_shared.auth import requires_admin
from parla_shared.events.outbox import Outbox
from parla_shared.problems import problem_responses

MAX_PAGE = 200
# PostgreSQL's OFFSET is a bigint: anything larger is a 400, not a database error.
MAX_OFFSET = 2**63 - 1


def _values(data: msgspec.Struct) -> dict[str, Any]:
    return {field: value for field in data.__struct_fields__ if (value := getattr(data, field)) is not msgspec.UNSET}


def _filtered_by(columns: tuple[str, ...]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declares one optional UUID query parameter per column on a handler taking ``**where``, so Litestar parses,
    checks and documents them like any other parameter."""

    def declare(handler: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(handler)
        fixed = [
            parameter for parameter in signature.parameters.values() if parameter.kind is not parameter.VAR_KEYWORD
        ]
        annotations = {
            column: Annotated[uuid.UUID | None, QueryParameter(description=f"only rows whose {column} is this id")]
            for column in columns
        }
        filters = [
            inspect.Parameter(column, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
            for column, annotation in annotations.items()
        ]
        handler.__signature__ = signature.replace(parameters=[*fixed, *filters])  # type: ignore[attr-defined]
        handler.__annotations__ = {**handler.__annotations__, **annotations}
        return handler

    return declare


def crud_controller(  # noqa: PLR0917 - one call per entity, read as a table below
    entity: str,
    path: str,
    model: type[UUIDv7Base],
    create_type: type[msgspec.Struct],
    update_type: type[msgspec.Struct],
    read_type: type[msgspec.Struct],
    validate: Validator | None = None,
    new_id: Callable[[], uuid.UUID] = uuid7,
    filters: tuple[str, ...] = (),
) -> type[Controller]:
    """``GET|POST /admin/<path>``, ``GET|PATCH|DELETE /admin/<path>/{id}`` for one entity."""
    admin = EntityAdmin(entity, model, validate, new_id)
    page_type = msgspec.defstruct(
        f"{model.__name__}Page",
        [("items", list[read_type]), ("total", int), ("limit", int), ("offset", int)],  # type: ignore[valid-type]
        frozen=True,
    )

    def read(row: UUIDv7Base) -> msgspec.Struct:
        return msgspec.convert(column_values(row), read_type)

    class EntityController(Controller):
        tags = [f"admin: {entity.replace('_', ' ')}s"]
        guards = [requires_admin]
        security = [{"BearerToken": []}]

        @get(
            "/",
            operation_id=f"find{model.__name__}s",
            summary=f"A page of {entity.replace('_', ' ')}s (oldest first), optionally filtered",
            responses=problem_responses(401, 403),
        )
        @_filtered_by(filters)
        async def find(
            self,
            db_session: NamedDependency[AsyncSession],
            limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 50,
            offset: Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)] = 0,
            **where: uuid.UUID | None,
        ) -> page_type:  # type: ignore[valid-type]
            rows, total = await admin.page(db_session, where, limit, offset)
            return page_type([read(row) for row in rows], total, limit, offset)

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
            row = await admin.create(db_session, outbox, media, _values(data))
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
            return read(await admin.load(db_session, row_id))

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
            row, changed = await admin.update(db_session, outbox, media, row_id, _values(data))
            if changed:
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
            await admin.delete(db_session, outbox, row_id)
            content_cache.invalidate()

    EntityController.path = f"/admin/{path}"
    EntityController.__name__ = EntityController.__qualname__ = f"{model.__name__}AdminController"
    return EntityController


CRUD_CONTROLLERS: list[type[Controller]] = [
    crud_controller(
        "language", "languages", Language, schemas.LanguageCreate, schemas.LanguageUpdate, schemas.LanguageAdminRead
    ),
    crud_controller(
        "course",
        "courses",
        Course,
        schemas.CourseCreate,
        schemas.CourseUpdate,
        schemas.CourseAdminRead,
        filters=("from_language_id", "to_language_id"),
    ),
    crud_controller(
        "section",
        "sections",
        Section,
        schemas.SectionCreate,
        schemas.SectionUpdate,
        schemas.SectionAdminRead,
        filters=("course_id",),
    ),
    crud_controller(
        "unit",
        "units",
        Unit,
        schemas.UnitCreate,
        schemas.UnitUpdate,
        schemas.UnitAdminRead,
        check_unit,
        filters=("section_id",),
    ),
    crud_controller(
        "lesson",
        "lessons",
        Lesson,
        schemas.LessonCreate,
        schemas.LessonUpdate,
        schemas.LessonAdminRead,
        check_lesson,
        filters=("unit_id",),
    ),
    crud_controller(
        "lesson_prerequisite",
        "lesson-prerequisites",
        LessonPrerequisite,
        schemas.LessonPrerequisiteCreate,
        schemas.LessonPrerequisiteUpdate,
        schemas.LessonPrerequisiteAdminRead,
        check_prerequisite,
        filters=("lesson_id", "prerequisite_lesson_id"),
    ),
    crud_controller(
        "exercise",
        "exercises",
        Exercise,
        schemas.ExerciseCreate,
        schemas.ExerciseUpdate,
        schemas.ExerciseAdminRead,
        filters=("course_id", "exercise_type_id"),
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
        filters=("exercise_id",),
    ),
    crud_controller(
        "lesson_exercise",
        "lesson-exercises",
        LessonExercise,
        schemas.LessonExerciseCreate,
        schemas.LessonExerciseUpdate,
        schemas.LessonExerciseAdminRead,
        filters=("lesson_id", "exercise_id"),
    ),
    crud_controller(
        "audio_file",
        "audio-files",
        AudioFile,
        schemas.AudioFileCreate,
        schemas.AudioFileUpdate,
        schemas.AudioFileAdminRead,
        read_audio,
        filters=("exercise_id",),
    ),
]
