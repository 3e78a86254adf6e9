"""Rules of content rows the database cannot see, checked before an admin change: unit and lesson keys unique in
their course, prerequisites in one course and without cycles, audio metadata read from the stored file."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from parla_curriculum.clients.media import AudioFormatError, AudioMetadata, MediaStorage, read_audio_metadata
from parla_curriculum.domain.document_checks import find_cycles
from parla_curriculum.models import Lesson, LessonPrerequisite, Section, Unit, UUIDv7Base
from parla_curriculum.use_cases.course_queries import in_course
from parla_shared.problems import Problem

# Checks an entity's new values (``row`` is None on create) and may complete them.
Validator = Callable[[AsyncSession, MediaStorage, dict[str, Any], UUIDv7Base | None], Awaitable[None]]


def attribute_name(name: str) -> str:
    return "metadata_" if name == "metadata" else name


def _merged(row: UUIDv7Base | None, values: dict[str, Any], name: str) -> Any:
    if name in values:
        return values[name]
    return getattr(row, attribute_name(name)) if row is not None else None


async def _course_of_section(session: AsyncSession, section_id: Any) -> Any:
    return await session.scalar(select(Section.course_id).where(Section.id == section_id))


async def _course_of_unit(session: AsyncSession, unit_id: Any) -> Any:
    return await session.scalar(
        select(Section.course_id).join(Unit, Unit.section_id == Section.id).where(Unit.id == unit_id)
    )


async def _refuse_taken_key(
    session: AsyncSession, level: type[Unit | Lesson], course_id: Any, key: Any, row: UUIDv7Base | None
) -> None:
    """409 when another unit (lesson) of the course has the key: a course document names them by key."""
    clash = await session.scalar(
        in_course(select(level.id), level, course_id).where(level.key == key, level.id != (row.id if row else None))
    )
    if clash is not None:
        raise Problem(409, "Key taken", f"Another {level.__name__.lower()} of the course already has the key {key!r}.")


async def check_unit(session: AsyncSession, _media: MediaStorage, values: dict[str, Any], row: Any) -> None:
    course_id = await _course_of_section(session, _merged(row, values, "section_id"))
    await _refuse_taken_key(session, Unit, course_id, _merged(row, values, "key"), row)


async def check_lesson(session: AsyncSession, _media: MediaStorage, values: dict[str, Any], row: Any) -> None:
    course_id = await _course_of_unit(session, _merged(row, values, "unit_id"))
    await _refuse_taken_key(session, Lesson, course_id, _merged(row, values, "key"), row)


async def check_prerequisite(session: AsyncSession, _media: MediaStorage, values: dict[str, Any], row: Any) -> None:
    lesson_id, prerequisite_id = _merged(row, values, "lesson_id"), _merged(row, values, "prerequisite_lesson_id")
    course_ids = {await _course_of_lesson(session, lesson_id), await _course_of_lesson(session, prerequisite_id)}
    if None in course_ids:
        raise Problem(422, "Unknown reference", "Both lessons must exist.")
    if len(course_ids) != 1:
        raise Problem(422, "Different courses", "A prerequisite must be a lesson of the same course.")
    course_id = course_ids.pop()
    keys = {lesson.id: lesson.key for lesson in await session.scalars(in_course(select(Lesson), Lesson, course_id))}
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


async def read_audio(session: AsyncSession, media: MediaStorage, values: dict[str, Any], row: Any) -> None:
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
