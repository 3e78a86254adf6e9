"""The course document validator (pure): every problem reported with its path, cycles named, round trip."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from parla_curriculum.domain.document import DocExercise, DocumentInvalidError
from parla_curriculum.domain.document_checks import find_cycles
from parla_curriculum.domain.document_reading import load_text, parse_document
from parla_curriculum.domain.document_writing import dump_document, to_data

SHIPPED = Path(__file__).resolve().parents[4] / "content/courses/es-from-en/course.yaml"


def minimal() -> dict[str, Any]:
    return {
        "format": "parla-course/1",
        "key": "xx-from-en",
        "from_language": "en",
        "to_language": "es",
        "name": "Test",
        "difficulty_level": "beginner",
        "sections": [
            {
                "key": "s",
                "name": "S",
                "units": [
                    {
                        "key": "u",
                        "name": "U",
                        "lessons": [
                            {
                                "key": "l-1",
                                "name": "L1",
                                "prerequisites": [],
                                "exercises": [
                                    {"key": "e-1", "type": "translation", "prompt": "Hello", "answer": "Hola"}
                                ],
                            },
                            {
                                "key": "l-2",
                                "name": "L2",
                                "prerequisites": ["l-1"],
                                "exercises": [
                                    {
                                        "key": "e-2",
                                        "type": "multiple_choice",
                                        "prompt": "?",
                                        "options": [{"text": "a", "correct": True}, {"text": "b"}, {"text": "c"}],
                                    },
                                    {"use": "e-1"},
                                ],
                            },
                        ],
                    }
                ],
            }
        ],
    }


def errors_of(document: Any) -> list[str]:
    with pytest.raises(DocumentInvalidError) as raised:
        parse_document(document)
    return [str(error) for error in raised.value.errors]


def test_the_shipped_course_is_valid_and_round_trips() -> None:
    document = parse_document(load_text(SHIPPED.read_text(encoding="utf-8")))
    assert len(document.lessons()) == 16
    assert len(document.exercises()) == 148
    assert to_data(parse_document(load_text(dump_document(document)))) == to_data(document)


def test_the_shipped_course_follows_the_authoring_conventions() -> None:
    """content/README.md: 5 units of at least 3 lessons, 8-12 entries mixing the types with at least one
    listening exercise, and each lesson unlocked by the one before it."""
    document = parse_document(load_text(SHIPPED.read_text(encoding="utf-8")))
    exercises = {exercise.key: exercise for exercise in document.exercises()}
    assert len(document.units()) == 5
    assert all(len(unit.lessons) >= 3 for unit in document.units())
    previous = None
    for lesson in document.lessons():
        assert 8 <= len(lesson.entries) <= 12, lesson.key
        keys = [entry.key if isinstance(entry, DocExercise) else entry.use for entry in lesson.entries]
        types = {exercises[key].type for key in keys}
        assert types == {"translation", "multiple_choice", "listening"}, lesson.key
        assert lesson.prerequisites == ([] if previous is None else [previous]), lesson.key
        previous = lesson.key
    for exercise in exercises.values():
        if exercise.type == "translation":
            assert exercise.metadata is not None, exercise.key
            assert {exercise.metadata["source_language"], exercise.metadata["target_language"]} == {"en", "es"}
        if exercise.type == "listening":
            assert {(audio.format, audio.quality) for audio in exercise.audio} == {
                ("mp3", "low"),
                ("mp3", "medium"),
                ("ogg", "high"),
            }
            for audio in exercise.audio:
                assert (SHIPPED.parent / audio.file).is_file(), audio.file


def test_a_minimal_document_parses_with_defaults() -> None:
    document = parse_document(minimal())
    first, second = document.lessons()
    assert (first.xp_reward, first.estimated_minutes) == (20, 5)
    assert second.prerequisites == ["l-1"]
    assert [exercise.key for exercise in document.exercises()] == ["e-1", "e-2"]


def test_a_cycle_through_three_lessons_is_named() -> None:
    document = minimal()
    lessons = document["sections"][0]["units"][0]["lessons"]
    lessons.append({"key": "l-3", "name": "L3", "prerequisites": ["l-2"], "exercises": [{"use": "e-2"}]})
    lessons[0]["prerequisites"] = ["l-3"]
    assert errors_of(document) == [
        "sections[0].units[0].lessons[0].prerequisites: prerequisite cycle between lessons: l-1 → l-3 → l-2 → l-1"
    ]


def test_a_lesson_cannot_depend_on_itself() -> None:
    document = minimal()
    document["sections"][0]["units"][0]["lessons"][0]["prerequisites"] = ["l-1"]
    assert errors_of(document) == [
        "sections[0].units[0].lessons[0].prerequisites[0]: lesson 'l-1' cannot depend on itself"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(lambda d: d.update(format="parla-course/2"), "format: must be 'parla-course/1'", id="format"),
        pytest.param(lambda d: d.pop("name"), "name: is required", id="missing-name"),
        pytest.param(
            lambda d: d.update(difficulty_level="easy"),
            "difficulty_level: must be one of beginner, intermediate, advanced",
            id="difficulty",
        ),
        pytest.param(
            lambda d: d["sections"][0]["units"][0]["lessons"][1]["exercises"][0]["options"].pop(),
            "sections[0].units[0].lessons[1].exercises[0].options: must have 3 or 4 options",
            id="options",
        ),
        pytest.param(
            lambda d: d["sections"][0]["units"][0]["lessons"][1]["exercises"][0]["options"][0].pop("correct"),
            "sections[0].units[0].lessons[1].exercises[0].options: exactly one option must be correct",
            id="no-correct-option",
        ),
        pytest.param(
            lambda d: d["sections"][0]["units"][0]["lessons"][0]["exercises"].append({"use": "e-1"}),
            [
                "sections[0].units[0].lessons[0].exercises[1].use: 'e-1' is defined in this same lesson",
                "sections[0].units[0].lessons[0].exercises[1]: exercise 'e-1' appears twice in the lesson",
            ],
            id="reuse-in-same-lesson",
        ),
        pytest.param(
            lambda d: d["sections"][0]["units"][0]["lessons"][1]["exercises"].append({"use": "e-1"}),
            "sections[0].units[0].lessons[1].exercises[2]: exercise 'e-1' appears twice in the lesson",
            id="twice-in-lesson",
        ),
        pytest.param(
            lambda d: d["sections"][0]["units"][0]["lessons"][1]["exercises"][0].update(key="e-1"),
            [
                "sections[0].units[0].lessons[1].exercises[0].key: exercise key 'e-1' is already used at "
                "sections[0].units[0].lessons[0].exercises[0]",
                "sections[0].units[0].lessons[1].exercises[1].use: 'e-1' is defined in this same lesson",
                "sections[0].units[0].lessons[1].exercises[1]: exercise 'e-1' appears twice in the lesson",
            ],
            id="duplicate-exercise-key",
        ),
        pytest.param(
            lambda d: d["sections"][0]["units"][0]["lessons"][0]["exercises"][0].update(type="speaking"),
            [
                "sections[0].units[0].lessons[0].exercises[0].type: must be one of translation, multiple_choice, "
                "listening",
                "sections[0].units[0].lessons[1].exercises[1].use: no exercise of the course is defined with key 'e-1'",
            ],
            id="type",
        ),
        pytest.param(
            lambda d: d["sections"][0]["units"][0]["lessons"][0]["exercises"][0].update(difficulty_level=9),
            "sections[0].units[0].lessons[0].exercises[0].difficulty_level: must be between 1 and 5",
            id="difficulty-level",
        ),
        pytest.param(
            lambda d: d["sections"][0]["units"][0].update(color="#12345"),
            'sections[0].units[0].color: must be a hex colour "#RRGGBB" (quote it in YAML)',
            id="color",
        ),
        pytest.param(
            lambda d: d["sections"][0]["units"][0]["lessons"][0]["exercises"][0].update(
                type="listening", audio=[{"file": "audio/x-low.mp3", "format": "mp3", "quality": "low"}]
            ),
            "sections[0].units[0].lessons[0].exercises[0].audio: needs a recording in high quality",
            id="audio-qualities",
        ),
        pytest.param(
            lambda d: d["sections"][0]["units"][0]["lessons"][0]["exercises"][0].update(
                type="listening",
                audio=[
                    {"file": "audio/x-low.ogg", "format": "mp3", "quality": "low"},
                    {"file": "audio/x-high.ogg", "format": "ogg", "quality": "high"},
                ],
            ),
            "sections[0].units[0].lessons[0].exercises[0].audio[0].file: must end in .mp3 (its format)",
            id="audio-extension",
        ),
    ],
)
def test_each_problem_is_reported_with_its_path(change: Any, expected: str | list[str]) -> None:
    document = copy.deepcopy(minimal())
    change(document)
    assert errors_of(document) == (expected if isinstance(expected, list) else [expected])


def test_all_problems_are_reported_at_once() -> None:
    document = minimal()
    document["key"] = "Bad Key"
    document["sections"][0]["units"][0]["lessons"][0]["exercises"][0]["answer"] = ""
    document["sections"][0]["units"][0]["lessons"][1]["prerequisites"] = ["nope"]
    assert errors_of(document) == [
        "key: 'Bad Key' is not a key (lowercase letters, digits and single hyphens)",
        "sections[0].units[0].lessons[0].exercises[0].answer: must not be empty",
        "sections[0].units[0].lessons[1].prerequisites[0]: no lesson of the course has the key 'nope'",
    ]


def test_not_yaml_and_not_a_mapping() -> None:
    with pytest.raises(DocumentInvalidError, match="not valid YAML"):
        load_text("key: [")
    assert errors_of(yaml.safe_load("- a list")) == ["must be a mapping"]


def test_find_cycles() -> None:
    assert find_cycles({"a": ["b"], "b": ["c"], "c": []}) == []
    assert find_cycles({"a": ["b"], "b": ["a"], "c": ["c"]}) == [["a", "b"], ["c"]]


def test_a_long_chain_of_prerequisites_is_checked() -> None:
    """A big course where every lesson unlocks the next (our convention) is deeper than Python's recursion."""
    lessons = [
        {
            "key": f"l-{index}",
            "name": f"L{index}",
            "prerequisites": [f"l-{index - 1}"] if index else [],
            "exercises": [{"key": f"e-{index}", "type": "translation", "prompt": "Hello", "answer": "Hola"}],
        }
        for index in range(3000)
    ]
    document = minimal()
    document["sections"][0]["units"] = [{"key": "u", "name": "U", "lessons": lessons}]
    assert len(parse_document(document).lessons()) == 3000
    lessons[0]["prerequisites"] = ["l-2999"]
    with pytest.raises(DocumentInvalidError) as raised:
        parse_document(document)
    [error] = raised.value.errors
    assert error.path == "sections[0].units[0].lessons[0].prerequisites"
    assert error.message.startswith("prerequisite cycle between lessons: l-0 → l-2999 → l-2998")
    assert error.message.endswith("l-1 → l-0")


def test_metadata_is_kept_as_json() -> None:
    document = minimal()
    exercise = document["sections"][0]["units"][0]["lessons"][0]["exercises"][0]
    exercise["metadata"] = load_text("{added: 2024-05-01, 7: seven}")
    assert parse_document(document).exercises()[0].metadata == {"added": "2024-05-01", "7": "seven"}
    exercise["metadata"] = load_text("{yes: 1}")  # YAML 1.1 reads `yes` as true: JSON has no bool keys
    with pytest.raises(DocumentInvalidError) as raised:
        parse_document(document)
    assert [error.path for error in raised.value.errors] == ["sections[0].units[0].lessons[0].exercises[0].metadata"]
