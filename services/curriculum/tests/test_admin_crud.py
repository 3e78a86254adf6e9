"""Admin create/read/update/delete of every content entity, each change published with old and new values."""

from __future__ import annotations

import json
import shutil
from typing import Any
from uuid import uuid4

import asyncpg
from conftest import Client

from parla_curriculum.settings import CurriculumSettings
from parla_curriculum.use_cases.course_import import ImportResult


class Admin:
    def __init__(self, client: Client, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    async def create(self, path: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
        response = await self.client.post(f"/admin/{path}", json=body, headers=self.headers)
        assert response.status_code == status, response.text
        created: dict[str, Any] = response.json()
        return created

    async def update(self, path: str, row_id: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        response = await self.client.patch(f"/admin/{path}/{row_id}", json=body, headers=self.headers)
        assert response.status_code == status, response.text
        updated: dict[str, Any] = response.json()
        return updated

    async def delete(self, path: str, row_id: str, status: int = 204) -> None:
        response = await self.client.delete(f"/admin/{path}/{row_id}", headers=self.headers)
        assert response.status_code == status, response.text


async def last_event(db: asyncpg.Connection, event_type: str) -> dict[str, Any]:
    payload = await db.fetchval(
        "SELECT payload FROM outbox WHERE subject = $1 ORDER BY created_at DESC LIMIT 1", event_type
    )
    assert payload is not None, f"no {event_type} event"
    data: dict[str, Any] = json.loads(payload)["data"]
    return data


async def test_every_entity_is_created_updated_and_deleted_with_events(
    client: Client, admin_headers: dict[str, str], db: asyncpg.Connection, settings: CurriculumSettings
) -> None:
    admin = Admin(client, admin_headers)
    language = await admin.create("languages", {"code": "nl", "name": "Dutch", "native_name": "Nederlands"})
    event = await last_event(db, "parla.curriculum.language.created")
    assert (event["entity"], event["id"], event["old"], event["new"]["code"]) == (
        "language",
        language["id"],
        None,
        "nl",
    )
    english = await db.fetchval("SELECT id FROM languages WHERE code = 'en'")
    course = await admin.create(
        "courses",
        {"key": "nl-from-en", "from_language_id": str(english), "to_language_id": language["id"], "name": "Dutch"},
    )
    section = await admin.create(
        "sections", {"course_id": course["id"], "key": "a1", "name": "A1", "sort_order": 0, "cefr_level": "A1"}
    )
    unit = await admin.create(
        "units", {"section_id": section["id"], "key": "basics", "name": "Basics", "sort_order": 0, "color": "#FF0000"}
    )
    first = await admin.create("lessons", {"unit_id": unit["id"], "key": "basics-1", "name": "One", "sort_order": 0})
    second = await admin.create("lessons", {"unit_id": unit["id"], "key": "basics-2", "name": "Two", "sort_order": 1})
    prerequisite = await admin.create(
        "lesson-prerequisites", {"lesson_id": second["id"], "prerequisite_lesson_id": first["id"]}
    )
    cycle = await client.post(
        "/admin/lesson-prerequisites",
        headers=admin_headers,
        json={"lesson_id": first["id"], "prerequisite_lesson_id": second["id"]},
    )
    assert cycle.status_code == 422
    assert "basics-1 → basics-2 → basics-1" in cycle.json()["detail"]

    translation = await db.fetchval("SELECT id FROM exercise_types WHERE name = 'multiple_choice'")
    exercise = await admin.create(
        "exercises",
        {
            "course_id": course["id"],
            "key": "basics-1-mc-hello",
            "exercise_type_id": str(translation),
            "prompt": 'Which means "hello"?',
            "correct_answer": "Hallo",
        },
    )
    right = await admin.create(
        "exercise-options", {"exercise_id": exercise["id"], "option_text": "Hallo", "is_correct": True, "sort_order": 0}
    )
    await admin.create("exercise-options", {"exercise_id": exercise["id"], "option_text": "Dag", "sort_order": 1})
    placement = await admin.create(
        "lesson-exercises", {"lesson_id": first["id"], "exercise_id": exercise["id"], "sort_order": 0}
    )
    source = settings.content_path / "courses/es-from-en/audio/greetings-1-listen-hola-low.mp3"
    (settings.media_path / "audio/manual").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, settings.media_path / "audio/manual/hallo.mp3")
    audio = await admin.create(
        "audio-files",
        {
            "exercise_id": exercise["id"],
            "file_path": "audio/manual/hallo.mp3",
            "file_format": "mp3",
            "quality_level": "low",
        },
    )
    assert audio["file_size_bytes"] == source.stat().st_size
    assert audio["sample_rate"] == 16000
    assert audio["duration_seconds"] >= 1

    # The public lesson shows it; an update changes the payload and its ETag.
    lesson_before = await client.get(f"/lessons/{first['id']}")
    assert [option["text"] for option in lesson_before.json()["exercises"][0]["options"]] in (
        ["Hallo", "Dag"],
        ["Dag", "Hallo"],
    )
    updated = await admin.update("exercises", exercise["id"], {"prompt": 'What is "hello"?', "hint": "H…"})
    assert updated["prompt"] == 'What is "hello"?'
    event = await last_event(db, "parla.curriculum.exercise.updated")
    assert (event["old"]["prompt"], event["new"]["prompt"], event["old"]["hint"], event["new"]["hint"]) == (
        'Which means "hello"?',
        'What is "hello"?',
        None,
        "H…",
    )
    stale = await client.get(f"/lessons/{first['id']}", headers={"If-None-Match": lesson_before.headers["etag"]})
    assert stale.status_code == 200
    assert stale.json()["exercises"][0]["prompt"] == 'What is "hello"?'

    for path, row, body in (
        ("languages", language, {"flag_url": "https://flags.test/nl.svg"}),
        ("courses", course, {"description": "Learn Dutch"}),
        ("sections", section, {"name": "Beginner"}),
        ("units", unit, {"color": "#00FF00"}),
        ("lessons", second, {"xp_reward": 30}),
        ("exercise-options", right, {"option_text": "Hallo!"}),
        ("lesson-exercises", placement, {"sort_order": 5}),
        ("audio-files", audio, {"is_active": False}),
    ):
        result = await admin.update(path, row["id"], body)
        assert {name: result[name] for name in body} == body
        entity = path.removesuffix("s").replace("-", "_")
        event = await last_event(db, f"parla.curriculum.{entity}.updated")
        assert event["id"] == row["id"]
        assert {name: event["new"][name] for name in body} == body
        assert {name: event["old"][name] for name in body} == {name: row[name] for name in body}
        assert (await client.get(f"/admin/{path}/{row['id']}", headers=admin_headers)).json() == result
    await admin.update("lesson-prerequisites", prerequisite["id"], {"prerequisite_lesson_id": first["id"]})

    for path, row in (
        ("audio-files", audio),
        ("lesson-exercises", placement),
        ("exercise-options", right),
        ("exercises", exercise),
        ("lesson-prerequisites", prerequisite),
        ("lessons", second),
        ("units", unit),
        ("sections", section),
        ("courses", course),
        ("languages", language),
    ):
        await admin.delete(path, row["id"])
        entity = path.removesuffix("s").replace("-", "_")
        event = await last_event(db, f"parla.curriculum.{entity}.deleted")
        assert (event["id"], event["old"]["id"], event["new"]) == (row["id"], row["id"], None)
        assert (await client.get(f"/admin/{path}/{row['id']}", headers=admin_headers)).status_code == 404
    assert await db.fetchval("SELECT count(*) FROM lessons WHERE id = $1::uuid", first["id"]) == 0


async def test_admin_crud_rejects_bad_changes_with_problems(
    client: Client,
    admin_headers: dict[str, str],
    learner_headers: dict[str, str],
    db: asyncpg.Connection,
    shipped_course: ImportResult,
) -> None:
    admin = Admin(client, admin_headers)
    section_id = await db.fetchval(
        "SELECT s.id FROM sections s JOIN courses c ON c.id = s.course_id WHERE c.key = 'es-from-en' AND s.key = 'a1'"
    )
    taken = await client.post(
        "/admin/units",
        headers=admin_headers,
        json={"section_id": str(section_id), "key": "greetings", "name": "Again", "sort_order": 99},
    )
    assert taken.status_code == 409, taken.text
    clash = await client.post(
        "/admin/units",
        headers=admin_headers,
        json={"section_id": str(section_id), "key": "other", "name": "Same place", "sort_order": 0},
    )
    assert clash.status_code == 409
    colour = await client.post(
        "/admin/units",
        headers=admin_headers,
        json={
            "section_id": str(section_id),
            "key": "colourful",
            "name": "Bad colour",
            "sort_order": 98,
            "color": "red",
        },
    )
    assert colour.status_code == 422
    assert colour.headers["content-type"].startswith("application/problem+json")
    english = await db.fetchval("SELECT id FROM languages WHERE code = 'en'")
    await admin.delete("languages", str(english), status=422)  # courses still use it
    unknown_field = await client.post(
        "/admin/languages", headers=admin_headers, json={"code": "sv", "name": "Swedish", "colour": "blue"}
    )
    assert unknown_field.status_code == 400
    learner = await client.post("/admin/languages", headers=learner_headers, json={"code": "sv", "name": "Swedish"})
    assert learner.status_code == 403
    anonymous = await client.patch(f"/admin/languages/{english}", json={"name": "X"})
    assert anonymous.status_code == 401
    missing = await client.patch(
        "/admin/languages/00000000-0000-0000-0000-000000000000", headers=admin_headers, json={"name": "X"}
    )
    assert missing.status_code == 404


async def test_values_that_do_not_fit_their_columns_are_422_problems(
    client: Client, admin_headers: dict[str, str], db: asyncpg.Connection, shipped_course: ImportResult
) -> None:
    section_id = await db.fetchval(
        "SELECT s.id FROM sections s JOIN courses c ON c.id = s.course_id WHERE c.key = 'es-from-en' AND s.key = 'a1'"
    )
    unit = {"section_id": str(section_id), "key": "too-big", "name": "Too big", "sort_order": 97}
    for body in ({**unit, "name": "N" * 256}, {**unit, "sort_order": 2**31}, {**unit, "key": "k" * 101}):
        response = await client.post("/admin/units", headers=admin_headers, json=body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await db.fetchval("SELECT count(*) FROM units WHERE sort_order = 97") == 0


async def test_an_audio_file_path_with_a_nul_character_is_a_400(
    client: Client, admin_headers: dict[str, str], db: asyncpg.Connection, shipped_course: ImportResult
) -> None:
    exercise_id = await db.fetchval("SELECT id FROM exercises WHERE course_id = $1 LIMIT 1", shipped_course.course_id)
    body = {"exercise_id": str(exercise_id), "file_path": "audio/\u0000x.mp3", "file_format": "mp3"}
    created = await client.post("/admin/audio-files", headers=admin_headers, json=body)
    assert created.status_code == 400, created.text
    assert created.headers["content-type"].startswith("application/problem+json")
    audio_id = await db.fetchval(
        "SELECT a.id FROM audio_files a JOIN exercises e ON e.id = a.exercise_id WHERE e.course_id = $1 LIMIT 1",
        shipped_course.course_id,
    )
    changed = await client.patch(f"/admin/audio-files/{audio_id}", headers=admin_headers, json={"file_path": "\u0000"})
    assert changed.status_code == 400, changed.text


async def test_admin_lists_are_filtered_pages_with_their_total(
    client: Client,
    admin_headers: dict[str, str],
    learner_headers: dict[str, str],
    db: asyncpg.Connection,
    shipped_course: ImportResult,
) -> None:
    course_id = str(shipped_course.course_id)
    stored = await db.fetch("SELECT id FROM sections WHERE course_id = $1 ORDER BY id", shipped_course.course_id)
    everything = await client.get("/admin/sections", params={"course_id": course_id}, headers=admin_headers)
    assert everything.status_code == 200, everything.text
    page = everything.json()
    assert page["total"] == len(stored) > 0
    assert [row["id"] for row in page["items"]] == [str(row["id"]) for row in stored]
    assert {row["course_id"] for row in page["items"]} == {course_id}
    assert (page["limit"], page["offset"]) == (50, 0)

    exercises = await db.fetch("SELECT id FROM exercises WHERE course_id = $1 ORDER BY id", shipped_course.course_id)
    second = await client.get(
        "/admin/exercises", params={"course_id": course_id, "limit": 2, "offset": 2}, headers=admin_headers
    )
    assert second.status_code == 200, second.text
    assert second.json()["total"] == len(exercises)
    assert [row["id"] for row in second.json()["items"]] == [str(row["id"]) for row in exercises[2:4]]

    nobody = await client.get("/admin/units", params={"section_id": str(uuid4())}, headers=admin_headers)
    assert nobody.json() == {"items": [], "total": 0, "limit": 50, "offset": 0}


async def test_admin_lists_refuse_bad_parameters_and_learners(
    client: Client, admin_headers: dict[str, str], learner_headers: dict[str, str]
) -> None:
    for params in ({"limit": 0}, {"limit": 201}, {"offset": -1}, {"course_id": "not-a-uuid"}):
        response = await client.get("/admin/sections", params=params, headers=admin_headers)
        assert response.status_code == 400, (params, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/admin/sections", headers=learner_headers)).status_code == 403
    assert (await client.get("/admin/sections")).status_code == 401
