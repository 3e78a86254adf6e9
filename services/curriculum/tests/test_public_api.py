"""The public read API of docs/api.md (curriculum) and the internal grading endpoint, on the shipped course."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import yaml
from conftest import Client

from parla_curriculum.settings import CurriculumSettings
from parla_curriculum.use_cases.course_import import ImportResult
from parla_testing import SigningKey, bearer

SHIPPED_COURSE = CurriculumSettings.from_env({"PARLA_DATABASE_URL": "postgresql://unused/x"}).content_path / (
    "courses/es-from-en/course.yaml"
)

DOCUMENT: dict[str, Any] = yaml.safe_load(SHIPPED_COURSE.read_text(encoding="utf-8"))


def document_lessons() -> list[dict[str, Any]]:
    return [lesson for section in DOCUMENT["sections"] for unit in section["units"] for lesson in unit["lessons"]]


async def course_tree(client: Client, shipped_course: ImportResult) -> dict[str, Any]:
    response = await client.get(f"/courses/{shipped_course.course_id}")
    assert response.status_code == 200
    tree: dict[str, Any] = response.json()
    return tree


def tree_lessons(tree: dict[str, Any]) -> list[dict[str, Any]]:
    return [lesson for section in tree["sections"] for unit in section["units"] for lesson in unit["lessons"]]


async def test_languages_are_the_six_seeded_ones(client: Client) -> None:
    response = await client.get("/languages")
    assert response.status_code == 200
    languages = response.json()
    assert [language["code"] for language in languages] == ["en", "es", "fr", "de", "it", "pt"]
    assert languages[1] == {
        "id": languages[1]["id"],
        "code": "es",
        "name": "Spanish",
        "native_name": "Español",
        "flag_url": None,
    }


async def test_reads_carry_an_etag_and_answer_304_when_it_matches(client: Client, shipped_course: ImportResult) -> None:
    for path in ("/languages", "/courses?from=en&to=es", f"/courses/{shipped_course.course_id}"):
        first = await client.get(path)
        assert first.status_code == 200
        etag = first.headers["etag"]
        assert etag.startswith('"')
        assert "max-age" in first.headers["cache-control"]
        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert (await client.get(path, headers={"If-None-Match": f'W/{etag}, "other"'})).status_code == 304
        assert (await client.get(path, headers={"If-None-Match": '"stale"'})).status_code == 200


async def test_courses_are_filtered_by_language_pair(client: Client, shipped_course: ImportResult) -> None:
    courses = (await client.get("/courses", params={"from": "en", "to": "es"})).json()
    assert [course["id"] for course in courses] == [str(shipped_course.course_id)]
    assert courses[0] | {"id": None} == {
        "id": None,
        "key": "es-from-en",
        "from_language": "en",
        "to_language": "es",
        "name": DOCUMENT["name"],
        "description": DOCUMENT["description"],
        "difficulty_level": "beginner",
    }
    assert (await client.get("/courses", params={"from": "es", "to": "en"})).json() == []
    assert str(shipped_course.course_id) in {course["id"] for course in (await client.get("/courses")).json()}


async def test_course_tree_is_in_document_order_with_prerequisites(
    client: Client, shipped_course: ImportResult
) -> None:
    tree = await course_tree(client, shipped_course)
    assert [section["key"] for section in tree["sections"]] == [section["key"] for section in DOCUMENT["sections"]]
    units = [unit for section in tree["sections"] for unit in section["units"]]
    assert [unit["key"] for unit in units] == ["greetings", "people", "food", "family", "everyday"]
    assert units[0]["color"] == "#58CC02"
    lessons = tree_lessons(tree)
    expected = document_lessons()
    assert [lesson["key"] for lesson in lessons] == [lesson["key"] for lesson in expected]
    id_of = {lesson["key"]: lesson["id"] for lesson in lessons}
    for lesson, authored in zip(lessons, expected, strict=True):
        assert lesson["xp_reward"] == authored.get("xp_reward", 20)
        assert lesson["estimated_minutes"] == authored.get("estimated_minutes", 5)
        assert lesson["exercise_count"] == len(authored["exercises"])
        assert lesson["prerequisite_ids"] == [id_of[key] for key in authored["prerequisites"]]
    # Lessons unlock in order: each one after the first depends on the one before it.
    assert lessons[0]["prerequisite_ids"] == []
    for before, after in itertools.pairwise(lessons):
        assert after["prerequisite_ids"] == [before["id"]]


async def test_unknown_course_and_lesson_are_404_problems(client: Client) -> None:
    course_id, lesson_id, exercise_id = uuid4(), uuid4(), uuid4()
    for path, title, detail in (
        (f"/courses/{course_id}", "Course not found", f"No active course has the id {course_id}."),
        (f"/lessons/{lesson_id}", "Lesson not found", f"No active lesson has the id {lesson_id}."),
        (f"/exercises/{exercise_id}/audio", "No audio", f"Exercise {exercise_id} has no audio file."),
    ):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json() == {"status": 404, "title": title, "detail": detail}
        # A miss is cached as missing (test_content_cache.py): asked again, the same problem.
        assert (await client.get(path)).json() == response.json()
    assert (await client.get("/courses/not-a-uuid")).status_code in (400, 404)


async def test_lesson_lists_its_exercises_in_order_without_answers(
    client: Client, shipped_course: ImportResult, exercise_ids: dict[str, UUID]
) -> None:
    lesson_id = tree_lessons(await course_tree(client, shipped_course))[0]["id"]
    response = await client.get(f"/lessons/{lesson_id}")
    assert response.status_code == 200
    assert response.headers["etag"]
    lesson = response.json()
    authored = document_lessons()[0]
    assert lesson["name"] == authored["name"]
    assert lesson["course_id"] == str(shipped_course.course_id)
    assert [exercise["id"] for exercise in lesson["exercises"]] == [
        str(exercise_ids[entry["key"]]) for entry in authored["exercises"]
    ]
    hello, goodbye, good_morning = lesson["exercises"][:3]
    assert hello == {
        "id": hello["id"],
        "type": "translation",
        "prompt": "Hello",
        "hint": None,
        "difficulty_level": 1,
        "estimated_seconds": 20,
    }
    assert goodbye["type"] == "multiple_choice"
    assert sorted(option["text"] for option in goodbye["options"]) == ["Adiós", "Gracias", "Hola"]
    assert all(set(option) == {"id", "text"} for option in goodbye["options"])
    assert good_morning["hint"] == '"Días" has an accent on the í.'
    listening = next(exercise for exercise in lesson["exercises"] if exercise["type"] == "listening")
    assert [(audio["format"], audio["quality"]) for audio in listening["audio"]] == [
        ("mp3", "low"),
        ("mp3", "medium"),
        ("ogg", "high"),
    ]
    assert all(audio["url"].startswith("http://parla.test/media/audio/es-from-en/") for audio in listening["audio"])


async def test_lesson_etag_and_304(client: Client, shipped_course: ImportResult) -> None:
    lesson_id = tree_lessons(await course_tree(client, shipped_course))[3]["id"]
    first = await client.get(f"/lessons/{lesson_id}")
    again = await client.get(f"/lessons/{lesson_id}", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


async def test_audio_picks_the_best_match_with_fallback(client: Client, exercise_ids: dict[str, UUID]) -> None:
    exercise_id = exercise_ids["greetings-1-listen-hola"]

    async def fetch(**params: str) -> tuple[str, str, bytes]:
        response = await client.get(f"/exercises/{exercise_id}/audio", params=params)
        assert response.status_code == 200, response.text
        return response.headers["x-audio-format"], response.headers["x-audio-quality"], response.content

    fmt, quality, body = await fetch(format="ogg", quality="high")
    assert (fmt, quality) == ("ogg", "high")
    assert body.startswith(b"OggS")
    assert (await fetch(format="mp3", quality="low"))[:2] == ("mp3", "low")
    # No quality asked: medium. No format asked: the asked quality in any format.
    assert (await fetch())[:2] == ("mp3", "medium")
    assert (await fetch(quality="high"))[:2] == ("ogg", "high")
    # mp3 has no high recording: the nearest mp3 quality. ogg has no low one: the nearest ogg.
    assert (await fetch(format="mp3", quality="high"))[:2] == ("mp3", "medium")
    assert (await fetch(format="ogg", quality="low"))[:2] == ("ogg", "high")
    # Nobody has wav: the asked quality in another format.
    assert (await fetch(format="wav", quality="low"))[:2] == ("mp3", "low")
    body = (await fetch(format="mp3", quality="medium"))[2]
    assert body[:3] == b"ID3" or (body[0] == 0xFF and body[1] & 0xE0 == 0xE0)


async def test_audio_rejects_bad_parameters_and_exercises_without_audio(
    client: Client, exercise_ids: dict[str, UUID]
) -> None:
    listening = exercise_ids["greetings-1-listen-hola"]
    for params in ({"format": "flac"}, {"quality": "ultra"}):
        response = await client.get(f"/exercises/{listening}/audio", params=params)
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("application/problem+json")
    response = await client.get(f"/exercises/{exercise_ids['greetings-1-hello']}/audio")
    assert response.status_code == 404


async def check(client: Client, headers: dict[str, str], exercise_id: UUID, answer: str) -> dict[str, Any]:
    response = await client.post(f"/internal/exercises/{exercise_id}/check", json={"answer": answer}, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_check_grades_translations(
    client: Client, grader_headers: dict[str, str], exercise_ids: dict[str, UUID]
) -> None:
    good_morning = exercise_ids["greetings-1-good-morning"]
    assert await check(client, grader_headers, good_morning, "buenos días") == {
        "exercise_id": str(good_morning),
        "correct": True,
        "feedback": "exact",
        "correct_answer": "Buenos días",
        "message": None,
    }
    accent = await check(client, grader_headers, good_morning, "Buenos dias")
    assert (accent["correct"], accent["feedback"], accent["correct_answer"]) == (True, "accent", "Buenos días")
    assert "accent" in accent["message"]
    typo = await check(client, grader_headers, good_morning, "Buenos díaz")
    assert (typo["correct"], typo["feedback"]) == (True, "typo")
    wrong = await check(client, grader_headers, good_morning, "Buenas noches")
    assert (wrong["correct"], wrong["feedback"], wrong["correct_answer"]) == (False, "wrong", "Buenos días")
    # An alternative answer is correct too.
    alternative = await check(client, grader_headers, exercise_ids["greetings-1-gracias"], "thanks")
    assert (alternative["correct"], alternative["feedback"]) == (True, "exact")


async def test_check_grades_listening(
    client: Client, grader_headers: dict[str, str], exercise_ids: dict[str, UUID]
) -> None:
    listening = exercise_ids["greetings-1-listen-hola"]
    assert (await check(client, grader_headers, listening, "hola buenos días"))["correct"] is True
    assert (await check(client, grader_headers, listening, "hola"))["correct"] is False


async def test_check_grades_multiple_choice_by_option_id(
    client: Client, grader_headers: dict[str, str], exercise_ids: dict[str, UUID], db: asyncpg.Connection
) -> None:
    exercise_id = exercise_ids["greetings-1-mc-goodbye"]
    options = await db.fetch(
        "SELECT id, option_text, is_correct FROM exercise_options WHERE exercise_id = $1", exercise_id
    )
    right = next(option for option in options if option["is_correct"])
    wrong = next(option for option in options if not option["is_correct"])
    result = await check(client, grader_headers, exercise_id, str(right["id"]))
    assert (result["correct"], result["feedback"], result["correct_answer"]) == (True, "exact", "Adiós")
    result = await check(client, grader_headers, exercise_id, str(wrong["id"]))
    assert (result["correct"], result["correct_answer"]) == (False, "Adiós")
    # The option's text is not an option id.
    assert (await check(client, grader_headers, exercise_id, "Adiós"))["correct"] is False


async def test_check_needs_a_service_token_a_known_exercise_and_a_clean_body(
    client: Client, grader_headers: dict[str, str], exercise_ids: dict[str, UUID]
) -> None:
    exercise_id = exercise_ids["greetings-1-hello"]
    anonymous = await client.post(f"/internal/exercises/{exercise_id}/check", json={"answer": "Hola"})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    unknown = await client.post(f"/internal/exercises/{uuid4()}/check", json={"answer": "Hola"}, headers=grader_headers)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    extra = await client.post(
        f"/internal/exercises/{exercise_id}/check", json={"answer": "Hola", "x": 1}, headers=grader_headers
    )
    assert extra.status_code == 400
    missing = await client.post(f"/internal/exercises/{exercise_id}/check", json={}, headers=grader_headers)
    assert missing.status_code == 400
    with_learner = await client.post(
        f"/internal/exercises/{exercise_id}/check",
        json={"answer": "Hola", "learner_id": str(uuid4())},
        headers=grader_headers,
    )
    assert with_learner.status_code == 200


async def test_internal_grading_refuses_anything_but_progress_service_token(
    client: Client, make_token: Callable[..., str], signing_key: SigningKey, exercise_ids: dict[str, UUID]
) -> None:
    """A learner's (or an admin's) access token, a service token meant for another service, and a token of a service
    that has no business grading are all refused, as problem+json."""
    path = f"/internal/exercises/{exercise_ids['greetings-1-hello']}/check"
    refused = {
        "learner token": (bearer(make_token(uuid4())), 403),
        "admin token": (bearer(make_token(uuid4(), ("admin",))), 403),
        "service token for analytics": (bearer(signing_key.service_token("progress", "analytics")), 401),
        "service token for the platform audience": (bearer(signing_key.service_token("progress", "")), 401),
        "analytics' token for curriculum": (bearer(signing_key.service_token("analytics", "curriculum")), 403),
    }
    for name, (headers, status) in refused.items():
        response = await client.post(path, json={"answer": "Hola"}, headers=headers)
        assert response.status_code == status, name
        assert response.headers["content-type"].startswith("application/problem+json"), name
    # The service token opens no user's route either.
    progress_token = bearer(signing_key.service_token("progress", "curriculum"))
    assert (await client.post(path, json={"answer": "Hola"}, headers=progress_token)).status_code == 200
