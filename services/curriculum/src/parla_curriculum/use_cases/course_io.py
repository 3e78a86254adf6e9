"""Import and export of course documents, shared by the admin API, the CLI and the seed."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from parla_curriculum.clients.media import MediaStorage
from parla_curriculum.domain.document import CourseDocument
from parla_curriculum.domain.document_reading import load_text, parse_document
from parla_curriculum.domain.document_writing import dump_document
from parla_curriculum.use_cases.course_audio import AudioResolver, directory_resolver
from parla_curriculum.use_cases.course_export import ExportedAudio, export_course
from parla_curriculum.use_cases.course_import import CourseImporter, ImportResult
from parla_shared.events.outbox import Outbox


def parse_text(source: str) -> CourseDocument:
    """Raises DocumentInvalidError naming every bad element."""
    return parse_document(load_text(source))


def server_resolver(content_dir: Path, course_key: str) -> AudioResolver:
    """For documents sent over HTTP: audio files are looked up in the server's copy of the course folder
    (``<content_dir>/courses/<key>/``); one that is not there keeps the recording already stored."""
    folder = content_dir / "courses" / course_key
    if folder.is_dir():
        return directory_resolver(folder)
    return lambda _file: None


async def import_text(
    session: AsyncSession,
    outbox: Outbox,
    media: MediaStorage,
    source: str,
    resolve_audio: AudioResolver | None = None,
    *,
    content_dir: Path | None = None,
) -> ImportResult:
    document = parse_text(source)
    if resolve_audio is None:
        resolve_audio = server_resolver(content_dir or Path("content"), document.key)
    return await CourseImporter(session, outbox, media).import_document(document, resolve_audio)


async def export_text(session: AsyncSession, course_id: UUID) -> tuple[str, list[ExportedAudio]] | None:
    exported = await export_course(session, course_id)
    if exported is None:
        return None
    document, audio = exported
    return dump_document(document), audio
