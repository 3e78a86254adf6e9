"""The curriculum API through the Caddy gateway, on the Spanish course the platform's seed imported."""

from __future__ import annotations

import io
import itertools
from typing import Any

import httpx
import mutagen
import pytest

API = "/api/curriculum"


@pytest.fixture(scope="module")
def course(gateway: httpx.Client) -> dict[str, Any]:
    courses = gateway.get(f"{API}/courses", params={"from": "en", "to": "es"})
    assert courses.status_code == 200
    [summary] = courses.json()
    tree = gateway.get(f"{API}/courses/{summary['id']}")
    assert tree.status_code == 200
    return tree.json()  # type: ignore[no-any-return]


def lessons_of(course: dict[str, Any]) -> list[dict[str, Any]]:
    return [lesson for section in course["sections"] for unit in section["units"] for lesson in unit["lessons"]]


def test_languages_through_the_gateway(gateway: httpx.Client) -> None:
    response = gateway.get(f"{API}/languages")
    assert response.status_code == 200
    assert {language["code"] for language in response.json()} == {"en", "es", "fr", "de", "it", "pt"}
    assert response.headers["etag"]


def test_seeded_course_tree_through_the_gateway(course: dict[str, Any]) -> None:
    assert course["key"] == "es-from-en"
    assert [unit["key"] for unit in course["sections"][0]["units"]] == [
        "greetings",
        "people",
        "food",
        "family",
        "everyday",
    ]
    lessons = lessons_of(course)
    assert len(lessons) == 16
    assert lessons[0]["prerequisite_ids"] == []
    assert all(lesson["prerequisite_ids"] == [before["id"]] for before, lesson in itertools.pairwise(lessons))


def test_lesson_and_its_audio_through_the_gateway(gateway: httpx.Client, course: dict[str, Any]) -> None:
    response = gateway.get(f"{API}/lessons/{lessons_of(course)[0]['id']}")
    assert response.status_code == 200
    assert gateway.get(response.url, headers={"If-None-Match": response.headers["etag"]}).status_code == 304
    lesson = response.json()
    assert "correct_answer" not in response.text
    listening = [exercise for exercise in lesson["exercises"] if exercise["type"] == "listening"]
    assert listening
    for audio in listening[0]["audio"]:
        url = httpx.URL(audio["url"])
        assert url.path.startswith("/media/audio/")
        media = gateway.get(url.path)  # the URL names the gateway (PARLA_PUBLIC_URL)
        assert media.status_code == 200
        body = media.content
        if audio["format"] == "mp3":  # an ID3 tag or an MPEG frame sync
            assert body.startswith(b"ID3") or (body[0] == 0xFF and body[1] & 0xE0 == 0xE0)
        else:
            assert body.startswith(b"OggS")
        assert mutagen.File(io.BytesIO(body)) is not None
    best = gateway.get(f"{API}/exercises/{listening[0]['id']}/audio", params={"format": "ogg", "quality": "high"})
    assert best.status_code == 200
    assert best.content.startswith(b"OggS")


def test_grading_is_internal_and_import_is_for_admins(gateway: httpx.Client, course: dict[str, Any]) -> None:
    lesson = gateway.get(f"{API}/lessons/{lessons_of(course)[0]['id']}").json()
    exercise_id = lesson["exercises"][0]["id"]
    hidden = gateway.post(f"{API}/internal/exercises/{exercise_id}/check", json={"answer": "Hola"})
    assert hidden.status_code == 404
    anonymous = gateway.post(
        f"{API}/admin/courses/import", content=b"format: parla-course/1", headers={"Content-Type": "application/yaml"}
    )
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
