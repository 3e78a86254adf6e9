"""Reading a course document: YAML text to a checked ``CourseDocument`` (every problem listed at once)."""

from __future__ import annotations

from typing import Any

import msgspec
import yaml

from parla_curriculum.domain.document import (
    AUDIO_FORMATS,
    AUDIO_QUALITIES,
    CEFR_LEVELS,
    COLOR_PATTERN,
    DIFFICULTY_LEVELS,
    EXERCISE_TYPES,
    FORMAT,
    MAX_NAME_LENGTH,
    MAX_URL_LENGTH,
    REQUIRED_QUALITIES,
    CourseDocument,
    DocAudio,
    DocExercise,
    DocLesson,
    DocOption,
    DocSection,
    DocumentError,
    DocumentInvalidError,
    DocUnit,
    DocUse,
    Reader,
)
from parla_curriculum.domain.document_checks import check_references


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
    reader = Reader()
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
    check_references(reader, course)
    if reader.errors:
        raise DocumentInvalidError(reader.errors)
    return course


def _parse_unit(reader: Reader, raw: Any, path: str) -> DocUnit | None:
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


def _parse_lesson(reader: Reader, raw: Any, path: str) -> DocLesson | None:
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


def _parse_exercise(reader: Reader, raw: Any, path: str) -> DocExercise | None:
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


def _as_stored_json(reader: Reader, value: dict[Any, Any], path: str) -> dict[str, Any] | None:
    """The mapping as the JSONB column gives it back (a YAML date becomes its ISO string, a number key a
    string key), so that re-importing the same document compares equal to what is stored."""
    try:
        stored: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(value))
    except (msgspec.EncodeError, TypeError) as exc:
        reader.error(path, f"must be JSON-compatible ({exc})")
        return None
    return stored


def _parse_options(reader: Reader, data: dict[str, Any], path: str, exercise: DocExercise) -> None:
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


def _parse_audio(reader: Reader, data: dict[str, Any], path: str, exercise: DocExercise) -> None:
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
