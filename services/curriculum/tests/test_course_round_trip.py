"""Course export (admin API and CLI) and documents that re-import unchanged."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from uuid import UUID

import asyncpg
import pytest
import yaml
from conftest import Client, german_course

from parla_curriculum import cli
from parla_curriculum.domain.document_reading import load_text, parse_document
from parla_curriculum.domain.document_writing import to_data
from parla_curriculum.settings import CurriculumSettings
from parla_curriculum.use_cases.course_import import ImportResult


async def test_export_writes_the_same_document_back(
    client: Client, shipped_course: ImportResult, admin_headers: dict[str, str], settings: CurriculumSettings
) -> None:
    response = await client.get(f"/admin/courses/{shipped_course.course_id}/export", headers=admin_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    original = (settings.content_path / "courses/es-from-en/course.yaml").read_text(encoding="utf-8")
    assert to_data(parse_document(load_text(response.text))) == to_data(parse_document(load_text(original)))
    reimported = await client.post(
        "/admin/courses/import", content=response.content, headers={**admin_headers, "Content-Type": "application/yaml"}
    )
    assert (reimported.json()["created"], reimported.json()["updated"], reimported.json()["deleted"]) == (0, 0, 0)
    learner = await client.get(f"/admin/courses/{shipped_course.course_id}/export")
    assert learner.status_code == 401


async def test_cli_exports_a_course_folder_that_imports_unchanged(
    shipped_course: ImportResult,
    settings: CurriculumSettings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "export"
    document = await cli.export_course_folder(settings, "es-from-en", folder)
    source = settings.content_path / "courses/es-from-en"
    exported = yaml.safe_load(document.read_text(encoding="utf-8"))
    files = [
        audio["file"]
        for section in exported["sections"]
        for unit in section["units"]
        for lesson in unit["lessons"]
        for exercise in lesson["exercises"]
        for audio in exercise.get("audio", [])
    ]
    assert len(files) == 90
    for name in files:
        assert (folder / name).read_bytes() == (source / name).read_bytes()
    result = await cli.import_course_file(settings, document)
    assert (result.course_id, result.created, result.updated, result.deleted) == (shipped_course.course_id, 0, 0, 0)


async def test_metadata_with_yaml_dates_reimports_unchanged(
    client: Client, admin_headers: dict[str, str], db: asyncpg.Connection
) -> None:
    document = german_course()
    document["to_language"] = "pt"
    # YAML reads an unquoted date as a date; the JSONB column stores it as a string.
    metadata = document["sections"][0]["units"][0]["lessons"][0]["exercises"][0]["metadata"]
    metadata["added"] = datetime.date(2024, 5, 1)
    source = yaml.safe_dump(document, allow_unicode=True)
    assert "added: 2024-05-01\n" in source
    headers = {**admin_headers, "Content-Type": "application/yaml"}
    first = await client.post("/admin/courses/import", content=source.encode(), headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post("/admin/courses/import", content=source.encode(), headers=headers)
    assert again.status_code == 201, again.text
    assert (again.json()["created"], again.json()["updated"], again.json()["deleted"]) == (0, 0, 0)
    stored = await db.fetchval(
        "SELECT metadata FROM exercises WHERE course_id = $1 AND key = 'basics-1-hello'",
        UUID(first.json()["course_id"]),
    )
    assert json.loads(stored) == {"source_language": "en", "target_language": "de", "added": "2024-05-01"}
