"""A course document written as YAML in the format's field order (what export writes)."""

from __future__ import annotations

from typing import Any

import yaml

from parla_curriculum.domain.document import (
    FORMAT,
    CourseDocument,
    DocExercise,
    DocUse,
)


def dump_document(course: CourseDocument) -> str:
    """The document as YAML in the format's field order (what export writes)."""
    return yaml.safe_dump(to_data(course), allow_unicode=True, sort_keys=False, width=110)


def to_data(course: CourseDocument) -> dict[str, Any]:
    def exercise_data(exercise: DocExercise) -> dict[str, Any]:
        data: dict[str, Any] = {"key": exercise.key, "type": exercise.type, "prompt": exercise.prompt}
        if exercise.answer is not None:
            data["answer"] = exercise.answer
        if exercise.alternatives:
            data["alternatives"] = list(exercise.alternatives)
        if exercise.options:
            data["options"] = [
                {"text": option.text, "correct": True} if option.correct else {"text": option.text}
                for option in exercise.options
            ]
        for name in ("explanation", "hint"):
            if getattr(exercise, name) is not None:
                data[name] = getattr(exercise, name)
        data["difficulty_level"] = exercise.difficulty_level
        data["estimated_seconds"] = exercise.estimated_seconds
        if exercise.metadata is not None:
            data["metadata"] = exercise.metadata
        if exercise.audio:
            data["audio"] = [
                {"file": audio.file, "format": audio.format, "quality": audio.quality} for audio in exercise.audio
            ]
        return data

    def optional(**values: Any) -> dict[str, Any]:
        return {name: value for name, value in values.items() if value is not None}

    return {
        "format": FORMAT,
        "key": course.key,
        "from_language": course.from_language,
        "to_language": course.to_language,
        "name": course.name,
        **optional(description=course.description),
        "difficulty_level": course.difficulty_level,
        "sections": [
            {
                "key": section.key,
                "name": section.name,
                **optional(description=section.description, cefr_level=section.cefr_level),
                "units": [
                    {
                        "key": unit.key,
                        "name": unit.name,
                        **optional(description=unit.description, color=unit.color, icon_url=unit.icon_url),
                        "lessons": [
                            {
                                "key": lesson.key,
                                "name": lesson.name,
                                **optional(description=lesson.description),
                                "xp_reward": lesson.xp_reward,
                                "estimated_minutes": lesson.estimated_minutes,
                                "prerequisites": list(lesson.prerequisites),
                                "exercises": [
                                    {"use": entry.use} if isinstance(entry, DocUse) else exercise_data(entry)
                                    for entry in lesson.entries
                                ],
                            }
                            for lesson in unit.lessons
                        ],
                    }
                    for unit in section.units
                ],
            }
            for section in course.sections
        ],
    }
