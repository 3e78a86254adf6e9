"""Answer keys of the shipped Spanish course for the load tests (a leading ``_``: locust does not run this file).

The answers come from the course document (content/courses/es-from-en/course.yaml) — what the content team wrote,
not what the service would say — matched to the served lessons' exercises by position.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
COURSE_DOCUMENT = ROOT / "content/courses/es-from-en/course.yaml"
WRONG_TEXT = "zzz definitely not it"


def lesson_answers() -> dict[str, list[dict[str, Any]]]:
    """Each lesson key → its exercise entries of the document, in order (``use:`` references resolved)."""
    document = yaml.safe_load(COURSE_DOCUMENT.read_text(encoding="utf-8"))
    defined: dict[str, dict[str, Any]] = {}
    lessons: dict[str, list[dict[str, Any]]] = {}
    for section in document["sections"]:
        for unit in section["units"]:
            for lesson in unit["lessons"]:
                for entry in lesson["exercises"]:
                    if "key" in entry:
                        defined[entry["key"]] = entry
                lessons[lesson["key"]] = lesson["exercises"]
    return {key: [defined[str(e.get("use") or e["key"])] for e in entries] for key, entries in lessons.items()}


def correct_answer(exercise: dict[str, Any], source: dict[str, Any]) -> str:
    """The right answer to a served exercise: an option id for multiple choice, the text otherwise."""
    if exercise["type"] == "multiple_choice":
        text = next(option["text"] for option in source["options"] if option.get("correct"))
        return str(next(option["id"] for option in exercise["options"] if option["text"] == text))
    return str(source["answer"])


def wrong_answer(exercise: dict[str, Any], source: dict[str, Any]) -> str:
    if exercise["type"] == "multiple_choice":
        right = correct_answer(exercise, source)
        return str(next(option["id"] for option in exercise["options"] if str(option["id"]) != right))
    return WRONG_TEXT


@dataclass
class CourseKey:
    """A served course: its id, its lessons in order and, for every exercise, ``(right, wrong)`` answers."""

    id: str
    lesson_ids: list[str]
    answers: dict[str, tuple[str, str]]


def course_answer_key(host: str, from_language: str = "en", to_language: str = "es") -> CourseKey:
    """Read once over HTTP (public endpoints) and matched with the course document."""
    answers = lesson_answers()
    key = CourseKey(id="", lesson_ids=[], answers={})
    with httpx.Client(base_url=host, timeout=30) as client:
        courses = client.get("/api/curriculum/courses", params={"from": from_language, "to": to_language})
        courses.raise_for_status()
        key.id = str(courses.json()[0]["id"])
        tree = client.get(f"/api/curriculum/courses/{key.id}")
        tree.raise_for_status()
        for section in tree.json()["sections"]:
            for unit in section["units"]:
                for lesson in unit["lessons"]:
                    key.lesson_ids.append(str(lesson["id"]))
                    content = client.get(f"/api/curriculum/lessons/{lesson['id']}")
                    content.raise_for_status()
                    served = content.json()
                    for exercise, source in zip(served["exercises"], answers[served["key"]], strict=True):
                        right, wrong = correct_answer(exercise, source), wrong_answer(exercise, source)
                        key.answers[str(exercise["id"])] = (right, wrong)
    return key


def register_learners(host: str, prefix: str, count: int, password: str) -> list[str]:
    """``count`` new accounts (``<prefix>-<run>-<n>@example.com``) registered through the gateway before a run's
    clock starts (registration, bcrypt, is not what the load tests measure); their emails."""
    run = uuid.uuid4().hex[:8]
    emails = []
    with httpx.Client(base_url=host, timeout=60) as client:
        for n in range(count):
            email = f"{prefix}-{run}-{n}@example.com"
            response = client.post(
                "/api/identity/auth/register", json={"email": email, "password": password, "name": f"{prefix} {n}"}
            )
            response.raise_for_status()
            emails.append(email)
    return emails
