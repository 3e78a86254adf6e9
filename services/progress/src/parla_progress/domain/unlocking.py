"""Lesson statuses and unlocking (FR-10).

A lesson the learner has completed is ``completed``; one they have started and not completed is
``in_progress`` (even if its prerequisites changed since, so started work can be finished);
any other lesson is ``available`` when every one of its prerequisites is completed, and
``locked`` otherwise. A lesson without prerequisites is always at least ``available``.
"""

from collections.abc import Collection, Iterable
from collections.abc import Set as AbstractSet
from typing import Literal
from uuid import UUID

LessonStatus = Literal["locked", "available", "in_progress", "completed"]

# A lesson's id and the ids of the lessons it requires.
LessonPrerequisites = tuple[UUID, Collection[UUID]]


def lesson_statuses(
    lessons: Iterable[LessonPrerequisites],
    completed_ids: AbstractSet[UUID],
    in_progress_ids: AbstractSet[UUID],
) -> dict[UUID, LessonStatus]:
    """Each lesson's status for a learner, keyed by lesson id in the order given."""
    return {
        lesson_id: _status(lesson_id, prerequisite_ids, completed_ids, in_progress_ids)
        for lesson_id, prerequisite_ids in lessons
    }


def newly_unlocked(
    lessons: Collection[LessonPrerequisites],
    completed_ids: AbstractSet[UUID],
    in_progress_ids: AbstractSet[UUID],
    completed_lesson_id: UUID,
) -> list[UUID]:
    """The lessons that completing ``completed_lesson_id`` turns from locked to available.

    ``completed_ids`` and ``in_progress_ids`` describe the learner before that completion.
    """
    before = lesson_statuses(lessons, completed_ids, in_progress_ids)
    after = lesson_statuses(lessons, completed_ids | {completed_lesson_id}, in_progress_ids)
    return [lesson_id for lesson_id, status in before.items() if status == "locked" and after[lesson_id] == "available"]


def _status(
    lesson_id: UUID,
    prerequisite_ids: Collection[UUID],
    completed_ids: AbstractSet[UUID],
    in_progress_ids: AbstractSet[UUID],
) -> LessonStatus:
    if lesson_id in completed_ids:
        return "completed"
    if lesson_id in in_progress_ids:
        return "in_progress"
    if all(prerequisite_id in completed_ids for prerequisite_id in prerequisite_ids):
        return "available"
    return "locked"
