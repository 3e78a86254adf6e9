"""The course document (``format: parla-course/1``, content/README.md): parsing, validation and writing.

Validation collects every problem at once, each named by its path in the document
(``sections[0].units[2].lessons[1].exercises[3].options: exactly one option must be correct``), so an
author fixes a file in one round. Pure: no database, no files (audio files are checked by the importer).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import yaml

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


class _Reader:
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
            self.error(_join(path, str(name)), "unknown field")
        for name in sorted(required - set(value)):
            self.error(_join(path, name), "is required")
        return value

    def text(
        self, data: dict[str, Any], name: str, path: str, *, required: bool = True, max_length: int | None = None
    ) -> str | None:
        """``max_length`` is the column's (VARCHAR) limit: a longer value would fail the import's insert."""
        value = data.get(name)
        if value is None:
            if required and name in data:
                self.error(_join(path, name), "is required")
            return None
        if not isinstance(value, str):
            self.error(_join(path, name), "must be a string")
            return None
        if required and not value.strip():
            self.error(_join(path, name), "must not be empty")
        if max_length is not None and len(value) > max_length:
            self.error(_join(path, name), f"must be at most {max_length} characters")
        return value

    def key(self, data: dict[str, Any], path: str, name: str = "key") -> str:
        value = self.text(data, name, path, max_length=MAX_KEY_LENGTH)
        if value is not None and not KEY_PATTERN.match(value):
            self.error(_join(path, name), f"{value!r} is not a key (lowercase letters, digits and single hyphens)")
        return value or ""

    def integer(self, data: dict[str, Any], name: str, path: str, default: int, *, low: int, high: int) -> int:
        value = data.get(name, default)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(_join(path, name), "must be an integer")
            return default
        if not low <= value <= high:
            self.error(_join(path, name), f"must be between {low} and {high}")
        return value

    def choice(self, data: dict[str, Any], name: str, path: str, choices: tuple[str, ...]) -> str | None:
        value = data.get(name)
        if value is None:
            return None
        if value not in choices:
            self.error(_join(path, name), f"must be one of {', '.join(choices)}")
            return None
        return str(value)

    def items(self, data: dict[str, Any], name: str, path: str, *, non_empty: bool = True) -> list[Any]:
        value = data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(_join(path, name), "must be a list")
            return []
        if non_empty and not value:
            self.error(_join(path, name), "must not be empty")
        return value


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def load_text(source: str) -> Any:
    """A YAML (or JSON, a subset of YAML) document's data."""
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        raise DocumentInvalidError([DocumentError("", f"not valid YAML: {exc}")]) from exc
    if not _is_unicode(data):
        # An escape such as "\ud800" decodes to half a surrogate pair: no text, and no answer could quote it.
        raise DocumentInvalidError([DocumentError("", "holds an escape that is not a Unicode character")])
    return data


def _is_unicode(data: Any) -> bool:
    """Every string of the loaded data (keys too) is real Unicode text (encodes as UTF-8), without recursion."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


def parse_document(data: Any) -> CourseDocument:
    """Validate a loaded document; raises DocumentInvalidError listing every problem."""
    reader = _Reader()
    top = reader.mapping(
        data,
        "",
        {"format", "key", "from_language", "to_language", "name", "description", "difficulty_level", "sections"},
        {"format", "key", "from_language", "to_language", "name", "difficulty_level", "sections"},
    )
    if top is None:
        raise DocumentInvalidError(reader.errors)
    if "format" in top and top["format"] != FORMAT:
        reader.error("format", f"must be {FORMAT!r}")
    from_language = reader.text(top, "from_language", "") or ""
    to_language = reader.text(top, "to_language", "") or ""
    if from_language and from_language == to_language:
        reader.error("to_language", "must differ from from_language")
    course = CourseDocument(
        key=reader.key(top, ""),
        from_language=from_language,
        to_language=to_language,
        name=reader.text(top, "name", "", max_length=MAX_NAME_LENGTH) or "",
        description=reader.text(top, "description", "", required=False),
        difficulty_level=reader.choice(top, "difficulty_level", "", DIFFICULTY_LEVELS) or "beginner",
        sections=[],
    )
    for section_index, raw_section in enumerate(reader.items(top, "sections", "")):
        section_path = f"sections[{section_index}]"
        section_data = reader.mapping(
            raw_section, section_path, {"key", "name", "description", "cefr_level", "units"}, {"key", "name", "units"}
        )
        if section_data is None:
            continue
        section = DocSection(
            key=reader.key(section_data, section_path),
            name=reader.text(section_data, "name", section_path, max_length=MAX_NAME_LENGTH) or "",
            description=reader.text(section_data, "description", section_path, required=False),
            cefr_level=reader.choice(section_data, "cefr_level", section_path, CEFR_LEVELS),
            units=[],
        )
        course.sections.append(section)
        for unit_index, raw_unit in enumerate(reader.items(section_data, "units", section_path)):
            unit_path = f"{section_path}.units[{unit_index}]"
            unit = _parse_unit(reader, raw_unit, unit_path)
            if unit is not None:
                section.units.append(unit)
    _check_references(reader, course)
    if reader.errors:
        raise DocumentInvalidError(reader.errors)
    return course


def _parse_unit(reader: _Reader, raw: Any, path: str) -> DocUnit | None:
    data = reader.mapping(
        raw, path, {"key", "name", "description", "color", "icon_url", "lessons"}, {"key", "name", "lessons"}
    )
    if data is None:
        return None
    color = reader.text(data, "color", path, required=False)
    if color is not None and not COLOR_PATTERN.match(color):
        reader.error(f"{path}.color", 'must be a hex colour "#RRGGBB" (quote it in YAML)')
    unit = DocUnit(
        key=reader.key(data, path),
        name=reader.text(data, "name", path, max_length=MAX_NAME_LENGTH) or "",
        description=reader.text(data, "description", path, required=False),
        color=color,
        icon_url=reader.text(data, "icon_url", path, required=False, max_length=MAX_URL_LENGTH),
        lessons=[],
    )
    for lesson_index, raw_lesson in enumerate(reader.items(data, "lessons", path)):
        lesson = _parse_lesson(reader, raw_lesson, f"{path}.lessons[{lesson_index}]")
        if lesson is not None:
            unit.lessons.append(lesson)
    return unit


def _parse_lesson(reader: _Reader, raw: Any, path: str) -> DocLesson | None:
    data = reader.mapping(
        raw,
        path,
        {"key", "name", "description", "xp_reward", "estimated_minutes", "prerequisites", "exercises"},
        {"key", "name", "prerequisites", "exercises"},
    )
    if data is None:
        return None
    prerequisites = []
    for index, item in enumerate(reader.items(data, "prerequisites", path, non_empty=False)):
        if not isinstance(item, str):
            reader.error(f"{path}.prerequisites[{index}]", "must be a lesson key")
        else:
            prerequisites.append(item)
    lesson = DocLesson(
        key=reader.key(data, path),
        name=reader.text(data, "name", path, max_length=MAX_NAME_LENGTH) or "",
        description=reader.text(data, "description", path, required=False),
        xp_reward=reader.integer(data, "xp_reward", path, 20, low=0, high=10_000),
        estimated_minutes=reader.integer(data, "estimated_minutes", path, 5, low=1, high=600),
        prerequisites=prerequisites,
        entries=[],
        path=path,
    )
    for index, raw_entry in enumerate(reader.items(data, "exercises", path)):
        entry_path = f"{path}.exercises[{index}]"
        if isinstance(raw_entry, dict) and "use" in raw_entry:
            if set(raw_entry) != {"use"}:
                reader.error(entry_path, "a reuse entry has the single field `use` and cannot override fields")
            target = raw_entry["use"]
            if not isinstance(target, str):
                reader.error(f"{entry_path}.use", "must be an exercise key")
            else:
                lesson.entries.append(DocUse(target, entry_path))
            continue
        exercise = _parse_exercise(reader, raw_entry, entry_path)
        if exercise is not None:
            lesson.entries.append(exercise)
    return lesson


_COMMON_EXERCISE_FIELDS = {
    "key",
    "type",
    "prompt",
    "explanation",
    "hint",
    "difficulty_level",
    "estimated_seconds",
    "metadata",
}
_TYPE_FIELDS = {
    "translation": {"answer", "alternatives"},
    "listening": {"answer", "alternatives", "audio"},
    "multiple_choice": {"options"},
}
_TYPE_REQUIRED = {"translation": {"answer"}, "listening": {"answer", "audio"}, "multiple_choice": {"options"}}


def _parse_exercise(reader: _Reader, raw: Any, path: str) -> DocExercise | None:
    if not isinstance(raw, dict):
        reader.error(path, "must be a mapping (an exercise, or a reuse entry `use: <key>`)")
        return None
    kind = raw.get("type")
    if kind not in EXERCISE_TYPES:
        reader.mapping(raw, path, set(raw), {"key", "type", "prompt"})
        if "type" in raw:
            reader.error(f"{path}.type", f"must be one of {', '.join(EXERCISE_TYPES)}")
        return None
    data = reader.mapping(
        raw, path, _COMMON_EXERCISE_FIELDS | _TYPE_FIELDS[kind], {"key", "type", "prompt"} | _TYPE_REQUIRED[kind]
    )
    assert data is not None
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        reader.error(f"{path}.metadata", "must be a mapping")
        metadata = None
    elif metadata is not None:
        metadata = _as_stored_json(reader, metadata, f"{path}.metadata")
    exercise = DocExercise(
        key=reader.key(data, path),
        type=kind,
        prompt=reader.text(data, "prompt", path) or "",
        answer=reader.text(data, "answer", path) if "answer" in data else None,
        explanation=reader.text(data, "explanation", path, required=False),
        hint=reader.text(data, "hint", path, required=False),
        difficulty_level=reader.integer(data, "difficulty_level", path, 1, low=1, high=5),
        estimated_seconds=reader.integer(data, "estimated_seconds", path, 30, low=1, high=3600),
        metadata=metadata,
        path=path,
    )
    for index, alternative in enumerate(reader.items(data, "alternatives", path, non_empty=False)):
        if not isinstance(alternative, str) or not alternative.strip():
            reader.error(f"{path}.alternatives[{index}]", "must be a non-empty string")
        else:
            exercise.alternatives.append(alternative)
    if kind == "multiple_choice":
        _parse_options(reader, data, path, exercise)
    if kind == "listening":
        _parse_audio(reader, data, path, exercise)
    return exercise


def _as_stored_json(reader: _Reader, value: dict[Any, Any], path: str) -> dict[str, Any] | None:
    """The mapping as the JSONB column gives it back (a YAML date becomes its ISO string, a number key a
    string key), so that re-importing the same document compares equal to what is stored."""
    try:
        stored: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(value))
    except (msgspec.EncodeError, TypeError) as exc:
        reader.error(path, f"must be JSON-compatible ({exc})")
        return None
    return stored


def _parse_options(reader: _Reader, data: dict[str, Any], path: str, exercise: DocExercise) -> None:
    raw_options = reader.items(data, "options", path)
    for index, raw_option in enumerate(raw_options):
        option_path = f"{path}.options[{index}]"
        option = reader.mapping(raw_option, option_path, {"text", "correct"}, {"text"})
        if option is None:
            continue
        correct = option.get("correct", False)
        if not isinstance(correct, bool):
            reader.error(f"{option_path}.correct", "must be true or false")
            correct = False
        exercise.options.append(DocOption(reader.text(option, "text", option_path) or "", correct))
    if raw_options and not 3 <= len(raw_options) <= 4:
        reader.error(f"{path}.options", "must have 3 or 4 options")
    if raw_options and sum(option.correct for option in exercise.options) != 1:
        reader.error(f"{path}.options", "exactly one option must be correct")
    texts = [option.text.strip().casefold() for option in exercise.options]
    if len(set(texts)) != len(texts):
        reader.error(f"{path}.options", "options must have different texts")


def _parse_audio(reader: _Reader, data: dict[str, Any], path: str, exercise: DocExercise) -> None:
    for index, raw_audio in enumerate(reader.items(data, "audio", path)):
        audio_path = f"{path}.audio[{index}]"
        audio = reader.mapping(raw_audio, audio_path, {"file", "format", "quality"}, {"file", "format", "quality"})
        if audio is None:
            continue
        file_name = reader.text(audio, "file", audio_path) or ""
        file_format = reader.choice(audio, "format", audio_path, AUDIO_FORMATS)
        quality = reader.choice(audio, "quality", audio_path, AUDIO_QUALITIES)
        if file_format and file_name and not file_name.lower().endswith(f".{file_format}"):
            reader.error(f"{audio_path}.file", f"must end in .{file_format} (its format)")
        if file_format and quality:
            if any(a.format == file_format and a.quality == quality for a in exercise.audio):
                reader.error(audio_path, f"a second {quality} {file_format} recording")
            exercise.audio.append(DocAudio(file_name, file_format, quality, audio_path))
    qualities = {audio.quality for audio in exercise.audio}
    missing = [quality for quality in REQUIRED_QUALITIES if quality not in qualities]
    if exercise.audio and missing:
        reader.error(f"{path}.audio", f"needs a recording in {' and '.join(missing)} quality")


def _check_references(reader: _Reader, course: CourseDocument) -> None:
    """Key uniqueness, reuse entries and prerequisites (existence and cycles)."""
    _unique(reader, [(f"sections[{i}].key", s.key) for i, s in enumerate(course.sections)], "section")
    units = [
        (f"sections[{i}].units[{j}].key", unit.key)
        for i, section in enumerate(course.sections)
        for j, unit in enumerate(section.units)
    ]
    _unique(reader, units, "unit")
    lessons = course.lessons()
    _unique(reader, [(f"{lesson.path}.key", lesson.key) for lesson in lessons], "lesson")
    unit_keys = {key for _, key in units}
    for lesson in lessons:
        if lesson.key in unit_keys:
            reader.error(f"{lesson.path}.key", f"{lesson.key!r} is also a unit's key")
    exercises = course.exercises()
    _unique(reader, [(f"{exercise.path}.key", exercise.key) for exercise in exercises], "exercise")

    defined_in = {
        exercise.key: lesson.key
        for lesson in lessons
        for exercise in lesson.entries
        if isinstance(exercise, DocExercise)
    }
    for lesson in lessons:
        seen: set[str] = set()
        for entry in lesson.entries:
            key = entry.key if isinstance(entry, DocExercise) else entry.use
            if isinstance(entry, DocUse):
                if key not in defined_in:
                    reader.error(f"{entry.path}.use", f"no exercise of the course is defined with key {key!r}")
                elif defined_in[key] == lesson.key:
                    reader.error(f"{entry.path}.use", f"{key!r} is defined in this same lesson")
            if key in seen:
                reader.error(entry.path, f"exercise {key!r} appears twice in the lesson")
            seen.add(key)

    lesson_keys = {lesson.key for lesson in lessons}
    graph: dict[str, list[str]] = {}
    for lesson in lessons:
        graph.setdefault(lesson.key, [])
        for index, prerequisite in enumerate(lesson.prerequisites):
            where = f"{lesson.path}.prerequisites[{index}]"
            if prerequisite == lesson.key:
                reader.error(where, f"lesson {lesson.key!r} cannot depend on itself")
            elif prerequisite not in lesson_keys:
                reader.error(where, f"no lesson of the course has the key {prerequisite!r}")
            elif prerequisite not in graph[lesson.key]:
                graph[lesson.key].append(prerequisite)
    paths = {lesson.key: lesson.path for lesson in lessons}
    for cycle in find_cycles(graph):
        reader.error(
            f"{paths[cycle[0]]}.prerequisites",
            "prerequisite cycle between lessons: " + " → ".join([*cycle, cycle[0]]),
        )


def _unique(reader: _Reader, keyed: list[tuple[str, str]], what: str) -> None:
    first: dict[str, str] = {}
    for path, key in keyed:
        if not key:
            continue
        if key in first:
            reader.error(path, f"{what} key {key!r} is already used at {first[key].removesuffix('.key')}")
        else:
            first[key] = path


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each cycle once (as found by a depth-first search), its nodes in dependency order."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    cycles: list[list[str]] = []
    # Iterative, with each open node's remaining successors: a course's chain of lessons (each unlocking the
    # next) can be deeper than Python's recursion limit.
    stack: list[str] = []
    successors: list[Iterator[str]] = []

    def enter(node: str) -> None:
        colour[node] = grey
        stack.append(node)
        successors.append(iter(graph.get(node, [])))

    for root in graph:
        if colour[root] != white:
            continue
        enter(root)
        while stack:
            successor = next(successors[-1], None)
            if successor is None:
                colour[stack.pop()] = black
                successors.pop()
                continue
            state = colour.get(successor, black)
            if state == grey:
                cycles.append(stack[stack.index(successor) :])
            elif state == white:
                enter(successor)
    return cycles


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
