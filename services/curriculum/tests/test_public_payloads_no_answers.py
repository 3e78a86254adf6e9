"""Walks every lesson of the shipped course: no answer material in any public payload, and every listening
exercise's audio downloads and really is its declared format."""

from __future__ import annotations

import io
import json
import unicodedata
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import mutagen
from conftest import Client

from parla_curriculum.use_cases.course_import import ImportResult

ANSWER_FIELDS = {
    "correct_answer",
    "alternative_answers",
    "alternatives",
    "answer",
    "is_correct",
    "correct",
    "explanation",
}


def fold(text: str) -> str:
    return " ".join(
        "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum() or c.isspace()).split()
    )


def pairs(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from pairs(item)
    elif isinstance(value, list):
        for item in value:
            yield from pairs(item)


async def all_lessons(client: Client, course_id: UUID) -> list[dict[str, Any]]:
    tree = (await client.get(f"/courses/{course_id}")).json()
    lesson_ids = [
        lesson["id"] for section in tree["sections"] for unit in section["units"] for lesson in unit["lessons"]
    ]
    lessons = []
    for lesson_id in lesson_ids:
        response = await client.get(f"/lessons/{lesson_id}")
        assert response.status_code == 200
        lessons.append(response.json())
    return lessons


async def test_no_public_payload_carries_answer_material(
    client: Client, shipped_course: ImportResult, db: asyncpg.Connection
) -> None:
    answers = {
        row["id"]: row
        for row in await db.fetch(
            "SELECT e.id, t.name AS type, e.correct_answer, e.alternative_answers, e.explanation "
            "FROM exercises e JOIN exercise_types t ON t.id = e.exercise_type_id WHERE e.course_id = $1",
            shipped_course.course_id,
        )
    }
    lessons = await all_lessons(client, shipped_course.course_id)
    assert len(lessons) == 16
    seen = 0
    for lesson in lessons:
        for key, _ in pairs(lesson):
            assert key not in ANSWER_FIELDS, f"lesson {lesson['key']} carries {key!r}"
        for exercise in lesson["exercises"]:
            seen += 1
            stored = answers[UUID(exercise["id"])]
            if stored["type"] == "multiple_choice":
                continue  # the right option is among the options by nature; which one is never said
            accepted = [stored["correct_answer"], *json.loads(stored["alternative_answers"] or "[]")]
            secrets = {fold(text) for text in accepted}
            for key, value in pairs(exercise):
                if isinstance(value, str):
                    assert fold(value) not in secrets, f"exercise {exercise['id']}: {key} gives the answer"
                    # Nor spelled as a slug, e.g. in a file name.
                    for secret in secrets:
                        assert secret.replace(" ", "-") not in value.casefold(), f"{key} spells the answer"
            if stored["explanation"]:
                assert stored["explanation"] not in str(exercise)
    assert seen == 165  # every placement, reuse entries included


async def test_multiple_choice_options_do_not_give_the_answer_away_by_order(
    client: Client, shipped_course: ImportResult, db: asyncpg.Connection
) -> None:
    correct = {row["id"] for row in await db.fetch("SELECT id FROM exercise_options WHERE is_correct")}
    positions = []
    for lesson in await all_lessons(client, shipped_course.course_id):
        for exercise in lesson["exercises"]:
            if exercise["type"] == "multiple_choice":
                ids = [UUID(option["id"]) for option in exercise["options"]]
                positions.append(next(index for index, option_id in enumerate(ids) if option_id in correct))
                # Neither the smallest nor the largest id marks the right option systematically.
    assert len(set(positions)) > 1, "the right option is always at the same position"


def assert_is_format(body: bytes, declared: str) -> None:
    if declared == "mp3":
        assert body[:3] == b"ID3" or (body[0] == 0xFF and body[1] & 0xE0 == 0xE0)
    elif declared == "ogg":
        assert body[:4] == b"OggS"
    else:
        assert body[:4] == b"RIFF"
        assert body[8:12] == b"WAVE"
    parsed = mutagen.File(io.BytesIO(body))
    assert parsed is not None, f"mutagen cannot read the {declared} file"
    assert parsed.info.length > 0


async def test_every_listening_exercise_has_playable_audio_in_its_declared_formats(
    client: Client, shipped_course: ImportResult, db: asyncpg.Connection
) -> None:
    checked: set[str] = set()
    for lesson in await all_lessons(client, shipped_course.course_id):
        for exercise in lesson["exercises"]:
            if exercise["type"] != "listening" or exercise["id"] in checked:
                continue
            checked.add(exercise["id"])
            qualities = {audio["quality"] for audio in exercise["audio"]}
            assert {"low", "high"} <= qualities
            for audio in exercise["audio"]:
                response = await client.get(
                    f"/exercises/{exercise['id']}/audio",
                    params={"format": audio["format"], "quality": audio["quality"]},
                )
                assert response.status_code == 200
                assert response.headers["x-audio-format"] == audio["format"]
                assert response.headers["x-audio-quality"] == audio["quality"]
                assert_is_format(response.content, audio["format"])
                # The URL in the payload names the same stored file.
                path = httpx.URL(audio["url"]).path.removeprefix("/media/")
                stored = await db.fetchrow(
                    "SELECT file_size_bytes, sample_rate, bit_rate, duration_seconds FROM audio_files "
                    "WHERE file_path = $1",
                    path,
                )
                assert stored is not None
                assert stored["file_size_bytes"] == len(response.content)
                assert stored["sample_rate"] >= 16000
                assert stored["bit_rate"] > 0
                assert stored["duration_seconds"] >= 1
    assert len(checked) == 30  # 30 listening exercises, 90 recordings
