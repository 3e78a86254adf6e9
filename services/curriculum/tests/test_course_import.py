"""Course-as-code import (admin API and CLI): idempotence, edits in place, who may import and in which formats."""

from __future__ import annotations

import copy
import json
from typing import Any
from uuid import UUID

import asyncpg
from conftest import Client, events, german_course, import_document, row_counts

from parla_curriculum import cli
from parla_curriculum.settings import CurriculumSettings
from parla_curriculum.use_cases.course_import import ImportResult


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
            "SELECT l.key, l.id FROM lessons l JOIN units u ON u.id = l.unit_id JOIN sections s ON s.id = u.section_id"
            " WHERE s.course_id = $1 AND u.key = 'basics'",
            UUID(course_id),
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
