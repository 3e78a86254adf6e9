"""The course document (``format: parla-course/1``, content/README.md): its shape, its limits, and the reader
that collects every problem at once, each named by its path in the document
(``sections[0].units[2].lessons[1].exercises[3].options: exactly one option must be correct``), so an author fixes
a file in one round. Pure: no database, no files (audio files are checked by the import).

- ``document_reading``: YAML text to a checked ``CourseDocument``.
- ``document_checks``: keys unique, references resolved, prerequisites without cycles.
- ``document_writing``: a ``CourseDocument`` back to YAML (what export writes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

FORMAT = "parla-course/1"
KEY_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
COLOR_PATTERN = re.compile(r"^#[0-9A-Fa-f]{6}$")
DIFFICULTY_LEVELS = ("beginner", "intermediate", "advanced")
CEFR_LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")
EXERCISE_TYPES = ("translation", "multiple_choice", "listening")
AUDIO_FORMATS = ("mp3", "wav", "ogg")
AUDIO_QUALITIES = ("low", "medium", "high")
REQUIRED_QUALITIES = ("low", "high")
# The VARCHAR limits of migration 0002_content.
MAX_KEY_LENGTH = 100
MAX_NAME_LENGTH = 255
MAX_URL_LENGTH = 500


@dataclass(frozen=True)
class DocumentError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class DocumentInvalidError(ValueError):
    def __init__(self, errors: list[DocumentError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


@dataclass
class DocAudio:
    file: str
    format: str
    quality: str
    path: str = ""


@dataclass
class DocOption:
    text: str
    correct: bool


@dataclass
class DocExercise:
    key: str
    type: str
    prompt: str
    answer: str | None = None
    alternatives: list[str] = field(default_factory=list)
    explanation: str | None = None
    hint: str | None = None
    difficulty_level: int = 1
    estimated_seconds: int = 30
    metadata: dict[str, Any] | None = None
    options: list[DocOption] = field(default_factory=list)
    audio: list[DocAudio] = field(default_factory=list)
    path: str = ""


@dataclass
class DocUse:
    use: str
    path: str = ""


@dataclass
class DocLesson:
    key: str
    name: str
    description: str | None
    xp_reward: int
    estimated_minutes: int
    prerequisites: list[str]
    entries: list[DocExercise | DocUse]
    path: str = ""


@dataclass
class DocUnit:
    key: str
    name: str
    description: str | None
    color: str | None
    icon_url: str | None
    lessons: list[DocLesson]


@dataclass
class DocSection:
    key: str
    name: str
    description: str | None
    cefr_level: str | None
    units: list[DocUnit]


@dataclass
class CourseDocument:
    key: str
    from_language: str
    to_language: str
    name: str
    description: str | None
    difficulty_level: str
    sections: list[DocSection]

    def lessons(self) -> list[DocLesson]:
        return [lesson for section in self.sections for unit in section.units for lesson in unit.lessons]

    def units(self) -> list[DocUnit]:
        return [unit for section in self.sections for unit in section.units]

    def exercises(self) -> list[DocExercise]:
        return [entry for lesson in self.lessons() for entry in lesson.entries if isinstance(entry, DocExercise)]


class Reader:
    """Reads typed fields out of mappings, recording an error (with its path) for each bad one."""

    def __init__(self) -> None:
        self.errors: list[DocumentError] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(DocumentError(path, message))

    def mapping(self, value: Any, path: str, allowed: set[str], required: set[str]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.error(path, "must be a mapping")
            return None
        for name in sorted(set(value) - allowed, key=str):
            self.error(join_path(path, str(name)), "unknown field")
        for name in sorted(required - set(value)):
            self.error(join_path(path, name), "is required")
        return value

    def text(
        self, data: dict[str, Any], name: str, path: str, *, required: bool = True, max_length: int | None = None
    ) -> str | None:
        """``max_length`` is the column's (VARCHAR) limit: a longer value would fail the import's insert."""
        value = data.get(name)
        if value is None:
            if required and name in data:
                self.error(join_path(path, name), "is required")
            return None
        if not isinstance(value, str):
            self.error(join_path(path, name), "must be a string")
            return None
        if required and not value.strip():
            self.error(join_path(path, name), "must not be empty")
        if max_length is not None and len(value) > max_length:
            self.error(join_path(path, name), f"must be at most {max_length} characters")
        return value

    def key(self, data: dict[str, Any], path: str, name: str = "key") -> str:
        value = self.text(data, name, path, max_length=MAX_KEY_LENGTH)
        if value is not None and not KEY_PATTERN.match(value):
            self.error(join_path(path, name), f"{value!r} is not a key (lowercase letters, digits and single hyphens)")
        return value or ""

    def integer(self, data: dict[str, Any], name: str, path: str, default: int, *, low: int, high: int) -> int:
        value = data.get(name, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(join_path(path, name), "must be an integer")
            return default
        if not low <= value <= high:
            self.error(join_path(path, name), f"must be between {low} and {high}")
        return value

    def choice(self, data: dict[str, Any], name: str, path: str, choices: tuple[str, ...]) -> str | None:
        value = data.get(name)
        if value is None:
            return None
        if value not in choices:
            self.error(join_path(path, name), f"must be one of {', '.join(choices)}")
            return None
        return str(value)

    def items(self, data: dict[str, Any], name: str, path: str, *, non_empty: bool = True) -> list[Any]:
        value = data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(join_path(path, name), "must be a list")
            return []
        if non_empty and not value:
            self.error(join_path(path, name), "must not be empty")
        return value


def join_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
