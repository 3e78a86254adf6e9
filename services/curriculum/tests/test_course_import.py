"""Course-as-code: import (admin API and CLI), idempotence, edits in place, validation, cycles, export."""

from __future__ import annotations

import asyncio
import copy
import datetime
import json
import shutil
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest
import yaml
from litestar.testing import AsyncTestClient

from parla_curriculum import cli
from parla_curriculum.domain.document import DocumentInvalidError
from parla_curriculum.domain.document_reading import load_text, parse_document
from parla_curriculum.domain.document_writing import to_data
from parla_curriculum.settings import CurriculumSettings
from parla_curriculum.use_cases.course_import import ImportResult

Client = AsyncTestClient  # type: ignore[type-arg]
TABLES = (
    "courses",
    "sections",
    "units",
    "lessons",
    "lesson_prerequisites",
    "exercises",
    "exercise_options",
    "lesson_exercises",
    "audio_files",
)


def german_course() -> dict[str, Any]:
    return {
        "format": "parla-course/1",
        "key": "de-from-en",
        "from_language": "en",
        "to_language": "de",
        "name": "German for English speakers",
        "description": "A test course.",
        "difficulty_level": "beginner",
        "sections": [
            {
                "key": "a1",
                "name": "Beginner German",
                "cefr_level": "A1",
                "units": [
                    {
                        "key": "basics",
                        "name": "Basics",
                        "color": "#112233",
                        "lessons": [
                            {
                                "key": "basics-1",
                                "name": "Hallo",
                                "prerequisites": [],
                                "exercises": [
                                    {
                                        "key": "basics-1-hello",
                                        "type": "translation",
                                        "prompt": "Hello",
                                        "answer": "Hallo",
                                        "alternatives": ["Hallo!"],
                                        "metadata": {"source_language": "en", "target_language": "de"},
                                    },
                                    {
                                        "key": "basics-1-mc-bye",
                                        "type": "multiple_choice",
                                        "prompt": 'Which means "bye"?',
                                        "options": [
                                            {"text": "Tschüss", "correct": True},
                                            {"text": "Hallo"},
                                            {"text": "Danke"},
                                        ],
                                    },
                                    {
                                        "key": "basics-1-thanks",
                                        "type": "translation",
                                        "prompt": "Thanks",
                                        "answer": "Danke",
                                    },
                                ],
                            },
                            {
                                "key": "basics-2",
                                "name": "Mehr",
                                "xp_reward": 15,
                                "prerequisites": ["basics-1"],
                                "exercises": [
                                    {
                                        "key": "basics-2-please",
                                        "type": "translation",
                                        "prompt": "Please",
                                        "answer": "Bitte",
                                    },
                                    {"use": "basics-1-hello"},
                                ],
                            },
                        ],
                    }
                ],
            }
        ],
    }


async def import_document(client: Client, headers: dict[str, str], document: dict[str, Any]) -> Any:
    return await client.post(
        "/admin/courses/import", content=json.dumps(document), headers={**headers, "Content-Type": "application/json"}
    )


async def row_counts(db: asyncpg.Connection) -> dict[str, int]:
    return {table: await db.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES}  # noqa: S608


async def events(db: asyncpg.Connection, pattern: str = "parla.curriculum.%") -> list[dict[str, Any]]:
    rows = await db.fetch("SELECT payload FROM outbox WHERE subject LIKE $1 ORDER BY created_at", pattern)
    return [json.loads(row["payload"]) for row in rows]


async def test_shipped_course_imports_twice_without_duplicates(
    client: Client,
    shipped_course: ImportResult,
    settings: CurriculumSettings,
    db: asyncpg.Connection,
    admin_headers: dict[str, str],
) -> None:
    assert shipped_course.created > 500
    counts = await row_counts(db)
    row_events = len(await events(db)) - len(await events(db, "parla.curriculum.course.imported"))
    assert counts["lessons"] >= 16
    assert counts["audio_files"] >= 90

    again = await cli.import_course_file(settings, settings.content_path / "courses/es-from-en/course.yaml")
    assert (again.course_id, again.created, again.updated, again.deleted) == (shipped_course.course_id, 0, 0, 0)
    # The same document through the admin API (audio found in the server's content folder).
    source = (settings.content_path / "courses/es-from-en/course.yaml").read_text(encoding="utf-8")
    response = await client.post(
        "/admin/courses/import", content=source.encode(), headers={**admin_headers, "Content-Type": "application/yaml"}
    )
    assert response.status_code == 201, response.text
    assert response.json() == {
        "course_id": str(shipped_course.course_id),
        "key": "es-from-en",
        "created": 0,
        "updated": 0,
        "deleted": 0,
    }
    assert await row_counts(db) == counts
    imported = await events(db, "parla.curriculum.course.imported")
    assert len(await events(db)) - len(imported) == row_events, "an unchanged import published row events"
    assert imported[-1]["data"] == {
        "course_id": str(shipped_course.course_id),
        "key": "es-from-en",
        "created": 0,
        "updated": 0,
        "deleted": 0,
    }


async def test_edited_course_reimports_in_place(
    client: Client, admin_headers: dict[str, str], grader_headers: dict[str, str], db: asyncpg.Connection
) -> None:
    original = german_course()
    created = await import_document(client, admin_headers, original)
    assert created.status_code == 201, created.text
    course_id = created.json()["course_id"]
    assert (
        created.json()["created"] == 1 + 1 + 1 + 2 + 1 + 4 + 3 + 5
    )  # course…prerequisite, exercises, options, placements
    ids_before = {
        row["key"]: row["id"]
        for row in await db.fetch("SELECT key, id FROM exercises WHERE course_id = $1", UUID(course_id))
    }
    lessons_before = {
        row["key"]: row["id"]
        for row in await db.fetch(
            "SELECT l.key, l.id FROM lessons l JOIN units u ON u.id = l.unit_id WHERE u.key = 'basics'"
        )
    }
    seen_events = len(await events(db))

    edited = copy.deepcopy(original)
    lessons = edited["sections"][0]["units"][0]["lessons"]
    lessons[1]["name"] = "Noch mehr"
    first = lessons[0]["exercises"]
    thanks = first.pop(2)
    thanks["answer"] = "Danke schön"
    thanks["alternatives"] = ["Danke"]
    first.pop(1)  # the multiple-choice exercise leaves the course
    lessons.append(
        {
            "key": "basics-3",
            "name": "Danke",
            "prerequisites": ["basics-2"],
            "exercises": [thanks, {"key": "basics-3-yes", "type": "translation", "prompt": "Yes", "answer": "Ja"}],
        }
    )
    response = await import_document(client, admin_headers, edited)
    assert response.status_code == 201, response.text
    summary = response.json()
    assert summary["course_id"] == course_id
    # Created: lesson basics-3, exercise basics-3-yes, its two placements, its prerequisite.
    # Updated: lesson basics-2 (renamed), exercise basics-1-thanks (answer and alternatives).
    # Deleted: the multiple-choice exercise, its three options, its placement, the old placement of thanks.
    assert (summary["created"], summary["updated"], summary["deleted"]) == (5, 2, 6)

    ids_after = {
        row["key"]: row["id"]
        for row in await db.fetch("SELECT key, id FROM exercises WHERE course_id = $1", UUID(course_id))
    }
    assert set(ids_after) == {"basics-1-hello", "basics-1-thanks", "basics-2-please", "basics-3-yes"}
    for key in ("basics-1-hello", "basics-1-thanks", "basics-2-please"):
        assert ids_after[key] == ids_before[key], f"{key} was replaced instead of updated"
    tree = (await client.get(f"/courses/{course_id}")).json()
    lesson_nodes = tree["sections"][0]["units"][0]["lessons"]
    assert [(lesson["key"], lesson["name"]) for lesson in lesson_nodes] == [
        ("basics-1", "Hallo"),
        ("basics-2", "Noch mehr"),
        ("basics-3", "Danke"),
    ]
    assert lesson_nodes[1]["id"] == str(lessons_before["basics-2"])
    assert lesson_nodes[2]["prerequisite_ids"] == [lesson_nodes[1]["id"]]
    third = (await client.get(f"/lessons/{lesson_nodes[2]['id']}")).json()
    assert [exercise["id"] for exercise in third["exercises"]] == [
        str(ids_after["basics-1-thanks"]),
        str(ids_after["basics-3-yes"]),
    ]
    graded = await client.post(
        f"/internal/exercises/{ids_after['basics-1-thanks']}/check",
        json={"answer": "danke schön"},
        headers=grader_headers,
    )
    assert graded.json()["correct_answer"] == "Danke schön"
    gone = await client.post(
        f"/internal/exercises/{ids_before['basics-1-mc-bye']}/check", json={"answer": "x"}, headers=grader_headers
    )
    assert gone.status_code == 404

    new_events = (await events(db))[seen_events:]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in new_events:
        by_type.setdefault(event["type"], []).append(event["data"])
    updated_exercise = by_type["parla.curriculum.exercise.updated"][0]
    assert updated_exercise["old"]["correct_answer"] == "Danke"
    assert updated_exercise["new"]["correct_answer"] == "Danke schön"
    assert updated_exercise["new"]["alternative_answers"] == ["Danke"]
    assert [data["old"]["key"] for data in by_type["parla.curriculum.exercise.deleted"]] == ["basics-1-mc-bye"]
    assert all(data["new"] is None for data in by_type["parla.curriculum.exercise.deleted"])
    assert len(by_type["parla.curriculum.exercise_option.deleted"]) == 3
    assert by_type["parla.curriculum.lesson.updated"][0]["new"]["name"] == "Noch mehr"
    assert by_type["parla.curriculum.lesson.created"][0]["old"] is None

    # The edited document again: nothing changes.
    again = await import_document(client, admin_headers, edited)
    assert (again.json()["created"], again.json()["updated"], again.json()["deleted"]) == (0, 0, 0)


async def test_prerequisite_cycle_is_rejected_naming_the_lessons(client: Client, admin_headers: dict[str, str]) -> None:
    document = german_course()
    document["key"] = "it-from-en"
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
    assert (await client.get("/courses", params={"from": "en", "to": "it"})).json() == []


async def test_invalid_document_lists_every_problem_with_its_path(
    client: Client, admin_headers: dict[str, str]
) -> None:
    document = german_course()
    document["key"] = "pt-from-en"
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


async def test_import_is_for_admins_in_yaml_or_json(
    client: Client, admin_headers: dict[str, str], learner_headers: dict[str, str]
) -> None:
    body = json.dumps(german_course())
    anonymous = await client.post("/admin/courses/import", content=body, headers={"Content-Type": "application/json"})
    assert anonymous.status_code == 401
    learner = await client.post(
        "/admin/courses/import", content=body, headers={**learner_headers, "Content-Type": "application/json"}
    )
    assert learner.status_code == 403
    plain = await client.post(
        "/admin/courses/import", content=body, headers={**admin_headers, "Content-Type": "text/plain"}
    )
    assert plain.status_code == 415
    broken = await client.post(
        "/admin/courses/import", content=b"sections: [", headers={**admin_headers, "Content-Type": "application/yaml"}
    )
    assert broken.status_code == 422
    assert "not valid YAML" in broken.json()["detail"]


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


async def test_audio_that_is_not_its_declared_format_is_rejected(
    settings: CurriculumSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = settings.content_path / "courses/es-from-en/audio"
    (tmp_path / "audio").mkdir()
    shutil.copyfile(source / "greetings-1-listen-hola-high.ogg", tmp_path / "audio/fake-low.mp3")
    shutil.copyfile(source / "greetings-1-listen-hola-high.ogg", tmp_path / "audio/fake-high.ogg")
    document = german_course()
    document["key"] = "fr-from-en"
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
    document["key"] = "pt-from-en-" + "x" * 100
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


async def test_metadata_with_yaml_dates_reimports_unchanged(
    client: Client, admin_headers: dict[str, str], db: asyncpg.Connection
) -> None:
    document = german_course()
    document["key"] = "pt-from-en"
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


async def test_moving_a_course_to_a_language_pair_another_course_teaches_is_rejected(
    client: Client, admin_headers: dict[str, str], shipped_course: ImportResult
) -> None:
    document = german_course()
    document["key"] = "it-from-fr"
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
