"""Course documents the import rejects, naming every problem by its path: prerequisite cycles, invalid fields, audio
that is not its declared format, values too long for their columns, a language pair another course teaches."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest
import yaml
from conftest import Client, german_course, import_document, row_counts

from parla_curriculum import cli
from parla_curriculum.domain.document import DocumentInvalidError
from parla_curriculum.settings import CurriculumSettings
from parla_curriculum.use_cases.course_import import ImportResult


async def test_prerequisite_cycle_is_rejected_naming_the_lessons(client: Client, admin_headers: dict[str, str]) -> None:
    document = german_course()
    document["to_language"] = "it"
    lessons = document["sections"][0]["units"][0]["lessons"]
    lessons[0]["prerequisites"] = ["basics-2"]
    response = await import_document(client, admin_headers, document)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert "basics-1 → basics-2 → basics-1" in problem["detail"]
    assert problem["errors"] == [
        {
            "key": "sections[0].units[0].lessons[0].prerequisites",
            "message": "prerequisite cycle between lessons: basics-1 → basics-2 → basics-1",
        }
    ]
    assert document["key"] not in {course["key"] for course in (await client.get("/courses")).json()}


async def test_invalid_document_lists_every_problem_with_its_path(
    client: Client, admin_headers: dict[str, str]
) -> None:
    document = german_course()
    document["to_language"] = "pt"
    unit = document["sections"][0]["units"][0]
    unit["colour"] = "red"
    first, second = unit["lessons"]
    first["exercises"][1]["options"][1]["correct"] = True
    del first["exercises"][2]["answer"]
    second["exercises"][1] = {"use": "nowhere"}
    second["prerequisites"] = ["basics-9"]
    second["key"] = "Basics 2"
    response = await import_document(client, admin_headers, document)
    assert response.status_code == 422
    errors = {(error["key"], error["message"]) for error in response.json()["errors"]}
    lesson = "sections[0].units[0].lessons"
    assert errors == {
        ("sections[0].units[0].colour", "unknown field"),
        (f"{lesson}[0].exercises[1].options", "exactly one option must be correct"),
        (f"{lesson}[0].exercises[2].answer", "is required"),
        (f"{lesson}[1].key", "'Basics 2' is not a key (lowercase letters, digits and single hyphens)"),
        (f"{lesson}[1].exercises[1].use", "no exercise of the course is defined with key 'nowhere'"),
        (f"{lesson}[1].prerequisites[0]", "no lesson of the course has the key 'basics-9'"),
    }


async def test_a_json_body_that_is_not_a_course_document_is_a_422(
    client: Client, admin_headers: dict[str, str]
) -> None:
    headers = {**admin_headers, "Content-Type": "application/json"}
    for body in (b'{"\\ud800": 1}', b'{"name": "\\udfff"}', b"[1, 2]", b'"text"', b'{"": null}'):
        response = await client.post("/admin/courses/import", content=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"]


async def test_audio_that_is_not_its_declared_format_is_rejected(
    settings: CurriculumSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = settings.content_path / "courses/es-from-en/audio"
    (tmp_path / "audio").mkdir()
    shutil.copyfile(source / "greetings-1-listen-hola-high.ogg", tmp_path / "audio/fake-low.mp3")
    shutil.copyfile(source / "greetings-1-listen-hola-high.ogg", tmp_path / "audio/fake-high.ogg")
    document = german_course()
    document["to_language"] = "fr"
    document["sections"][0]["units"][0]["lessons"][0]["exercises"].append(
        {
            "key": "basics-1-listen",
            "type": "listening",
            "prompt": "Type what you hear",
            "answer": "Hola",
            "audio": [
                {"file": "audio/fake-low.mp3", "format": "mp3", "quality": "low"},
                {"file": "audio/fake-high.ogg", "format": "ogg", "quality": "high"},
                {"file": "audio/missing-medium.mp3", "format": "mp3", "quality": "medium"},
            ],
        }
    )
    path = tmp_path / "course.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DocumentInvalidError) as raised:
        await cli.import_course_file(settings, path)
    where = "sections[0].units[0].lessons[0].exercises[3].audio"
    assert [(error.path, error.message) for error in raised.value.errors] == [
        (f"{where}[0].file", "'audio/fake-low.mp3' is not mp3 audio (its bytes look like ogg)"),
        (f"{where}[2].file", "file 'audio/missing-medium.mp3' not found"),
    ]
    monkeypatch.setenv("PARLA_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PARLA_DATA_DIR", settings.data_dir)
    assert await asyncio.to_thread(cli.main, ["import", str(path)]) == 1


async def test_values_too_long_for_their_columns_are_rejected_naming_the_path(
    client: Client, admin_headers: dict[str, str], db: asyncpg.Connection
) -> None:
    document = german_course()
    document["key"] += "-" + "x" * 100
    document["to_language"] = "pt"
    unit = document["sections"][0]["units"][0]
    unit["name"] = "N" * 256
    unit["icon_url"] = "https://example.com/" + "i" * 500
    counts = await row_counts(db)
    response = await import_document(client, admin_headers, document)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert {(error["key"], error["message"]) for error in response.json()["errors"]} == {
        ("key", "must be at most 100 characters"),
        ("sections[0].units[0].name", "must be at most 255 characters"),
        ("sections[0].units[0].icon_url", "must be at most 500 characters"),
    }
    assert await row_counts(db) == counts


async def test_moving_a_course_to_a_language_pair_another_course_teaches_is_rejected(
    client: Client, admin_headers: dict[str, str], shipped_course: ImportResult
) -> None:
    document = german_course()
    document["from_language"] = "fr"
    document["to_language"] = "it"
    created = await import_document(client, admin_headers, document)
    assert created.status_code == 201, created.text
    document["from_language"], document["to_language"] = "en", "es"  # what es-from-en teaches
    response = await import_document(client, admin_headers, document)
    assert response.status_code == 422, response.text
    assert response.json()["errors"] == [
        {
            "key": "to_language",
            "message": "course 'es-from-en' already teaches es from en",
        }
    ]
    tree = (await client.get(f"/courses/{created.json()['course_id']}")).json()
    assert tree["to_language"] == "it"
