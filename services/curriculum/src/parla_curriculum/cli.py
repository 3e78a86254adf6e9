"""``python -m parla_curriculum.cli import <course.yaml>`` / ``export <course key or id> <folder>``.

Uses the service's settings (``PARLA_DATABASE_URL``, ``PARLA_DATA_DIR``…). An import runs in one transaction;
its events go through the outbox like the API's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from parla_curriculum.clients.media import MediaStorage, media_storage
from parla_curriculum.domain.document import DocumentInvalidError
from parla_curriculum.models import Course
from parla_curriculum.settings import CurriculumSettings
from parla_curriculum.use_cases.course_audio import directory_resolver
from parla_curriculum.use_cases.course_export import ExportedAudio
from parla_curriculum.use_cases.course_import import ImportResult
from parla_curriculum.use_cases.course_io import export_text, import_text
from parla_shared.db import create_engine
from parla_shared.events.outbox import Outbox
from parla_shared.events.tables import MessagingTables


def engine_for(settings: CurriculumSettings) -> AsyncEngine:
    return create_engine(settings, "curriculum-cli")


async def import_course_file(settings: CurriculumSettings, path: Path) -> ImportResult:
    """Import one course document in one transaction (raises DocumentInvalidError)."""
    engine = engine_for(settings)
    outbox = Outbox(MessagingTables(settings.db_schema), producer=settings.service_name)
    source = await asyncio.to_thread(path.read_text, encoding="utf-8")
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            return await import_text(session, outbox, media_storage(settings), source, directory_resolver(path.parent))
    finally:
        await engine.dispose()


async def export_course_folder(settings: CurriculumSettings, course: str, folder: Path) -> Path:
    """Write ``course.yaml`` and its ``audio/`` files into ``folder``; returns the document's path."""
    engine = engine_for(settings)
    media = media_storage(settings)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            try:
                course_id = uuid.UUID(course)
            except ValueError:
                found = await session.scalar(select(Course.id).where(Course.key == course))
                if found is None:
                    raise LookupError(f"no course has the key {course!r}") from None
                course_id = found
            exported = await export_text(session, course_id)
            if exported is None:
                raise LookupError(f"no course has the id {course}")
    finally:
        await engine.dispose()
    text, audio = exported
    return await _write_folder(folder, text, audio, media)


async def _write_folder(folder: Path, text: str, audio: list[ExportedAudio], media: MediaStorage) -> Path:
    for item in audio:
        target = folder / item.file
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        await media.fetch(item.file_path, target)
    document = folder / "course.yaml"
    await asyncio.to_thread(document.write_text, text, encoding="utf-8")
    return document


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parla_curriculum.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    import_command = commands.add_parser("import", help="import (or update) a course from its document")
    import_command.add_argument("file", type=Path)
    export_command = commands.add_parser("export", help="write a stored course back as a document")
    export_command.add_argument("course", help="the course's key or id")
    export_command.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    settings = CurriculumSettings.from_env()
    if args.command == "import":
        try:
            result = asyncio.run(import_course_file(settings, args.file))
        except DocumentInvalidError as exc:
            print(f"{args.file}: {len(exc.errors)} problem(s):", file=sys.stderr)
            for error in exc.errors:
                print(f"  {error}", file=sys.stderr)
            return 1
        print(
            f"{result.key}: {result.created} created, {result.updated} updated, {result.deleted} deleted "
            f"(course {result.course_id})"
        )
        return 0
    try:
        document = asyncio.run(export_course_folder(settings, args.course, args.folder))
    except LookupError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"wrote {document}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
