"""Admin endpoints: course import/export (course-as-code) and create/update/delete of every content entity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from parla_curriculum.api.admin_crud import CRUD_CONTROLLERS
from parla_curriculum.cache import ContentCache
from parla_curriculum.clients.media import MediaStorage
from parla_curriculum.domain.document import DocumentInvalidError
from parla_curriculum.settings import CurriculumSettings
from parla_curriculum.use_cases.course_io import export_text, import_text
from parla_shared.auth import requires_admin
from parla_shared.events.outbox import Outbox
from parla_shared.problems import Problem, problem_responses

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


class ImportSummary(msgspec.Struct, frozen=True):
    course_id: UUID
    key: str
    created: int
    updated: int
    deleted: int


@dataclass
class _ImportOperation(Operation):
    def __post_init__(self) -> None:
        document = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, description="parla-course/1 YAML"))
        self.request_body = RequestBody(
            required=True,
            description=(
                "A whole course document (format `parla-course/1`, content/README.md) as YAML "
                "(`application/yaml` or `text/yaml`) or the same structure as JSON (`application/json`). "
                "Audio `file` paths are looked up in the server's copy of the course folder; a recording "
                "not found there keeps the one already stored for that exercise, format and quality."
            ),
            content={
                "application/yaml": document,
                "text/yaml": document,
                "application/json": OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT)),
            },
        )


def invalid_document(exc: DocumentInvalidError) -> Problem:
    errors = [{"key": error.path, "message": error.message} for error in exc.errors]
    shown = "; ".join(str(error) for error in exc.errors[:5])
    more = f" (and {len(exc.errors) - 5} more)" if len(exc.errors) > 5 else ""
    return Problem(
        422,
        "Invalid course document",
        f"{len(exc.errors)} problem(s): {shown}{more}",
        extra={"errors": errors},
    )


class CourseDocumentController(Controller):
    path = "/admin/courses"
    tags = ["admin: course documents"]
    guards = [requires_admin]
    security = [{"BearerToken": []}]

    @post(
        "/import",
        status_code=201,
        summary="Import a whole course document (idempotent by stable keys)",
        operation_class=_ImportOperation,
        responses={
            201: ResponseSpec(data_container=ImportSummary, description="imported"),
            **problem_responses(400, 401, 403, 415, 422),
        },
    )
    async def import_course(
        self,
        *,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        outbox: NamedDependency[Outbox],
        media: NamedDependency[MediaStorage],
        settings: NamedDependency[CurriculumSettings],
        content_cache: NamedDependency[ContentCache],
    ) -> ImportSummary:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in (*YAML_TYPES, "application/json"):
            raise Problem(415, "Unsupported media type", "Send the document as application/yaml or application/json.")
        body = await request.body()
        try:
            source = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Problem(400, "Not UTF-8", "The course document must be UTF-8 text.") from None
        try:
            result = await import_text(db_session, outbox, media, source, content_dir=settings.content_path)
        except DocumentInvalidError as exc:
            raise invalid_document(exc) from None
        content_cache.invalidate()
        return ImportSummary(result.course_id, result.key, result.created, result.updated, result.deleted)

    @get(
        "/{course_id:uuid}/export",
        summary="The stored course as a course document (YAML)",
        responses={
            200: ResponseSpec(data_container=str, media_type="application/yaml", description="document"),
            **problem_responses(401, 403, 404),
        },
    )
    async def export_course(
        self, db_session: NamedDependency[AsyncSession], course_id: FromPath[UUID]
    ) -> Response[str]:
        exported = await export_text(db_session, course_id)
        if exported is None:
            raise Problem(404, "Course not found", f"No course has the id {course_id}.")
        text, _audio = exported
        return Response(content=text, media_type="application/yaml; charset=utf-8")


ADMIN_CONTROLLERS: list[type[Controller]] = [CourseDocumentController, *CRUD_CONTROLLERS]
