"""The public read API (docs/api.md, curriculum): anonymous, cacheable (ETag, Cache-Control, If-None-Match)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import File, Redirect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from parla_curriculum.api.schemas import AudioFormat, AudioQuality, CourseSummary, CourseTree, LanguageRead, LessonRead
from parla_curriculum.cache import ContentCache, cached_response
from parla_curriculum.clients.media import MediaStorage
from parla_curriculum.models import AudioFile
from parla_curriculum.use_cases import reads
from parla_shared.problems import Problem, problem_responses


def _ok(model: type[Any]) -> dict[int, ResponseSpec]:
    return {
        200: ResponseSpec(data_container=model, description="OK (with ETag and Cache-Control)"),
        304: ResponseSpec(data_container=None, description="Not Modified (If-None-Match matched the ETag)"),
    }


async def _cached(
    request: Request[Any, Any, Any],
    engine: AsyncEngine,
    cache: ContentCache,
    key: tuple[Any, ...],
    build: Callable[[AsyncSession], Awaitable[Any]],
    *,
    not_found: Problem | None = None,
) -> Response[bytes]:
    """The payload filed under ``key`` (what it is, then what picks it): 200, or 304 when the client holds it.
    A read that can find nothing (``build`` returns None: no active course or lesson of that id) passes the 404
    problem to answer then as ``not_found``; a list is at worst empty and passes none."""
    cached = await cache.get(engine, key, build)
    if cached is not None:
        return cached_response(request, cached)
    if not_found is None:
        raise LookupError(f"nothing was built for {key!r}, and its route has no 404 to answer with")
    raise not_found


class PublicController(Controller):
    tags = ["content"]

    @get(
        "/languages",
        summary="Active languages",
        responses=_ok(list[LanguageRead]),
    )
    async def list_languages(
        self,
        request: Request[Any, Any, Any],
        db_engine: NamedDependency[AsyncEngine],
        content_cache: NamedDependency[ContentCache],
    ) -> Response[bytes]:
        return await _cached(request, db_engine, content_cache, ("languages",), reads.languages)

    @get(
        "/courses",
        summary="Active courses, optionally by language pair",
        responses=_ok(list[CourseSummary]),
    )
    async def list_courses(
        self,
        request: Request[Any, Any, Any],
        db_engine: NamedDependency[AsyncEngine],
        content_cache: NamedDependency[ContentCache],
        from_language: Annotated[
            str | None, QueryParameter(name="from", description="code of the language the learner speaks")
        ] = None,
        to_language: Annotated[
            str | None, QueryParameter(name="to", description="code of the language being learned")
        ] = None,
    ) -> Response[bytes]:
        async def build(session: AsyncSession) -> list[CourseSummary]:
            return await reads.courses(session, from_language, to_language)

        return await _cached(request, db_engine, content_cache, ("courses", from_language, to_language), build)

    @get(
        "/courses/{course_id:uuid}",
        summary="A course's tree: sections, units, lessons (with prerequisite ids), in order",
        responses={**_ok(CourseTree), **problem_responses(404)},
    )
    async def get_course(
        self,
        request: Request[Any, Any, Any],
        db_engine: NamedDependency[AsyncEngine],
        content_cache: NamedDependency[ContentCache],
        course_id: FromPath[UUID],
    ) -> Response[bytes]:
        async def build(session: AsyncSession) -> CourseTree | None:
            return await reads.course_tree(session, course_id)

        return await _cached(
            request,
            db_engine,
            content_cache,
            ("course", course_id),
            build,
            not_found=Problem(404, "Course not found", f"No active course has the id {course_id}."),
        )

    @get(
        "/lessons/{lesson_id:uuid}",
        summary="A lesson's exercises as the learner sees them (never an answer)",
        responses={**_ok(LessonRead), **problem_responses(404)},
    )
    async def get_lesson(
        self,
        request: Request[Any, Any, Any],
        db_engine: NamedDependency[AsyncEngine],
        content_cache: NamedDependency[ContentCache],
        media: NamedDependency[MediaStorage],
        lesson_id: FromPath[UUID],
    ) -> Response[bytes]:
        async def build(session: AsyncSession) -> LessonRead | None:
            return await reads.lesson(session, lesson_id, media.public_url)

        return await _cached(
            request,
            db_engine,
            content_cache,
            ("lesson", lesson_id),
            build,
            not_found=Problem(404, "Lesson not found", f"No active lesson has the id {lesson_id}."),
        )

    @get(
        "/exercises/{exercise_id:uuid}/audio",
        summary="The exercise's audio file that best matches the asked format and quality (FR-18)",
        description=(
            "Exact match first; otherwise the asked format at the nearest quality (the higher one on a tie); "
            "otherwise another format. Without `quality`, medium; without `format`, mp3 first. With local media "
            "the file is streamed with its media type; with S3 media the answer is a 307 to the object's URL. "
            "`X-Audio-Format`/`X-Audio-Quality` say which recording was chosen."
        ),
        responses={
            200: ResponseSpec(data_container=bytes, media_type="audio/mpeg", description="the audio"),
            307: ResponseSpec(data_container=None, description="the audio is at the Location (S3 media)"),
            **problem_responses(400, 404),
        },
    )
    async def get_audio(
        self,
        db_session: NamedDependency[AsyncSession],
        media: NamedDependency[MediaStorage],
        exercise_id: FromPath[UUID],
        audio_format: Annotated[AudioFormat | None, QueryParameter(name="format")] = None,
        quality: FromQuery[AudioQuality | None] = None,
    ) -> File | Redirect:
        candidates = list(
            await db_session.scalars(
                select(AudioFile).where(AudioFile.exercise_id == exercise_id, AudioFile.is_active.is_(True))
            )
        )
        chosen = reads.pick_audio(candidates, audio_format, quality)
        if chosen is None:
            raise Problem(404, "No audio", f"Exercise {exercise_id} has no audio file.")
        chosen_headers = {"X-Audio-Format": chosen.file_format, "X-Audio-Quality": chosen.quality_level}
        path = media.local_file(chosen.file_path)
        if path is None:
            return Redirect(
                media.public_url(chosen.file_path),
                status_code=307,
                headers={**chosen_headers, "Cache-Control": "public, max-age=3600"},
            )
        if not await asyncio.to_thread(path.is_file):
            raise Problem(404, "Audio file missing", f"The stored file for exercise {exercise_id} is missing.")
        return File(
            path=path,
            filename=path.name,
            media_type=MEDIA_TYPES[chosen.file_format],
            content_disposition_type="inline",
            headers={
                "Cache-Control": "public, max-age=86400",
                **chosen_headers,
            },
        )


MEDIA_TYPES = {"mp3": "audio/mpeg", "ogg": "audio/ogg", "wav": "audio/wav"}
