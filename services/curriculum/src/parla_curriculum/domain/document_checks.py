"""A course document's cross-references: keys unique, reuse entries and prerequisites resolved, no cycles."""

from __future__ import annotations

from collections.abc import Iterator

from parla_curriculum.domain.document import (
    CourseDocument,
    DocExercise,
    DocUse,
    Reader,
)


def check_references(reader: Reader, course: CourseDocument) -> None:
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


def _unique(reader: Reader, keyed: list[tuple[str, str]], what: str) -> None:
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
